"""Claim statistics of the PRIME reproduction that are not one arm's plain per-seed value.

Comparisons between arms are paired per-seed differences taken by ``reproductions/prime/claims.yaml``
(``minus``) from the per-arm measurements the notebook records. The step ratio and the early/late
change live in ``experiment`` (``sample_efficiency_ratio``, ``early_late_change``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def final_accuracy(train_acc: Sequence[float], window: int) -> float:
    """Training accuracy at the end of a run: the mean over its last ``window`` steps."""
    x = np.asarray(train_acc, float)
    if len(x) == 0 or window < 1:
        raise ValueError("need at least one step and a window >= 1")
    return float(x[-window:].mean())


def mean_over_training(series: Sequence[float]) -> float:
    """Mean of a per-step series over training, skipping steps without a value (NaN), e.g. the PRM's
    pairwise accuracy on steps whose rollouts held no correct/wrong pair. NaN when no step has one."""
    x = np.asarray(series, float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else float("nan")
