"""Claim statistics of the DAPO reproduction that are not one arm's plain per-seed value.

Comparisons between arms are paired per-seed differences that ``reproductions/dapo/claims.yaml`` takes
(``minus``) from the per-arm measurements the notebook records; the critic check's statistics come
from ``experiment.critic_check``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def seed_spread(values: Sequence[float]) -> dict:
    """Mean, standard deviation (ddof 1; 0 for one seed), min and max of one arm's per-seed values."""
    x = np.asarray(values, float)
    if not len(x):
        raise ValueError("no values")
    return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
            "min": float(x.min()), "max": float(x.max())}
