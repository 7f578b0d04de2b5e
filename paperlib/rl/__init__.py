"""Shared pieces of reinforcement learning on language models (token-level tensors).

Conventions: rewards, log-probs and masks are (B, L) over response tokens, ``mask`` 1 for real
response tokens; the B rollouts come in groups of ``n_samples`` consecutive rows per prompt.
"""
from .losses import masked_mean, masked_whiten, ppo_clip_loss, sequence_log_prob
from .rloo import reverse_cumsum, rloo_returns

__all__ = ["masked_mean", "masked_whiten", "ppo_clip_loss", "reverse_cumsum", "rloo_returns",
           "sequence_log_prob"]
