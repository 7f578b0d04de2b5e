"""A-LoL and its baselines as losses over whole responses (Baheti et al., ICLR 2024), as the
official code computes them (abaheti95/LoL-RL, ``lolrl_qlora_llama_hh.py`` and
``train_generation_task_with_off_policy_PG.py``).

Conventions, as the official code: the whole response is one action; ``logp`` is the policy's
per-token log-probability of the data response (B, L), ``ref_logp`` the frozen reference's, ``mask``
marks response tokens. NLL_seq = -sum_t logp_t (a sum over tokens); each loss is a per-sequence
weight times a (weighted) NLL, averaged over the sequences of the batch. Importance ratios are
computed from detached log-probs and clamped to [1 - eps, 1 + eps] (eps = 0.9): a constant weight,
not PPO's min-clip surrogate. Advantages enter as A+ = max(A, 0), so an example with negative
advantage contributes no gradient (the official code also drops it from sampling).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

METHODS = ("nll", "wnll", "r_gold", "r_lol", "a_lol", "a_lol_seq", "a_lol_kl", "a_lol_ref_free")


def _nll_tokens(logp, mask):
    return -logp * mask.to(logp.dtype)


def sequence_ratio(logp, ref_logp, mask):
    """pi_theta(y|x) / pi_ref(y|x) from detached log-probs: (B,)."""
    m = mask.to(logp.dtype)
    return torch.exp(((logp.detach() - ref_logp) * m).sum(-1))


def alol_loss(method: str, logp, mask, reward=None, advantage=None, ref_logp=None, eps: float = 0.9,
              kl_beta: float = 0.2, gold_floor: float = 0.1):
    """The loss of ``method`` (one of ``METHODS``) on a batch of offline (x, y) pairs.

    - ``nll``: NLL_seq
    - ``wnll``: R * NLL_seq (weighted behaviour cloning)
    - ``r_gold``: R * sum_t max(pi_theta(y_t), u) NLL_t, u = 0.1, pi_theta detached (GOLD, Pang & He 2021)
    - ``r_lol``: R * clamp(r, 1-eps, 1+eps) * NLL_seq, r = pi_theta(y|x) / pi_ref(y|x) detached
    - ``a_lol``: A+ * clamp(r, 1-eps, 1+eps) * NLL_seq (paper Eq. 3 with the clipped ratio)
    - ``a_lol_seq``: A+ * sum_t clamp(r_t, 1-eps, 1+eps) * NLL_t, per-token ratios
    - ``a_lol_kl``: A+ * NLL_seq + kl_beta * (log pi_theta(y|x) - log pi_ref(y|x))
    - ``a_lol_ref_free``: A+ * NLL_seq (no ratio, no reference)
    """
    if method not in METHODS:
        raise ValueError(f"unknown A-LoL method {method!r}; valid: {METHODS}")
    nll_t = _nll_tokens(logp, mask)
    nll_seq = nll_t.sum(-1)
    if method == "nll":
        return nll_seq.mean()
    if method in ("wnll", "r_gold", "r_lol"):
        if reward is None:
            raise ValueError(f"{method} needs the rewards")
        w = reward.to(logp.dtype)
        if method == "wnll":
            return (w * nll_seq).mean()
        if method == "r_gold":
            p = torch.exp(logp.detach()).clamp(min=gold_floor)
            return (w * (p * nll_t).sum(-1)).mean()
        return (w * sequence_ratio(logp, ref_logp, mask).clamp(1 - eps, 1 + eps) * nll_seq).mean()
    if advantage is None:
        raise ValueError(f"{method} needs the advantages")
    a = advantage.to(logp.dtype).clamp(min=0.0)
    if method == "a_lol_ref_free":
        return (a * nll_seq).mean()
    if ref_logp is None:
        raise ValueError(f"{method} needs the reference log-probs")
    if method == "a_lol":
        return (a * sequence_ratio(logp, ref_logp, mask).clamp(1 - eps, 1 + eps) * nll_seq).mean()
    if method == "a_lol_seq":
        m = mask.to(logp.dtype)
        r_t = torch.exp(logp.detach() - ref_logp).clamp(1 - eps, 1 + eps) * m
        return (a * (r_t * nll_t).sum(-1)).mean()
    # a_lol_kl: a single-sample estimate of KL(pi_theta || pi_ref) on the data response
    m = mask.to(logp.dtype)
    log_ratio = ((logp - ref_logp) * m).sum(-1)
    return (a * nll_seq).mean() + kl_beta * log_ratio.mean()


def dpo_loss(chosen_logp, rejected_logp, ref_chosen_logp, ref_rejected_logp, beta: float = 0.1):
    """DPO (Rafailov et al. 2023) on sequence log-probs (sums over response tokens), beta = 0.1 as the
    official ``dpo_qlora_llama_hh.py``."""
    logits = beta * ((chosen_logp - rejected_logp) - (ref_chosen_logp - ref_rejected_logp))
    return -F.logsigmoid(logits).mean()
