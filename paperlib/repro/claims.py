"""Claim verdicts computed from a run's per-seed measurements.

A claim in ``claims.yaml`` is a statement with one or more conditions; each condition names a
measurement (one value per seed, recorded by the notebook) and a test on its mean's 95%
t-interval. The claim holds when every condition does. Verdicts need at least ``MIN_SEEDS``
values: with fewer, ``holds`` is ``None`` (not assessed), never a guess.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import stats

MIN_SEEDS = 3

# test name -> (how it reads, predicate on (mean, lo, hi, value))
TESTS = {
    "ci_above": ("95% CI of the mean lies above {v}", lambda m, lo, hi, v: lo > v),
    "ci_below": ("95% CI of the mean lies below {v}", lambda m, lo, hi, v: hi < v),
    "ci_contains": ("95% CI of the mean contains {v}", lambda m, lo, hi, v: lo <= v <= hi),
    "ci_reaches": ("95% CI of the mean reaches {v} or above", lambda m, lo, hi, v: hi >= v),
    "ci_reaches_below": ("95% CI of the mean reaches {v} or below", lambda m, lo, hi, v: lo <= v),
    "mean_at_least": ("mean >= {v}", lambda m, lo, hi, v: m >= v),
    "mean_at_most": ("mean <= {v}", lambda m, lo, hi, v: m <= v),
}


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, tuple[float, float]]:
    """Mean, sample std and the Student-t interval of the mean over seeds."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, (math.nan, math.nan)
    m = float(x.mean())
    if n < 2:
        return m, math.nan, (math.nan, math.nan)
    s = float(x.std(ddof=1))
    h = float(stats.t.ppf(0.5 + level / 2, n - 1)) * s / math.sqrt(n)
    return m, s, (m - h, m + h)


def describe(cond: dict) -> str:
    if cond["test"] not in TESTS:
        raise ValueError(f"unknown claim test {cond['test']!r}; valid: {sorted(TESTS)}")
    return f"{cond['measurement']}: " + TESTS[cond["test"]][0].format(v=cond.get("value", 0.0))


def evaluate(claims: list[dict], measurements: dict[str, Sequence[float]]) -> list[dict]:
    """Each claim with its measured mean, 95% CI and verdict (``holds``: True, False or None)."""
    out = []
    for claim in claims:
        conds = []
        for cond in claim["conditions"]:
            name, test, v = cond["measurement"], cond["test"], float(cond.get("value", 0.0))
            criterion = describe(cond)  # raises on an unknown test, whatever was measured
            values = [float(x) for x in measurements.get(name, [])]
            m, s, (lo, hi) = mean_ci(values)
            if not values:
                holds = None
                note = f"measurement {name!r} was not recorded"
            elif len(values) < MIN_SEEDS or any(math.isnan(x) for x in values):
                holds, note = None, f"needs >= {MIN_SEEDS} finite seed values, has {len(values)}"
            else:
                holds, note = bool(TESTS[test][1](m, lo, hi, v)), ""
            conds.append({"measurement": name, "test": test, "value": v, "criterion": criterion,
                          "values": values, "n": len(values), "mean": _num(m), "std": _num(s),
                          "ci95": [_num(lo), _num(hi)], "holds": holds, "note": note})
        verdicts = [c["holds"] for c in conds]
        holds = None if any(h is None for h in verdicts) else all(verdicts)
        out.append({"id": claim["id"], "statement": claim["statement"],
                    "paper_value": claim.get("paper_value", ""),
                    "measured": conds[0]["mean"], "ci95": conds[0]["ci95"],
                    "criterion": "; and ".join(c["criterion"] for c in conds),
                    "holds": holds, "conditions": conds})
    return out


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 6)


def verdict_word(holds: Any) -> str:
    return {True: "holds", False: "does not hold", None: "not assessed"}[holds]


def claims_table(results: list[dict], markdown: bool = False) -> str:
    """A table of claims, one row per condition (the first carries the claim's verdict)."""
    rows = [("paper", "claim", "paper says", "measured (mean [95% CI], n)", "criterion", "condition", "verdict")]
    for res in results:
        for claim in res.get("claims", []):
            for i, c in enumerate(claim["conditions"]):
                ci = c["ci95"]
                meas = ("n/a" if c["mean"] is None else
                        f"{c['mean']:.4g} [{_fmt(ci[0])}, {_fmt(ci[1])}], n={c['n']}")
                rows.append((res["paper"] if i == 0 else "", claim["id"] if i == 0 else "",
                             (claim["paper_value"] if markdown else _short(claim["paper_value"])) if i == 0 else "",
                             meas, c["criterion"], {True: "met", False: "not met", None: "n/a"}[c["holds"]],
                             verdict_word(claim["holds"]) if i == 0 else ""))
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines)
    widths = [min(max(len(r[i]) for r in rows), 64) for i in range(len(rows[0]))]
    return "\n".join("  ".join(r[i][:64].ljust(widths[i]) for i in range(len(r))).rstrip() for r in rows)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _short(s: Any, n: int = 40) -> str:
    s = str(s)
    return s if len(s) <= n else s[: n - 1] + "…"
