"""The per-seed numbers the paper's claims are judged on, computed from the rows of
:mod:`paperlib.compsum.experiment` (plain functions, unit-tested; no notebook arithmetic).

Every function returns one value per seed, in the order of ``seeds``, so that two arms measured on the
same seeds can be compared as a paired difference (claims.yaml's ``minus``). Every choice made here
(which tau, which nu or beta) is made on validation numbers, never on test numbers.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .experiment import CE_TAU, MAE_TAU


def _one(rows: Sequence[dict], **match) -> dict:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    if len(found) != 1:
        raise KeyError(f"expected one row with {match}, found {len(found)}")
    return found[0]


# ---------------------------------------------------------------- class-count study

def mixture_acc(rows: Sequence[dict], n_classes: int, tau: float, seeds: Sequence[int],
                key: str = "test_acc") -> list[float]:
    """Accuracy of the loss l_tau at ``n_classes``, per seed (one learning rate per (classes, tau, seed))."""
    return [_one(rows, classes=n_classes, tau=tau, seed=s)[key] for s in seeds]


def best_tau_per_seed(rows: Sequence[dict], n_classes: int, taus: Sequence[float], seeds: Sequence[int]) -> list[float]:
    """Per seed, the tau with the highest *validation* accuracy (ties: the first in ``taus``)."""
    out = []
    for s in seeds:
        val = [_one(rows, classes=n_classes, tau=t, seed=s)["val_acc"] for t in taus]
        out.append(float(taus[int(np.argmax(val))]))
    return out


def mixture_measurements(rows: Sequence[dict], class_counts: Sequence[int], taus: Sequence[float],
                         seeds: Sequence[int]) -> dict[str, list[float]]:
    """For each number of classes C, per seed:

    - ``ce_acc_cC``: test accuracy of cross-entropy (tau = 1);
    - ``best_tau_acc_cC``: test accuracy of the tau picked on that seed's validation split;
    - ``mae_acc_cC``: test accuracy of the mean absolute error loss (tau = 2);
    - ``mae_gap_cC`` = ce_acc_cC - mae_acc_cC, MAE's gap to cross-entropy (whose growth with C the
      paper's bounds predict; claims.yaml compares the gaps of two class counts seed by seed);
    - ``bayes_acc_cC``: the mixture's Bayes accuracy (a Monte-Carlo estimate), to check the calibration.
    """
    out: dict[str, list[float]] = {}
    for C in class_counts:
        out[f"bayes_acc_c{C}"] = mixture_acc(rows, C, taus[0], seeds, key="bayes_acc")
        ce = mixture_acc(rows, C, CE_TAU, seeds) if CE_TAU in taus else None
        if ce is not None:
            out[f"ce_acc_c{C}"] = ce
            picked = best_tau_per_seed(rows, C, taus, seeds)
            out[f"best_tau_acc_c{C}"] = [_one(rows, classes=C, tau=t, seed=s)["test_acc"] for t, s in zip(picked, seeds)]
        if MAE_TAU in taus:
            out[f"mae_acc_c{C}"] = mae = mixture_acc(rows, C, MAE_TAU, seeds)
            if ce is not None:
                out[f"mae_gap_c{C}"] = [a - b for a, b in zip(ce, mae)]
    return out


# ---------------------------------------------------------------- adversarial study

def selected_on_validation(rows: Sequence[dict], family: str, seeds: Sequence[int],
                           key: str = "val_robust") -> list[dict]:
    """Per seed, the row of ``family`` (e.g. "trades") with the best validation robust accuracy, as the
    paper selects its models (ties: the first row in ``rows``' order)."""
    out = []
    for s in seeds:
        cands = [r for r in rows if r["family"] == family and r["seed"] == s]
        if not cands:
            raise KeyError(f"no {family} rows for seed {s}")
        out.append(max(cands, key=lambda r: r[key]))  # max keeps the first of equal values
    return out


def robust_at_clean(clean: Sequence[float], robust: Sequence[float], at: float | Sequence[float]) -> np.ndarray:
    """A trade-off curve's robust accuracy at clean accuracy ``at``: linear interpolation between the
    curve's points sorted by clean accuracy (NaN outside the curve's clean-accuracy range)."""
    c, r = np.asarray(clean, float), np.asarray(robust, float)
    order = np.argsort(c, kind="stable")
    c, r = c[order], r[order]
    at = np.atleast_1d(np.asarray(at, float))
    out = np.interp(at, c, r)
    out[(at < c[0]) | (at > c[-1])] = np.nan
    return out


def matched_clean_robust(curve_a: tuple[Sequence[float], Sequence[float]],
                         curve_b: tuple[Sequence[float], Sequence[float]],
                         points: int = 101) -> tuple[float, float, tuple[float, float]]:
    """Robust accuracy of two trade-off curves at matched clean accuracy: each curve's interpolated robust
    accuracy (:func:`robust_at_clean`) averaged over ``points`` equally spaced clean accuracies spanning the
    range both curves cover. Returns (robust_a, robust_b, (lo, hi)); NaNs when the ranges do not overlap."""
    (ca, ra), (cb, rb) = curve_a, curve_b
    lo, hi = max(min(ca), min(cb)), min(max(ca), max(cb))
    if hi < lo:
        return math.nan, math.nan, (lo, hi)
    grid = np.linspace(lo, hi, points)
    return (float(robust_at_clean(ca, ra, grid).mean()), float(robust_at_clean(cb, rb, grid).mean()), (lo, hi))


def adversarial_measurements(rows: Sequence[dict], seeds: Sequence[int], a: str = "adv-comp-sum",
                             b: str = "trades") -> tuple[dict[str, list[float]], dict[str, list]]:
    """Per seed, for ADV-COMP-SUM (``a``), TRADES (``b``) and PGD training:

    - ``robust_adv`` / ``clean_adv``, ``robust_trades`` / ``clean_trades``: test robust / clean accuracy
      of the setting (nu, beta) picked on that seed's validation robust accuracy;
    - ``robust_pgd`` / ``clean_pgd``: PGD adversarial training (no setting to pick);
    - ``robust_adv_matched`` / ``robust_trades_matched``: each method's trade-off curve (its test clean
      and robust accuracy over its grid) at matched clean accuracy, averaged over the clean-accuracy
      range both curves cover (:func:`matched_clean_robust`).

    Also returns, per seed, what was picked and the matched range (for the record).
    """
    m: dict[str, list[float]] = {}
    info: dict[str, list] = {}
    for fam, tag in ((a, "adv"), (b, "trades")):
        sel = selected_on_validation(rows, fam, seeds)
        m[f"robust_{tag}"] = [r["test_robust"] for r in sel]
        m[f"clean_{tag}"] = [r["test_clean"] for r in sel]
        info[f"picked_{tag}"] = [r["arm"] for r in sel]
    if any(r["family"] == "pgd" for r in rows):
        m["robust_pgd"] = [_one(rows, family="pgd", seed=s)["test_robust"] for s in seeds]
        m["clean_pgd"] = [_one(rows, family="pgd", seed=s)["test_clean"] for s in seeds]
    m["robust_adv_matched"], m["robust_trades_matched"], info["matched_range"] = [], [], []
    for s in seeds:
        curves = []
        for fam in (a, b):
            pts = [r for r in rows if r["family"] == fam and r["seed"] == s]
            curves.append(([r["test_clean"] for r in pts], [r["test_robust"] for r in pts]))
        ra, rb, rng = matched_clean_robust(*curves)
        m["robust_adv_matched"].append(ra)
        m["robust_trades_matched"].append(rb)
        info["matched_range"].append(list(rng))
    return m, info
