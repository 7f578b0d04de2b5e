"""Fair choices for every method (issue 14): initialisation seeds, restarts, and validation-only selection.

- :func:`restart_seeds`: the initialisation seeds of one fit, drawn from the *evaluation* seed on a stream of
  their own (``numpy.random.SeedSequence``), so they never coincide with the seed that made the fold's split.
- :func:`best_of_restarts`: fit the same model from ``n`` initialisations and keep the one with the best
  *training* fit (lowest training RMSE); every method gets the same ``n``. Test data are not an argument.
- :func:`select_on_validation`: every free choice (a binned baseline's resolution and ridge, FunBaT's
  lengthscale) is made on a validation split carved out of the training fold. The function receives only the
  training fold, so the test split cannot reach a choice.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

INIT_STREAM = 14  # a fixed spawn key separating initialisation seeds from split seeds


def restart_seeds(eval_seed: int, n_restarts: int) -> list[int]:
    """``n_restarts`` initialisation seeds derived from ``eval_seed`` (distinct from it and from each other)."""
    if n_restarts < 1:
        raise ValueError(f"n_restarts must be >= 1, got {n_restarts!r}")
    ss = np.random.SeedSequence([INIT_STREAM, int(eval_seed)])
    return [int(s) for s in ss.generate_state(n_restarts, dtype=np.uint32)]


def _rmse(p, y) -> float:
    return float(np.sqrt(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2)))


def best_of_restarts(make: Callable[[int], Any], seeds: Sequence[int], X: np.ndarray, y: np.ndarray):
    """Fit ``make(seed).fit(X, y)`` for every seed; return (the model with the lowest training RMSE, the RMSEs).

    The rule reads the training data only; ties keep the first seed.
    """
    if len(seeds) == 0:
        raise ValueError("need at least one restart seed")
    best, best_score, scores = None, np.inf, []
    for s in seeds:
        m = make(int(s)).fit(X, y)
        score = _rmse(m.predict(X), y)
        scores.append(score)
        if score < best_score:
            best, best_score = m, score
    return best, scores


def validation_split(n: int, val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(inner-train indices, validation indices) of a random split of ``n`` training entries."""
    if not 0 < val_frac < 1:
        raise ValueError(f"val_frac must be in (0, 1), got {val_frac!r}")
    if n < 2:
        raise ValueError(f"need at least 2 training entries to carve a validation split, got {n}")
    perm = np.random.default_rng(np.random.SeedSequence([INIT_STREAM + 1, int(seed)])).permutation(n)
    n_val = min(max(1, int(round(val_frac * n))), n - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def select_on_validation(candidates: Sequence[Any], fit_predict: Callable[[Any, np.ndarray, np.ndarray, np.ndarray], np.ndarray],
                         X_train: np.ndarray, y_train: np.ndarray, val_frac: float = 0.2, seed: int = 0):
    """The candidate with the lowest validation RMSE, and every candidate's validation RMSE.

    ``fit_predict(candidate, X_fit, y_fit, X_val)`` fits on the inner training part and predicts the
    validation part. Only the training fold is passed in: test data cannot reach the choice.
    """
    candidates = list(candidates)
    if not candidates:
        raise ValueError("no candidates to choose from")
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    if len(X_train) != len(y_train):
        raise ValueError(f"X_train has {len(X_train)} rows but y_train has {len(y_train)}")
    fit_idx, val_idx = validation_split(len(y_train), val_frac, seed)
    scores = [_rmse(fit_predict(c, X_train[fit_idx], y_train[fit_idx], X_train[val_idx]), y_train[val_idx])
              for c in candidates]
    return candidates[int(np.argmin(scores))], scores
