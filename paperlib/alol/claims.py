"""Claim statistics of the A-LoL reproduction that are not one arm's plain per-seed value.

Comparisons between arms are paired per-seed differences taken by ``reproductions/alol/claims.yaml``
(``minus``) from the per-arm measurements the notebook records; what needs more than a difference
lives here, where tests reach it.
"""
from __future__ import annotations

from typing import Mapping, Sequence


def final_minus_best(history: Mapping[str, Sequence[float]]) -> float:
    """Dev reward at a run's last evaluation minus the best dev reward the run saw.

    ``history["dev_reward"]`` starts with the reference's dev reward (step 0) and adds one value per
    evaluation. 0 when training ended at its best point; negative when it fell back from a better one,
    so a collapse during training shows as a large negative value (the stability check X2).
    """
    rewards = [float(r) for r in history["dev_reward"]]
    if not rewards:
        raise ValueError("the history has no dev-reward evaluation")
    return rewards[-1] - max(rewards)
