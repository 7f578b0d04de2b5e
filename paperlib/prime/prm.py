"""The implicit process reward model of PRIME (Cui et al. 2025), as the official
``training/verl/workers/actor/dp_prime.py`` computes and trains it.

A PRM is a causal LM pi_phi (initialised from the SFT model) read against a frozen reference
pi_ref (the SFT model). Per token (``prime_granularity: token``) the process reward is

    q_t = log pi_phi(y_t | y_<t) - log pi_ref(y_t | y_<t)                       (paper Eq. 3)

and the PRM is trained on outcome labels only, with the cross-entropy loss

    L_CE = BCE(sigmoid(beta * sum_t q_t), r_o(y)),  beta = 0.05                 (paper Eq. 4)

(``compute_ce_dpo_loss_rm``). Before entering the returns the token scores are divided by the
largest absolute reverse cumulative sum in the batch (``prime_norm: batch_norm``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def implicit_process_reward(prm_log_prob: torch.Tensor, ref_log_prob: torch.Tensor, mask: torch.Tensor):
    """q_t = log pi_phi - log pi_ref per response token, zero outside ``mask``: (B, L)."""
    return (prm_log_prob - ref_log_prob) * mask.to(prm_log_prob.dtype)


def prm_loss(q: torch.Tensor, acc: torch.Tensor, mask: torch.Tensor, beta: float = 0.05) -> torch.Tensor:
    """Cross-entropy of sigmoid(beta * sum_t q_t) against the 0/1 outcome label, batch mean."""
    score = (q * mask.to(q.dtype)).sum(-1) * beta
    return F.binary_cross_entropy_with_logits(score, acc.to(score.dtype))


def batch_norm_scores(scores: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``prime_norm: batch_norm``: scores / (max |reverse cumsum| over the batch + eps), which keeps
    the process returns within [-1, 1] while preserving their relative values."""
    rcs = scores.flip(-1).cumsum(-1).flip(-1)
    return scores / (rcs.abs().max() + eps)


def pairwise_accuracy(scores: torch.Tensor, acc: torch.Tensor, mask: torch.Tensor, n_samples: int) -> float:
    """The official ``dpo_acc``: within each prompt's group, the fraction of rollout pairs with
    different outcomes that the summed process reward orders correctly (groups with no such pair
    count 0.5), averaged over groups."""
    total = (scores * mask.to(scores.dtype)).sum(-1).view(-1, n_samples)
    a = acc.float().view(-1, n_samples)
    iu = torch.triu_indices(n_samples, n_samples, offset=1)
    d_score = (total[:, :, None] - total[:, None, :])[:, iu[0], iu[1]]
    d_acc = (a[:, :, None] - a[:, None, :])[:, iu[0], iu[1]]
    w = d_acc.abs()
    right = (((d_score > 0) == (d_acc > 0)).float() * w).sum(-1)
    per_group = torch.where(w.sum(-1) > 0, right / w.sum(-1).clamp(min=1e-12), torch.full_like(right, 0.5))
    return float(per_group.mean())


def accuracy_filter(acc: torch.Tensor, n_samples: int, low: float = 0.2, high: float = 0.8) -> torch.Tensor:
    """Prompts (groups of ``n_samples`` rollouts) whose accuracy lies in [low, high]: a boolean mask
    over prompts (``data.filter_accuracy`` with ``accuracy_lower_bound``/``upper_bound``)."""
    group_acc = acc.float().view(-1, n_samples).mean(-1)
    return (group_acc >= low) & (group_acc <= high)
