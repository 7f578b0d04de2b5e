"""The per-seed values MPT's claims read, from the grid's cells (``{(task, K, seed): cell}``, each cell with
``cell["f1"][method]`` = test macro-F1).

The paper reports its gains "on average" over tasks under low-resource settings (abstract: +5 macro-F1 over
fine-tuning, +6 over other semi-supervised methods), so a method's per-seed value is its macro-F1 averaged over
the tasks and the K values run (:func:`per_seed_f1`); claims.yaml then compares two methods by paired per-seed
differences (same seeds, same labelled examples). :func:`gain_over` is one method's per-seed gain over another at a
single K (averaged over tasks), for the check that the gain shrinks as K grows.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _f1(cells: Mapping[tuple, dict], task: str, k: int, seed: int, method: str) -> float:
    try:
        return float(cells[(task, k, seed)]["f1"][method])
    except KeyError as err:
        raise KeyError(f"no macro-F1 for task {task!r}, K={k}, seed {seed}, method {method!r}: {err}") from None


def per_seed_f1(cells: Mapping[tuple, dict], method: str, tasks: Sequence[str], ks: Sequence[int],
                seeds: Sequence[int]) -> list[float]:
    """For each seed, ``method``'s macro-F1 averaged over ``tasks`` and ``ks``."""
    return [float(np.mean([_f1(cells, t, k, s, method) for t in tasks for k in ks])) for s in seeds]


def gain_over(cells: Mapping[tuple, dict], method: str, baseline: str, tasks: Sequence[str], k: int,
              seeds: Sequence[int]) -> list[float]:
    """For each seed, ``method`` minus ``baseline`` in macro-F1 at one K, averaged over ``tasks``."""
    return [float(np.mean([_f1(cells, t, k, s, method) - _f1(cells, t, k, s, baseline) for t in tasks]))
            for s in seeds]
