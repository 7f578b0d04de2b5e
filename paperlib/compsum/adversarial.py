"""Adversarial attack, robust evaluation and the adversarial training objectives compared in
Mao, Mohri, Zhong, "Cross-Entropy Loss Functions: Theoretical Analysis and Applications" (arXiv 2304.07288),
Section 6 (adversarial robustness): ADV-COMP-SUM against TRADES (Zhang et al., 2019) and PGD adversarial
training (Madry et al., 2018).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .losses import comp_sum_loss

OBJECTIVES = ("ce", "margin", "kl", "logit_l2")


def _project(x_adv: torch.Tensor, x: torch.Tensor, epsilon: float, clip) -> torch.Tensor:
    x_adv = torch.min(torch.max(x_adv, x - epsilon), x + epsilon)
    return x_adv if clip is None else x_adv.clamp(*clip)


def _start(x, epsilon, objective, random_start, clip, generator):
    if epsilon == 0 or not random_start:
        return x.clone()
    if objective == "kl":
        # TRADES' official start: a tiny Gaussian kick, since KL(h(x) || h(x)) has zero gradient at x.
        noise = 0.001 * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    else:
        noise = (2 * torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) - 1) * epsilon
    return _project(x + noise, x, epsilon, clip)


def _objective(logits, y, ref, objective):
    # Summed over the batch, so each example's input gradient is its own objective's gradient.
    if objective == "ce":
        return F.cross_entropy(logits, y, reduction="sum")
    if objective == "margin":
        # max_{j != y} h_j - h_y (Carlini & Wagner's margin; Gowal et al.'s validation attack)
        true = logits.gather(1, y[:, None]).squeeze(1)
        other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
        return (other - true).sum()
    if objective == "kl":
        return F.kl_div(F.log_softmax(logits, dim=1), F.softmax(ref, dim=1), reduction="sum")
    # ||h(x') - h(x)||^2 has the same signed gradient as the norm and no sqrt singularity at x' = x.
    return (logits - ref).pow(2).sum()


def _pgd(model, x, y, epsilon, step_size, steps, objective, random_start, clip, generator, track=False):
    """L-inf PGD; with ``track`` also returns which examples some iterate (start included) misclassified."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    was_training = model.training
    model.eval()
    # Lightning evaluates under inference_mode; the attack needs autograd on the inputs whatever the caller.
    with torch.inference_mode(False), torch.enable_grad():
        try:
            x, y = x.detach().clone(), y.clone()
            ref = None
            if objective in ("kl", "logit_l2"):
                with torch.no_grad():
                    ref = model(x)
            x_adv = _start(x, epsilon, objective, random_start, clip, generator)
            fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
            for _ in range(steps if epsilon > 0 else 0):
                x_adv.requires_grad_(True)
                logits = model(x_adv)
                fooled |= logits.detach().argmax(1) != y
                # Gradient w.r.t. the input only: the model's parameter .grad are never touched.
                (grad,) = torch.autograd.grad(_objective(logits, y, ref, objective), x_adv)
                x_adv = _project(x_adv.detach() + step_size * grad.sign(), x, epsilon, clip)
            if track:
                # The same forward path as inside the loop, so a longer attack re-checks this iterate bit for bit.
                fooled |= model(x_adv.requires_grad_(True)).detach().argmax(1) != y
        finally:
            model.train(was_training)
    return x_adv.detach(), fooled


