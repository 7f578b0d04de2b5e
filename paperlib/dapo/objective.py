"""Stage B of DAPO and the outcome-only baseline: offline actor objectives on reference-policy samples.

DAPO (paper Section 3): the KL-regularised step-level objective max_pi E[A(s, a)] - beta KL(pi || pi_ref)
has the solution pi*(a|s) proportional to pi_ref(a|s) exp(A(s, a) / beta). DAPO fits the actor's step
log-ratio to the scaled advantage with a quadratic loss over (state, next step) pairs sampled from pi_ref:

    L_DAPO(theta) = E_{s, a ~ pi_ref} [ ( log pi_theta(a|s) - log pi_ref(a|s) - A(s, a) / beta )^2 ],
    A(s, a) = V_phi(s + a) - V_phi(s)   (V of a finished solution: the verifier's reward),

with the critic V_phi trained beforehand and frozen (``dapo_loss``; log pi(a|s) is the sum over the
step's tokens). The loss written out here is our reading of the paper's objective, see REPORT.md.

DPO (Rafailov et al. 2023), the outcome-only offline alignment the paper contrasts DAPO with: pairs
(y+, y-) of complete solutions to one prompt, y+ accepted by the verifier and y- not,

    L_DPO(theta) = -log sigma( beta [ (log pi_theta(y+) - log pi_ref(y+)) - (log pi_theta(y-) - log pi_ref(y-)) ] )
(``dpo_loss``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def dapo_loss(policy_logp: torch.Tensor, ref_logp: torch.Tensor, advantages: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean over pairs of (log pi_theta(a|s) - log pi_ref(a|s) - A / beta)^2; each argument (B,)."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    return ((policy_logp - ref_logp - advantages / beta) ** 2).mean()


def dpo_loss(pol_chosen: torch.Tensor, pol_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean DPO loss over pairs of sequence log-probabilities (each (B,))."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    margin = (pol_chosen - ref_chosen) - (pol_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


def sequence_logp(token_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the masked token log-probabilities per row: (B,)."""
    return (token_logp * mask.to(token_logp.dtype)).sum(-1)
