"""The statistics FunBaT's claims read, as plain functions (the notebook records their per-seed values).

- :func:`recovery_correlation` (C1, Fig. 2 of the paper): how closely a learned factor function matches the true
  one. A latent function is identified only up to sign, scale (and, for R > 1, rotation), so the truth is
  regressed on the learned posterior means plus a constant and the correlation of fit and truth is returned
  (the multiple correlation).
- :func:`best_error` (C1, C2): the smallest error among matching result rows. The claims' arms have one row each
  (every choice made on validation data, :mod:`paperlib.funbat.selection`), so there it is a lookup; the
  synthetic figure's per-grid diagnostic uses it as a minimum over ranks on test (never a claim's arm).
- :func:`loglog_slope` (C3, cost linear in N): the least-squares slope of log(seconds per epoch) on log(N).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np


def recovery_correlation(learned: np.ndarray, truth: np.ndarray) -> tuple[float, np.ndarray]:
    """(multiple correlation of ``truth`` with ``[learned, 1]``, the least-squares coefficients).

    ``learned``: (T,) or (T, R) posterior means on a grid; ``truth``: (T,) true function on the same grid.
    The coefficients map the learned curves onto the truth (the last one is the constant), for plotting.
    """
    learned = np.asarray(learned, dtype=float)
    truth = np.asarray(truth, dtype=float)
    A = np.column_stack([learned.reshape(len(truth), -1), np.ones(len(truth))])
    coef, *_ = np.linalg.lstsq(A, truth, rcond=None)
    fit = A @ coef
    if np.std(truth) == 0 or np.std(fit) <= 1e-12 * np.std(truth):  # a flat fit explains nothing
        return 0.0, coef
    return float(np.corrcoef(fit, truth)[0, 1]), coef


def best_error(rows: Iterable[Mapping], metric: str, **match) -> float:
    """The smallest ``metric`` among the ``rows`` whose fields equal ``match`` (e.g. the best grid of a baseline).

    Raises ``ValueError`` when no row matches, so that a misspelt method name is not a silent ``inf``.
    """
    vals = [r[metric] for r in rows if all(r.get(k) == v for k, v in match.items())]
    if not vals:
        raise ValueError(f"no rows match {match}")
    return float(min(vals))


def loglog_slope(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """The least-squares slope of log(seconds) against log(size): 1 for a cost linear in the size."""
    if len(sizes) != len(seconds) or len(sizes) < 2:
        raise ValueError(f"need at least two (size, seconds) pairs, got {len(sizes)} sizes and {len(seconds)} times")
    return float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float)), 1)[0])
