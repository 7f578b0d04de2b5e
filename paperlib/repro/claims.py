"""Claim verdicts computed from a run's per-seed measurements: reproduced, contradicted, inconclusive.

A paper's ``claims.yaml`` holds two lists of the same shape: ``claims`` (what the paper claims, in
its words, with where it says so) and ``checks`` (the project's own sanity checks and extras,
reported apart and never counted as the paper's). Each entry::

    - id: C1
      statement: "cross-entropy is as accurate as the best comp-sum loss"   # the paper's words
      where: "Section 5, Table 2"          # where the paper states it (required for claims)
      paper_value: "CE 95.3 vs 95.4"       # the paper's number or words ("" when there is none)
      controls:                            # optional positive controls, judged first
        - {measurement: oracle_minus_rloo, test: greater, value: 0.0, margin: 0.05, reason: "..."}
      conditions:
        - measurement: ce_acc              # a per-seed measurement the notebook records ...
          minus: best_tau_acc              # ... optionally minus another one, paired by seed
          test: equivalent                 # greater | less | noninferior | equivalent
          value: 0.0
          margin: 0.01                     # the smallest difference that would matter (>= 0) ...
          reason: "one point of accuracy"  # ... and why
          paper_effect: 0.05               # optional: the paper's effect, for the seeds needed

Each condition tests the mean of its per-seed values (Student-t intervals over seeds; a paired
difference when ``minus`` is given) in the paper's direction, with the practical margin delta:

- ``greater`` (X > value): reproduced when the 95% interval lies above ``value``; contradicted when
  it lies below ``value + delta`` (an effect of the size that matters is ruled out); else
  inconclusive. ``less`` mirrors it. Where both hold (a real effect smaller than delta) the
  verdict is reproduced and the note says the effect is below the margin.
- ``noninferior`` (X >= value - delta): reproduced when the 95% interval lies above
  ``value - delta``; contradicted when it lies below; else inconclusive.
- ``equivalent`` (|X - value| <= delta): two one-sided tests at 5% each, i.e. reproduced when the
  90% interval lies inside ``[value - delta, value + delta]``; contradicted when the 95% interval
  lies wholly outside it; else inconclusive.

A claim with ``correction: holm`` (several comparisons that each could pass by chance, e.g. every
variant against every baseline) judges its ``greater`` / ``less`` / ``noninferior`` conditions by
Holm's step-down procedure instead of one interval each: the one-sided p-values of "reproduced"
(the mean lies past the bound) are sorted and the k-th smallest (k = 0, 1, ...) is tested at
(ALPHA / 2) / (m - k) until one fails; the p-values of "contradicted" (the mean lies short of the
bound plus or minus the margin) form a second family treated the same way. Each condition records
its p-values and adjusted levels under ``holm``; its ``ci95`` stays the unadjusted interval, and its
MDE is computed at the Bonferroni level (ALPHA / 2) / m, which Holm's first step uses.

A claim is reproduced when all its conditions are, contradicted when any is, else inconclusive;
``not_assessed`` when a control is not reproduced ("the set-up cannot show this effect"), and when
no condition is contradicted but one has too few finite seed values (fewer than ``MIN_SEEDS``). An inconclusive or
not-reproduced condition reports ``mde``, the smallest true effect its test would detect with 80%
power at the observed seed sd and n, and ``seeds_needed``, the number of seeds at which that
effect shrinks to the paper's effect (or the margin). A condition naming a measurement that was
never recorded is an error (``MissingMeasurement``), not a quiet "not assessed".
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import optimize, stats

MIN_SEEDS = 3
POWER = 0.8
ALPHA = 0.05  # two-sided level of the 95% interval; one-sided tests run at ALPHA / 2
MAX_SEEDS = 1000  # seeds_needed beyond this is reported as None ("not reachable")

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not_assessed")
TESTS = {
    "greater": "X > {v} (margin {d})",
    "less": "X < {v} (margin {d})",
    "noninferior": "X >= {v} - {d}",
    "equivalent": "|X - {v}| <= {d}",
}
CONDITION_KEYS = {"measurement", "minus", "test", "value", "margin", "reason", "paper_effect"}
ENTRY_KEYS = {"id", "statement", "where", "paper_value", "conditions", "controls", "note", "correction"}
CORRECTIONS = ("holm",)
HOLM_TESTS = ("greater", "less", "noninferior")


class ClaimsError(ValueError):
    """A claims.yaml that cannot be evaluated as written; the message says what to change."""


class MissingMeasurement(ClaimsError):
    """A condition names a measurement that the run never recorded."""


# ---------------------------------------------------------------- statistics

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


def power_one_sided(effect: float, sd: float, n: int, alpha: float = ALPHA / 2) -> float:
    """P(one-sided t-test at level ``alpha`` rejects) when the true mean exceeds the bound by ``effect``.

    Exact, from the noncentral t distribution with n - 1 degrees of freedom.
    """
    if n < 2:
        return math.nan
    if sd <= 0:
        return 1.0 if effect > 0 else 0.0
    df = n - 1
    crit = stats.t.ppf(1 - alpha, df)
    return float(stats.nct.sf(crit, df, effect * math.sqrt(n) / sd))


def mde(test: str, sd: float, n: int, power: float = POWER, alpha: float = ALPHA / 2) -> float | None:
    """The minimum detectable effect of ``test`` with ``n`` seeds of standard deviation ``sd``.

    ``greater`` / ``less`` / ``noninferior``: how far past its bound (``value``, or ``value - delta``)
    the true mean must lie for the 95% interval to clear the bound with probability ``power``.
    ``equivalent``: the smallest margin that two one-sided tests (5% each) establish with probability
    ``power`` when the true difference is zero (the usual (t_{1-a} + t_{1-b/2}) sd / sqrt(n) rule).
    """
    if n < 2 or sd is None or not math.isfinite(sd):
        return None
    if sd == 0:
        return 0.0
    df = n - 1
    if test == "equivalent":
        return float((stats.t.ppf(1 - ALPHA, df) + stats.t.ppf(1 - (1 - power) / 2, df)) * sd / math.sqrt(n))
    hi = 1.0
    while power_one_sided(hi * sd, sd, n, alpha) < power:
        hi *= 2
    return float(optimize.brentq(lambda k: power_one_sided(k * sd, sd, n, alpha) - power, 0.0, hi, xtol=1e-10) * sd)


def seeds_needed(test: str, sd: float, target: float | None, power: float = POWER,
                 alpha: float = ALPHA / 2) -> int | None:
    """The fewest seeds (at least ``MIN_SEEDS``) whose MDE is at most ``target``, at standard deviation ``sd``."""
    if target is None or target <= 0 or sd is None or not math.isfinite(sd):
        return None
    if sd == 0:
        return MIN_SEEDS
    lo, hi = MIN_SEEDS, MIN_SEEDS
    while mde(test, sd, hi, power, alpha) > target:
        if hi >= MAX_SEEDS:
            return None
        lo, hi = hi, min(2 * hi, MAX_SEEDS)
    while lo < hi:  # MDE falls with n: the first n that reaches the target
        mid = (lo + hi) // 2
        if mde(test, sd, mid, power, alpha) <= target:
            hi = mid
        else:
            lo = mid + 1
    return hi


def judge(test: str, value: float, margin: float, lo: float, hi: float, lo90: float, hi90: float) -> tuple[str, str]:
    """The verdict of one condition from its 95% (and, for ``equivalent``, 90%) interval, and a note."""
    if test == "greater":
        if lo > value:
            return "reproduced", ("" if hi >= value + margin or margin == 0 else
                                  f"the effect is real but smaller than the margin {margin:g}")
        return ("contradicted", "") if hi < value + margin else ("inconclusive", "")
    if test == "less":
        if hi < value:
            return "reproduced", ("" if lo <= value - margin or margin == 0 else
                                  f"the effect is real but smaller than the margin {margin:g}")
        return ("contradicted", "") if lo > value - margin else ("inconclusive", "")
    if test == "noninferior":
        if lo > value - margin:
            return "reproduced", ""
        return ("contradicted", "") if hi < value - margin else ("inconclusive", "")
    if test == "equivalent":
        if lo90 >= value - margin and hi90 <= value + margin:
            return "reproduced", ""
        if lo > value + margin or hi < value - margin:
            return "contradicted", ""
        return "inconclusive", ""
    raise ClaimsError(f"unknown claim test {test!r}; valid: {', '.join(TESTS)}")


# ---------------------------------------------------------------- claims.yaml

def _check_spec(entries: list[dict], kind: str) -> None:
    seen = set()
    for e in entries:
        where = f"{kind} {e.get('id', '?')!r}"
        unknown = set(e) - ENTRY_KEYS
        if unknown:
            raise ClaimsError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(ENTRY_KEYS)}")
        for key in ("id", "statement", "conditions"):
            if key not in e:
                raise ClaimsError(f"{where}: missing {key!r}")
        if kind == "claim" and not e.get("where"):
            raise ClaimsError(f"{where}: say where the paper states it (where: Table / Figure / Section)")
        if e["id"] in seen:
            raise ClaimsError(f"{where}: duplicate id")
        seen.add(e["id"])
        if not e["conditions"]:
            raise ClaimsError(f"{where}: needs at least one condition")
        if e.get("correction") is not None:
            if e["correction"] not in CORRECTIONS:
                raise ClaimsError(f"{where}: unknown correction {e['correction']!r}; valid: {', '.join(CORRECTIONS)}")
            odd = [c.get("measurement") for c in e["conditions"] if c.get("test") not in HOLM_TESTS]
            if odd:
                raise ClaimsError(f"{where}: a Holm-corrected claim takes {', '.join(HOLM_TESTS)} conditions only; "
                                  f"not {odd}")
        for c in list(e["conditions"]) + list(e.get("controls") or []):
            bad = set(c) - CONDITION_KEYS
            if bad:
                raise ClaimsError(f"{where}: unknown condition key(s) {sorted(bad)}; valid: {sorted(CONDITION_KEYS)}")
            if c.get("test") not in TESTS:
                raise ClaimsError(f"{where}: unknown claim test {c.get('test')!r}; valid: {', '.join(TESTS)}")
            if "measurement" not in c:
                raise ClaimsError(f"{where}: a condition needs a measurement")
            margin = c.get("margin")
            if not isinstance(margin, (int, float)) or isinstance(margin, bool) or margin < 0:
                raise ClaimsError(f"{where}, {c['measurement']}: state the practical margin (margin: a number >= 0, "
                                  f"in the measurement's units), got {margin!r}")
            if not str(c.get("reason", "")).strip():
                raise ClaimsError(f"{where}, {c['measurement']}: say why the margin is {margin} (reason: ...)")
            if c["test"] == "equivalent" and margin == 0:
                raise ClaimsError(f"{where}, {c['measurement']}: an equivalence test needs a margin > 0")


def load_spec(data: Mapping[str, Any] | None) -> dict[str, list[dict]]:
    """``{"claims": [...], "checks": [...]}`` from a parsed claims.yaml, checked (raises ClaimsError)."""
    data = dict(data or {})
    unknown = set(data) - {"claims", "checks"}
    if unknown:
        raise ClaimsError(f"claims.yaml: unknown top-level key(s) {sorted(unknown)}; valid: claims, checks")
    spec = {"claims": list(data.get("claims") or []), "checks": list(data.get("checks") or [])}
    _check_spec(spec["claims"], "claim")
    _check_spec(spec["checks"], "check")
    ids = [e["id"] for e in spec["claims"] + spec["checks"]]
    if len(ids) != len(set(ids)):
        raise ClaimsError("claims.yaml: claims and checks must have distinct ids")
    return spec


def measurement_names(spec: Mapping[str, list[dict]] | list[dict]) -> set[str]:
    """Every measurement the claims and checks read (both sides of a paired difference)."""
    entries = spec if isinstance(spec, list) else list(spec.get("claims", [])) + list(spec.get("checks", []))
    names = set()
    for e in entries:
        for c in list(e["conditions"]) + list(e.get("controls") or []):
            names.add(c["measurement"])
            if c.get("minus"):
                names.add(c["minus"])
    return names


def _values(cond: dict, measurements: Mapping[str, Sequence[float]]) -> list[float]:
    a = [float(x) for x in measurements[cond["measurement"]]]
    if not cond.get("minus"):
        return a
    b = [float(x) for x in measurements[cond["minus"]]]
    if len(a) != len(b):
        raise ClaimsError(f"{cond['measurement']} ({len(a)} seeds) minus {cond['minus']} ({len(b)} seeds): a paired "
                          "difference needs one value per seed for both arms, from the same seeds")
    return [x - y for x, y in zip(a, b)]


def _label(cond: dict) -> str:
    return cond["measurement"] + (f" - {cond['minus']}" if cond.get("minus") else "")


def describe(cond: dict) -> str:
    """How the condition reads, e.g. ``ce_acc - mae_acc: X > 0 (margin 0.01)``."""
    if cond["test"] not in TESTS:
        raise ClaimsError(f"unknown claim test {cond['test']!r}; valid: {', '.join(TESTS)}")
    return f"{_label(cond)}: " + TESTS[cond["test"]].format(v=_g(cond.get("value", 0.0)), d=_g(cond.get("margin", 0.0)))


def evaluate_condition(cond: dict, measurements: Mapping[str, Sequence[float]], alpha: float = ALPHA / 2) -> dict:
    """One condition's interval, verdict and MDE; ``alpha`` is the one-sided level of its MDE."""
    test, v, d = cond["test"], float(cond.get("value", 0.0)), float(cond.get("margin", 0.0))
    criterion = describe(cond)
    missing = [k for k in (cond["measurement"], cond.get("minus")) if k and k not in measurements]
    out = {"measurement": _label(cond), "test": test, "value": v, "margin": d, "reason": cond.get("reason", ""),
           "criterion": criterion, "values": [], "n": 0, "mean": None, "std": None, "ci95": [None, None],
           "verdict": "not_assessed", "mde": None, "seeds_needed": None, "note": ""}
    if missing:
        out["note"] = f"measurement {', '.join(map(repr, missing))} was not recorded by this run"
        return out
    values = _values(cond, measurements)
    m, s, (lo, hi) = mean_ci(values)
    _, _, (lo90, hi90) = mean_ci(values, 0.90)
    out.update(values=values, n=len(values), mean=_num(m), std=_num(s), ci95=[_num(lo), _num(hi)])
    if test == "equivalent":
        out["ci90"] = [_num(lo90), _num(hi90)]
    if len(values) < MIN_SEEDS or not all(math.isfinite(x) for x in values):
        out["note"] = f"needs >= {MIN_SEEDS} finite seed values, has {sum(math.isfinite(x) for x in values)}"
        return out
    out["verdict"], out["note"] = judge(test, v, d, lo, hi, lo90, hi90)
    if out["verdict"] != "reproduced":
        effect = cond.get("paper_effect")
        target = abs(float(effect)) if effect is not None else (d if d > 0 else None)
        out["mde"] = _num(mde(test, s, len(values), alpha=alpha))
        out["seeds_needed"] = seeds_needed(test, s, target, alpha=alpha)
        if out["verdict"] == "inconclusive":
            what = "the paper's effect" if effect is not None else "the margin"
            out["note"] = (f"{len(values)} seeds detect {out['mde']:.3g} with 80% power; "
                           + (f"{out['seeds_needed']} seeds would detect {what} ({target:g})"
                              if out["seeds_needed"] else "no seed count reaches it" if target else
                              "state a margin > 0 to size the seeds"))
    return out


