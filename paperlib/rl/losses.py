"""Masked statistics and the PPO-clip policy loss (token level, as verl's ``core_algos``)."""
from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim=None) -> torch.Tensor:
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / std over the masked entries of the whole batch (unbiased variance), as
    verl's ``masked_whiten``; entries outside the mask are returned as they come out."""
    mean = masked_mean(x, mask)
    n = mask.sum()
    var = masked_mean((x - mean) ** 2, mask) * (n / (n - 1)).clamp(min=1.0) if n > 1 else torch.zeros(())
    return (x - mean) * torch.rsqrt(var + eps)


def ppo_clip_loss(old_log_prob, log_prob, advantages, mask, clip: float = 0.2):
    """PPO-clip (Schulman et al. 2017, Eq. 7) per token, averaged over all response tokens of the
    batch: mean_t max(-A_t r_t, -A_t clip(r_t, 1-eps, 1+eps)), r_t = exp(log pi - log pi_old).

    At r_t = 1 its gradient is the policy gradient -mean_t A_t grad log pi(y_t). Returns
    (loss, fraction of tokens clipped, approximate KL to the old policy).
    """
    log_ratio = log_prob - old_log_prob
    ratio = torch.exp(log_ratio)
    loss1 = -advantages * ratio
    loss2 = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.max(loss1, loss2), mask)
    clipfrac = masked_mean((loss2 > loss1).float(), mask)
    approx_kl = masked_mean(-log_ratio, mask)
    return loss, clipfrac.detach(), approx_kl.detach()


def sequence_log_prob(token_log_prob: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log pi(y | x) = sum_t log pi(y_t | x, y_<t) over the response tokens: (B,)."""
    return (token_log_prob * mask.to(token_log_prob.dtype)).sum(-1)
