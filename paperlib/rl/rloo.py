"""RLOO returns over several reward sources, as PRIME's official ``compute_rloo_returns``
(PRIME-RL/PRIME, ``training/verl/trainer/ppo/core_algos.py``).

For each source separately: within each group of K rollouts of a prompt, every reward token of
rollout i becomes ``r * K/(K-1) - sum_j mean_j / (K-1)``, where ``mean_j`` is rollout j's mean
over its reward tokens. For a source with one reward per rollout (the verifier's, on the last
token) this is the leave-one-out baseline r_i - mean_{j != i} r_j (Kool et al. 2019; PRIME Eq. 5).
Each source is then turned into returns by a reverse cumulative sum with its gamma, the sources'
returns are summed, and the sum is whitened over all response tokens of the batch.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .losses import masked_whiten


def reverse_cumsum(x: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """G_t = x_t + gamma * G_{t+1} along the last axis."""
    if gamma == 1.0:
        return x.flip(-1).cumsum(-1).flip(-1)
    out = torch.zeros_like(x)
    running = torch.zeros_like(x[..., 0])
    for t in range(x.shape[-1] - 1, -1, -1):
        running = x[..., t] + gamma * running
        out[..., t] = running
    return out


def rloo_returns(sources: Sequence[tuple[torch.Tensor, torch.Tensor, float]], response_mask: torch.Tensor,
                 n_samples: int):
    """``sources``: (token rewards (B, L), reward mask (B, L), gamma) per reward source.

    Returns (advantages, returns), both (B, L): returns summed over sources, advantages the
    returns whitened over the batch's response tokens.
    """
    if n_samples < 2:
        raise ValueError("RLOO needs at least 2 samples per prompt")
    B = response_mask.shape[0]
    if B % n_samples:
        raise ValueError(f"batch of {B} rollouts is not a whole number of groups of {n_samples}")
    total = torch.zeros_like(response_mask, dtype=torch.float32)
    for rewards, reward_mask, gamma in sources:
        m = reward_mask.bool()
        r = torch.where(m, rewards.float(), torch.zeros_like(rewards, dtype=torch.float32))
        per_rollout_mean = r.sum(-1) / m.sum(-1).clamp(min=1)  # (B,)
        group_sum = per_rollout_mean.view(-1, n_samples).sum(-1)  # (B / K,)
        baseline = (group_sum / (n_samples - 1)).repeat_interleave(n_samples)[:, None]
        loo = r * (n_samples / (n_samples - 1)) - baseline
        total = total + reverse_cumsum(torch.where(m, loo, torch.zeros_like(loo)), gamma)
    return masked_whiten(total, response_mask), total