def one_sided_p(test: str, value: float, margin: float, values: Sequence[float]) -> tuple[float, float]:
    """(p of "reproduced", p of "contradicted") of a ``greater`` / ``less`` / ``noninferior``
    condition: one-sided t-tests of the mean against the bound each verdict needs."""
    x = np.asarray(values, float)
    n, m = len(x), float(x.mean())
    se = float(x.std(ddof=1)) / math.sqrt(n)
    bound_rep = {"greater": value, "less": value, "noninferior": value - margin}[test]
    bound_con = {"greater": value + margin, "less": value - margin, "noninferior": value - margin}[test]
    sign = -1.0 if test == "less" else 1.0  # "less": reproduced below the bound

    def p_above(bound):  # P(mean > bound is not shown): H0 mean <= bound
        if se == 0:
            return 0.0 if m > bound else 1.0
        return float(stats.t.sf((m - bound) / se, n - 1))

    def p_below(bound):
        if se == 0:
            return 0.0 if m < bound else 1.0
        return float(stats.t.cdf((m - bound) / se, n - 1))

    if sign > 0:
        return p_above(bound_rep), p_below(bound_con)
    return p_below(bound_rep), p_above(bound_con)


def holm_reject(pvalues: Sequence[float], alpha: float = ALPHA / 2) -> tuple[list[bool], list[float]]:
    """Holm's step-down procedure: which hypotheses are rejected, and the level each was tested at
    (the k-th smallest p-value at alpha / (m - k); once one fails, all larger ones fail)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    reject, level, going = [False] * m, [alpha / m] * m, True
    for k, i in enumerate(order):
        level[i] = alpha / (m - k)
        going = going and pvalues[i] <= level[i]
        reject[i] = going
    return reject, level


def _holm(specs: list[dict], conds: list[dict]) -> None:
    """Re-judge evaluated conditions (in place) by Holm's procedure over the claim's conditions."""
    m = len(conds)
    ok = [(spec, c) for spec, c in zip(specs, conds)
          if c["n"] >= MIN_SEEDS and all(math.isfinite(v) for v in c["values"])]
    if not ok:
        return
    ps = [one_sided_p(c["test"], c["value"], c["margin"], c["values"]) for _, c in ok]
    rep, rep_level = holm_reject([p[0] for p in ps])
    con, con_level = holm_reject([p[1] for p in ps])
    alpha = ALPHA / 2 / m
    for (spec, c), p, r, rl, k, kl in zip(ok, ps, rep, rep_level, con, con_level):
        c["holm"] = {"m": m, "p_reproduced": p[0], "level_reproduced": rl,
                     "p_contradicted": p[1], "level_contradicted": kl}
        c["verdict"] = "reproduced" if r else "contradicted" if k else "inconclusive"
        c["mde"] = c["seeds_needed"] = None
        c["note"] = f"Holm over {m} conditions"
        if c["verdict"] == "reproduced":
            continue
        effect = spec.get("paper_effect")
        target = abs(float(effect)) if effect is not None else (c["margin"] if c["margin"] > 0 else None)
        c["mde"] = _num(mde(c["test"], c["std"], c["n"], alpha=alpha))
        c["seeds_needed"] = seeds_needed(c["test"], c["std"], target, alpha=alpha)
        if c["verdict"] == "inconclusive" and c["mde"] is not None:
            c["note"] += (f"; {c['n']} seeds detect {c['mde']:.3g} with 80% power at the level {alpha:.2g}; "
                          + (f"{c['seeds_needed']} seeds would detect {target:g}" if c["seeds_needed"]
                             else "no seed count reaches it" if target else ""))


def _combine(entry: dict, measurements: Mapping[str, Sequence[float]]) -> dict:
    holm = entry.get("correction") == "holm"
    alpha = ALPHA / 2 / len(entry["conditions"]) if holm else ALPHA / 2
    conds = [evaluate_condition(c, measurements, alpha) for c in entry["conditions"]]
    if holm:
        _holm(list(entry["conditions"]), conds)
    controls = [evaluate_condition(c, measurements) for c in entry.get("controls") or []]
    note = ""
    verdicts = [c["verdict"] for c in conds]
    failed_controls = [c for c in controls if c["verdict"] != "reproduced"]
    if failed_controls:
        verdict = "not_assessed"
        note = "the set-up cannot show this effect: control " + "; ".join(
            f"{c['measurement']} is {c['verdict'].replace('_', ' ')}" for c in failed_controls)
    elif "contradicted" in verdicts:  # one contradicted condition settles it, whatever else is missing
        verdict = "contradicted"
    elif "not_assessed" in verdicts:
        verdict = "not_assessed"
        note = "; ".join(dict.fromkeys(c["note"] for c in conds if c["verdict"] == "not_assessed"))
    elif all(v == "reproduced" for v in verdicts):
        verdict = "reproduced"
    else:
        verdict = "inconclusive"
    first = conds[0]
    return {"id": entry["id"], "statement": entry["statement"], "where": entry.get("where", ""),
            "paper_value": entry.get("paper_value", ""), "verdict": verdict, "note": note,
            **({"correction": entry["correction"]} if entry.get("correction") else {}),
            "measured": first["mean"], "ci95": first["ci95"],
            "criterion": "; and ".join(c["criterion"] for c in conds),
            "conditions": conds, "controls": controls}


def _require(names: set[str], measurements: Mapping[str, Sequence[float]]) -> None:
    missing = sorted(names - set(measurements))
    if not missing:
        return
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, list(measurements), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise MissingMeasurement(
        f"claims.yaml names measurement(s) the run never recorded: {', '.join(hints)}. Record them with "
        f"run.measure(name, per_seed) or fix the names; recorded: {', '.join(sorted(measurements)) or 'none'}")


def evaluate(claims: list[dict], measurements: Mapping[str, Sequence[float]], strict: bool = True) -> list[dict]:
    """Each claim with its conditions' intervals, verdicts, MDEs and the claim's verdict.

    With ``strict`` (a run), a measurement no condition can find raises ``MissingMeasurement``
    naming the close matches; without (re-evaluating old results) such a condition is
    ``not_assessed`` with a note.
    """
    _check_spec(list(claims), "check")  # load_spec also requires a claim's ``where``
    if strict:
        _require(measurement_names(list(claims)), measurements)
    return [_combine(c, measurements) for c in claims]


def evaluate_spec(spec: Mapping[str, Any], measurements: Mapping[str, Sequence[float]],
                  strict: bool = True) -> dict[str, list[dict]]:
    """``{"claims": [...], "checks": [...]}`` evaluated; ``spec`` as parsed from claims.yaml."""
    spec = load_spec(spec)
    if strict:  # one error naming every missing measurement, claims and checks together
        _require(measurement_names(spec), measurements)
    return {"claims": [_combine(c, measurements) for c in spec["claims"]],
            "checks": [_combine(c, measurements) for c in spec["checks"]]}


def summary(entries: list[dict]) -> str:
    """``2 reproduced, 1 contradicted, 1 inconclusive of 4`` (words only for verdicts that occur)."""
    counts = {v: sum(e.get("verdict", "not_assessed") == v for e in entries) for v in VERDICTS}
    parts = [f"{k} {v.replace('_', ' ')}" for v, k in counts.items() if k]
    return (", ".join(parts) + f" of {len(entries)}") if entries else "none"


# ---------------------------------------------------------------- tables

def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), 6)


def _g(x: Any) -> str:
    return f"{float(x):g}"


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _measured(c: dict) -> str:
    if c["mean"] is None:
        return "n/a"
    lo, hi = c["ci95"]
    return f"{c['mean']:.3g} [{_fmt(lo)}, {_fmt(hi)}] n={c['n']}"


def _power(c: dict) -> str:
    if c.get("mde") is None:
        return ""
    return f"MDE {c['mde']:.2g}" + (f", {c['seeds_needed']} seeds" if c.get("seeds_needed") else "")


def verdict_word(verdict: str) -> str:
    return verdict.replace("_", " ")


def claims_table(results: list[dict], markdown: bool = False, key: str = "claims") -> str:
    """One row per condition (controls first, marked); the first row of an entry carries its verdict.

    ``results``: dicts with ``paper`` and ``claims`` (or ``checks`` with ``key="checks"``).
    """
    head = ("paper", "id", "where", "condition", "mean [95% CI] n", "condition verdict", "power", "verdict")
    rows = []
    for res in results:
        for e in res.get(key, []):
            conds = [("control: ", c) for c in e.get("controls", [])] + [("", c) for c in e["conditions"]]
            for i, (tag, c) in enumerate(conds):
                rows.append((res["paper"] if i == 0 else "", e["id"] if i == 0 else "",
                             e.get("where", "") if i == 0 else "", tag + c["criterion"], _measured(c),
                             verdict_word(c["verdict"]), _power(c), verdict_word(e["verdict"]) if i == 0 else ""))
    if markdown:
        esc = lambda s: str(s).replace("|", "\\|")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(esc(x) for x in r) + " |" for r in rows]
        return "\n".join(lines)
    # terminal: drop the paper column when there is one paper, and keep lines short
    cols = list(range(len(head)))
    if len({r["paper"] for r in results}) <= 1:
        cols.remove(0)
    cols.remove(2)  # "where" is long; the markdown report carries it
    table = [tuple(head[i] for i in cols)] + [tuple(r[i] for i in cols) for r in rows]
    widths = [min(max(len(r[j]) for r in table), 48) for j in range(len(cols))]
    return "\n".join("  ".join(_clip(r[j], widths[j]).ljust(widths[j]) for j in range(len(cols))).rstrip()
                     for r in table)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
