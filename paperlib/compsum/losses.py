"""Comp-sum losses (Mao, Mohri, Zhong, ICML 2023, arXiv 2304.07288, Section 2 / Eq. (1)).

The family is

    l_tau(h, x, y) = Phi_tau( sum_{y' != y} exp(h(x, y') - h(x, y)) ),
    Phi_tau(u) = ((1 + u)^(1 - tau) - 1) / (1 - tau)   (tau != 1),   log(1 + u)   (tau = 1),

which covers the sum-exponential loss (tau = 0), the logistic / cross-entropy loss (tau = 1), the
generalised cross-entropy (tau in (1, 2)) and the mean absolute error loss (tau = 2).
Since 1 + u = 1 / p_y with p_y = softmax(h(x))_y, l_tau = (1 - p_y^(tau - 1)) / (tau - 1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def phi_tau(u: torch.Tensor, tau: float) -> torch.Tensor:
    """Phi_tau(u) exactly as the paper writes it (Eq. (1)); the reference, not the stable path."""
    if float(tau) == 1.0:
        return torch.log1p(u)
    return ((1 + u) ** (1 - tau) - 1) / (1 - tau)


def comp_sum_loss(logits: torch.Tensor, target: torch.Tensor, tau: float, reduction: str = "mean") -> torch.Tensor:
    """The comp-sum loss l_tau of ``logits`` (N, C) against integer ``target`` (N,).

    Computed from log p_y as -expm1((tau - 1) log p_y) / (tau - 1): for tau >= 1 the exponent is <= 0,
    so loss and gradient stay finite for any finite logits; for tau < 1 the loss is exponential in the
    margin by definition and may reach +inf only where the true value exceeds the float range.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    tau = float(tau)
    logp_y = F.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    loss = -logp_y if tau == 1.0 else -torch.expm1((tau - 1) * logp_y) / (tau - 1)
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()
