"""The per-seed numbers the flgfn claims are judged on, computed from the rows of
:mod:`paperlib.flgfn.experiment` (plain functions, unit-tested; no notebook arithmetic).

Every function returns one value per seed in the order of ``seeds``, so that two methods trained on
the same seed (same initial network: the seed is set before the network is built) are compared as a
paired difference (claims.yaml's ``minus``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def tag(method: str) -> str:
    """``fl-db-incomplete`` -> ``fl_db_incomplete`` (measurement names)."""
    return method.replace("-", "_")


def _one(rows: Sequence[dict], **match) -> dict:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    if len(found) != 1:
        raise KeyError(f"expected one row with {match}, found {len(found)}")
    return found[0]


def l1_auc(row: dict) -> float:
    """Mean L1 over the evaluations after step 0 (equally spaced): the area under the L1 curve per step,
    small when the error falls early and stays low ("lower error, faster")."""
    return float(np.mean(row["l1"][1:]))


def l1_at(row: dict, step: int) -> float:
    """L1 at the evaluation nearest to ``step``."""
    i = int(np.argmin(np.abs(np.asarray(row["steps"]) - step)))
    return float(row["l1"][i])


def measurements(rows: Sequence[dict], env: str, methods: Sequence[str], seeds: Sequence[int]) -> dict[str, list[float]]:
    """For environment ``env`` and every method m, per seed:

    - ``{env}_{m}_auc``: mean L1 over training (:func:`l1_auc`);
    - ``{env}_{m}_final``: L1 after the whole budget;
    - ``{env}_{m}_half``: L1 after half of it (the positive control: learning still moves at the budget);
    - ``{env}_init``: L1 of the untrained sampler (the same network for every method of a seed).
    """
    out: dict[str, list[float]] = {}
    for m in methods:
        rs = [_one(rows, env=env, method=m, seed=s) for s in seeds]
        out[f"{env}_{tag(m)}_auc"] = [l1_auc(r) for r in rs]
        out[f"{env}_{tag(m)}_final"] = [float(r["l1"][-1]) for r in rs]
        out[f"{env}_{tag(m)}_half"] = [l1_at(r, r["steps"][-1] // 2) for r in rs]
    out[f"{env}_init"] = [float(_one(rows, env=env, method=methods[0], seed=s)["l1"][0]) for s in seeds]
    return out


def mean_curves(rows: Sequence[dict], env: str, method: str) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Steps, mean and standard deviation over seeds of the L1 curve of (env, method)."""
    rs = [r for r in rows if r["env"] == env and r["method"] == method]
    curves = np.array([r["l1"] for r in rs])
    return rs[0]["steps"], curves.mean(0), curves.std(0)
