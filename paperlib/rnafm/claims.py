"""The per-seed numbers RNA-FM's claims are judged on: plain functions, unit-tested, no notebook arithmetic.

The clustering claim (the paper's Fig. 2: embeddings separate RNA families and types) is confounded at
this scale: families differ in length and base composition, and mean-pooled embeddings of *any* network
with learned positions encode the length (log length alone gives a family silhouette of 0.21, above the
pretrained model's raw 0.11; issue 18). :func:`controlled_silhouette` removes that: every pooled feature
is regressed on log length and GC content (ordinary least squares with an intercept, over the map set)
and the silhouette is computed on the residuals, so a representation scores only for what it knows
beyond length and composition. :func:`length_gc_silhouette` is the confound itself, reported beside it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def length_gc(seqs: Sequence[str]) -> np.ndarray:
    """(n, 2): log sequence length and GC fraction of each sequence (the two confounds)."""
    if not len(seqs):
        raise ValueError("no sequences")
    out = np.empty((len(seqs), 2))
    for k, s in enumerate(seqs):
        if not s:
            raise ValueError(f"sequence {k} is empty")
        out[k] = np.log(len(s)), sum(c in "GC" for c in s) / len(s)
    return out


def residualise(x: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """Residuals of every column of ``x`` after least squares on ``covariates`` plus an intercept."""
    x = np.asarray(x, float)
    covariates = np.asarray(covariates, float)
    if len(covariates) != len(x):
        raise ValueError(f"{len(x)} feature rows but {len(covariates)} covariate rows")
    z = np.column_stack([np.ones(len(x)), covariates])
    beta, *_ = np.linalg.lstsq(z, x, rcond=None)
    return x - z @ beta


def silhouette(x: np.ndarray, labels) -> float:
    """Silhouette of ``labels`` in the standardised feature space (Euclidean); constant columns are dropped."""
    from sklearn.metrics import silhouette_score

    x = np.asarray(x, float)
    sd = x.std(0)
    keep = sd > 1e-12 * max(float(np.abs(x).max()), 1.0)
    if not keep.any():
        return 0.0
    z = (x[:, keep] - x[:, keep].mean(0)) / sd[keep]
    return float(silhouette_score(z, np.asarray(labels)))


def controlled_silhouette(x: np.ndarray, labels, seqs: Sequence[str]) -> float:
    """Silhouette by ``labels`` of the features ``x`` after regressing out log length and GC content."""
    return silhouette(residualise(x, length_gc(seqs)), labels)


def length_gc_silhouette(labels, seqs: Sequence[str]) -> float:
    """The confound: the silhouette of log length and GC content alone."""
    return silhouette(length_gc(seqs), labels)


def pair_gap(acc: dict) -> float:
    """Masked-token accuracy at paired minus at unpaired positions (:func:`paperlib.rnafm.mlm.masked_accuracy`
    with ``pairs``): a model that predicts a paired base from its partner widens this gap beyond what a
    table of local context shows (paired positions also differ in composition, so compare gaps)."""
    return float(acc["paired"] - acc["unpaired"])