def pgd_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step_size: float, steps: int,
               objective: str = "ce", random_start: bool = True, clip=(0.0, 1.0),
               generator: torch.Generator | None = None) -> torch.Tensor:
    """L-inf projected gradient ascent (Madry et al., 2018) on ``objective``; returns a detached x_adv.

    ``objective``: "ce" (cross-entropy against y: PGD training), "margin" (max_{j != y} h_j - h_y: the
    validation attack), "kl" (KL(h(x) || h(x')):
    TRADES, started at x + 0.001 N(0, I) as in its official code), "logit_l2" (||h(x') - h(x)||_2: the
    supremum in the smooth adversarial comp-sum loss). Each step: x' <- Proj(x' + step_size sign(grad)),
    onto the epsilon-ball around x and then ``clip``. The model runs in eval mode; its mode is restored.
    """
    if epsilon == 0 or steps == 0:
        return x.detach().clone()
    return _pgd(model, x, y, epsilon, step_size, steps, objective, random_start, clip, generator)[0]


@torch.no_grad()
def clean_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of (x, y) that ``model`` classifies correctly (eval mode, restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        correct = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    finally:
        model.train(was_training)
    return correct / len(x)


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step_size: float,
                    steps: int, batch_size: int = 1000, generator: torch.Generator | None = None,
                    objective: str = "ce") -> float:
    """Fraction of examples that PGD on ``objective`` ("ce" or "margin", random start) fails to break at
    radius ``epsilon``: the cheap attack used on validation data (model selection, early stopping); test
    robust accuracy comes from :mod:`paperlib.compsum.robustness` (AutoAttack and its parts).

    An example counts as robust only if the start and every iterate are classified correctly, so with the
    same generator seed more steps never raise it, it never exceeds clean accuracy, and epsilon = 0 gives
    the clean accuracy.
    """
    robust = 0
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        robust += int(pgd_robust_examples(model, xb, yb, epsilon, step_size, steps, generator, objective).sum())
    return robust / len(x)


def pgd_robust_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step_size: float,
                        steps: int, generator: torch.Generator | None = None, objective: str = "ce") -> torch.Tensor:
    """Per example: True when neither the random start nor any PGD iterate is misclassified."""
    if objective not in ("ce", "margin"):
        raise ValueError(f"robust accuracy attacks 'ce' or 'margin', got {objective!r}")
    _, fooled = _pgd(model, x, y, epsilon, step_size, steps, objective, True, (0.0, 1.0), generator, track=True)
    return ~fooled


def adv_comp_sum_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tau: float, nu: float, epsilon: float,
                      step_size: float, steps: int) -> torch.Tensor:
    """Smooth adversarial comp-sum loss (ADV-COMP-SUM, Section 6):

        l_tau(h, x, y) + nu * sup_{||x' - x||_inf <= epsilon} ||h(x') - h(x)||_2,

    the supremum approximated by PGD on "logit_l2"; gradients flow through h(x) and h(x'), not x'.
    """
    if nu == 0:
        return comp_sum_loss(model(x), y, tau)
    x_adv = pgd_attack(model, x, y, epsilon, step_size, steps, objective="logit_l2")
    logits = model(x)
    return comp_sum_loss(logits, y, tau) + nu * (model(x_adv) - logits).norm(dim=1).mean()


def trades_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, beta: float, epsilon: float, step_size: float,
                steps: int) -> torch.Tensor:
    """TRADES (Zhang et al., 2019, yaodongyu/TRADES trades.py): CE(h(x), y) + beta * KL(h(x) || h(x')),
    the KL summed and divided by the batch size as in the official ``(1/batch) * KLDivLoss(sum)``."""
    if beta == 0:
        return F.cross_entropy(model(x), y)
    x_adv = pgd_attack(model, x, y, epsilon, step_size, steps, objective="kl")
    logits = model(x)
    kl = F.kl_div(F.log_softmax(model(x_adv), dim=1), F.softmax(logits, dim=1), reduction="sum") / len(x)
    return F.cross_entropy(logits, y) + beta * kl


def pgd_training_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step_size: float,
                      steps: int) -> torch.Tensor:
    """PGD adversarial training (Madry et al., 2018): CE(h(x_adv), y), x_adv from PGD-"ce" with random start."""
    return F.cross_entropy(model(pgd_attack(model, x, y, epsilon, step_size, steps, "ce", random_start=True)), y)
