"""Does a rerun give the same numbers? Golden smoke measurements, and reruns of committed results.

``tests/golden/<paper>.json`` holds the per-seed measurements of the paper's smoke profile (same
parameters, same seeds) and the tolerance they are compared with::

    {"paper": "compsum", "profile": "smoke",
     "tolerance": {"rel": 1e-6, "abs": 1e-9, "reason": "..."},
     "not_compared": {"scaling_slope": "a slope of wall-clock times"},   # optional, each with its reason
     "params": {...}, "source": {"git_sha": ..., "dirty": ..., "torch": ...}, "measurements": {...}}

A value x matches its golden value g when ``|x - g| <= abs + rel * |g|`` (NaN matches NaN only).
Every measurement must be in both, with as many values, except those listed under
``not_compared`` (timings, which no seed fixes); ``--update`` keeps the tolerance and that list. Used by ``paperlib verify`` and by
``tests/test_papers_smoke.py``:

- ``paperlib verify PAPER`` reruns the smoke profile into a temporary folder and compares it with
  the golden file; ``--update`` rewrites the golden file from that run (from a clean checkout).
- ``paperlib verify PAPER --profile quick`` reruns the quick profile into a temporary folder and
  compares every per-seed measurement with the committed
  ``reproductions/<paper>/results/quick/results.json``, printing the largest absolute and relative
  difference per measurement and overall.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .io import atomic_write_json, uncommitted_inputs
from .registry import Paper, ReproError, repo_root

DEFAULT_TOLERANCE = {
    "rel": 1e-6,
    "abs": 1e-9,
    "reason": "the same code, seeds and torch thread count give bitwise-equal numbers on one machine "
              "(paperlib.training.seed_everything); the tolerance absorbs last-bit differences from another "
              "CPU type or BLAS build, far below any effect the claims judge",
}


def golden_path(slug: str) -> Path:
    return repo_root() / "tests" / "golden" / f"{slug}.json"


def load_golden(slug: str) -> dict:
    path = golden_path(slug)
    if not path.is_file():
        raise ReproError(f"no golden measurements for {slug!r} at {path}: make them from a clean checkout "
                         f"with `paperlib verify {slug} --update`")
    return json.loads(path.read_text())


# ---------------------------------------------------------------- comparison

@dataclass
class Difference:
    """One measurement's comparison: its largest absolute and relative per-seed differences."""

    name: str
    n: int
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst: int | None = None  # index of the value furthest outside (or closest to) its tolerance
    worst_got: float | None = None
    worst_want: float | None = None
    excess: float = 0.0  # max over values of |x - g| / (abs + rel |g|): > 1 is a mismatch
    problem: str = ""  # missing on one side, or a different number of values
    skipped: str = ""  # why it is not compared

    @property
    def ok(self) -> bool:
        return bool(self.skipped) or (not self.problem and self.excess <= 1.0)

    @property
    def compared(self) -> bool:
        return not self.problem and not self.skipped


@dataclass
class Comparison:
    rtol: float
    atol: float
    rows: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def worst(self) -> Difference | None:
        numeric = [r for r in self.rows if r.compared and r.n]
        return max(numeric, key=lambda r: r.excess) if numeric else None

    @property
    def max_abs(self) -> float:
        return max((r.max_abs for r in self.rows if r.compared), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((r.max_rel for r in self.rows if r.compared), default=0.0)

    def largest(self) -> str:
        """The largest difference, in words."""
        w = self.worst
        if w is None or w.worst is None:
            return "no values to compare"
        if _missing(w.worst_got) or _missing(w.worst_want):
            diff = "" if w.ok else "; one of them is NaN"
        else:
            d = math.fabs(w.worst_got - w.worst_want)
            rel = d / math.fabs(w.worst_want) if w.worst_want else (0.0 if d == 0 else math.inf)
            diff = f" (|diff| {d:.3g}, rel {rel:.3g})"
        return (f"largest difference (relative to the tolerance abs {self.atol:g} + rel {self.rtol:g}): "
                f"{w.name}[{w.worst}] = {w.worst_got!r}, reference {w.worst_want!r}{diff}")

    def table(self, only_failures: bool = False) -> str:
        """One line per measurement: values, largest |diff| and relative diff, and whether it matches."""
        rows = [r for r in self.rows if not (only_failures and r.ok)]
        width = max([len(r.name) for r in rows] + [11])
        lines = [f"  {'measurement':<{width}}  {'n':>3}  {'max |diff|':>10}  {'max rel':>10}  ok"]
        for r in rows:
            if r.skipped:
                lines.append(f"  {r.name:<{width}}  {r.n:>3}  not compared: {r.skipped}")
            elif r.problem:
                lines.append(f"  {r.name:<{width}}  {r.n:>3}  {r.problem}")
            else:
                lines.append(f"  {r.name:<{width}}  {r.n:>3}  {r.max_abs:>10.3g}  {r.max_rel:>10.3g}  "
                             f"{'yes' if r.ok else 'NO'}")
        lines.append(f"  {'overall':<{width}}  {sum(r.n for r in self.rows if r.compared):>3}  {self.max_abs:>10.3g}  "
                     f"{self.max_rel:>10.3g}  {'yes' if self.ok else 'NO'}")
        return "\n".join(lines)


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def compare(got: Mapping[str, Sequence[float | None]], want: Mapping[str, Sequence[float | None]],
            rtol: float = DEFAULT_TOLERANCE["rel"], atol: float = DEFAULT_TOLERANCE["abs"],
            not_compared: Mapping[str, str] | None = None) -> Comparison:
    """Compare per-seed measurements ``got`` with reference values ``want`` (name -> values), except
    those named in ``not_compared`` (name -> why)."""
    out = Comparison(rtol=rtol, atol=atol)
    for name in sorted(set(got) | set(want)):
        if name in (not_compared or {}):
            out.rows.append(Difference(name, len(got.get(name, want.get(name, []))), skipped=not_compared[name]))
            continue
        if name not in want:
            out.rows.append(Difference(name, len(got[name]), problem="recorded by this run, not in the reference"))
            continue
        if name not in got:
            out.rows.append(Difference(name, len(want[name]), problem="in the reference, not recorded by this run"))
            continue
        g, w = list(got[name]), list(want[name])
        if len(g) != len(w):
            out.rows.append(Difference(name, len(g), problem=f"{len(g)} values, the reference has {len(w)}"))
            continue
        d = Difference(name, len(g))
        for i, (x, y) in enumerate(zip(g, w)):
            if _missing(x) or _missing(y) or not (math.isfinite(x) and math.isfinite(y)):
                same = (_missing(x) and _missing(y)) or x == y  # NaN matches NaN, inf matches inf
                diff = rdiff = excess = 0.0 if same else math.inf
            else:
                diff = math.fabs(float(x) - float(y))
                rdiff = diff / math.fabs(y) if y else (0.0 if diff == 0 else math.inf)
                bound = atol + rtol * math.fabs(y)
                excess = diff / bound if bound > 0 else (0.0 if diff == 0 else math.inf)
            d.max_abs, d.max_rel = max(d.max_abs, diff), max(d.max_rel, rdiff)
            if d.worst is None or excess > d.excess:
                d.worst, d.worst_got, d.worst_want, d.excess = i, x, y, excess
        out.rows.append(d)
    return out


def compare_with_golden(results: Mapping[str, Any], golden: Mapping[str, Any]) -> Comparison:
    tol = golden.get("tolerance") or DEFAULT_TOLERANCE
    return compare(results["measurements"], golden["measurements"], rtol=tol["rel"], atol=tol["abs"],
                   not_compared=golden.get("not_compared"))


def golden_from_results(results: Mapping[str, Any], tolerance: Mapping[str, Any] | None = None,
                        not_compared: Mapping[str, str] | None = None) -> dict:
    m = results["manifest"]
    return {"paper": results["paper"], "profile": results["profile"],
            "tolerance": dict(tolerance or DEFAULT_TOLERANCE),
            **({"not_compared": dict(not_compared)} if not_compared else {}),
            "params": results["params"],
            "source": {"git_sha": m.get("git_sha"), "dirty": m.get("dirty"),
                       "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                       "python": m.get("python"), "torch": (m.get("packages") or {}).get("torch"),
                       "numpy": (m.get("packages") or {}).get("numpy"),
                       "machine": (m.get("hardware") or {}).get("machine"),
                       "torch_threads": (m.get("hardware") or {}).get("torch_threads"),
                       "wall_s": m.get("wall_s")},
            "measurements": results["measurements"]}


# ---------------------------------------------------------------- the verify command

def _full_params(paper: Paper, profile: str) -> dict[str, Any]:
    """Every notebook parameter's value in ``profile`` (the notebook's default where the profile sets none),
    as a run records them."""
    return {**{name: p.default for name, p in paper.parameters.items()}, **paper.resolve(profile)}


def _param_differences(now: Mapping[str, Any], then: Mapping[str, Any]) -> list[str]:
    return [f"{k}: {then[k]!r} there, {now[k]!r} now" for k in sorted(set(now) & set(then)) if now[k] != then[k]]


def _rerun(paper: Paper, profile: str, stream: bool) -> tuple[dict, Path]:
    from .runner import RunFailed, run_paper

    out = Path(tempfile.mkdtemp(prefix=f"paperlib-verify-{paper.slug}-{profile}-"))
    try:
        return run_paper(paper, profile, paper.resolve(profile), out, stream), out
    except RunFailed as err:
        shutil.rmtree(out, ignore_errors=True)
        raise ReproError(f"the {profile} rerun failed: {err}") from None


def verify_smoke(paper: Paper, update: bool, stream: bool) -> bool:
    golden = None if update and not golden_path(paper.slug).is_file() else load_golden(paper.slug)
    if golden is not None and not update:
        diff = _param_differences(_full_params(paper, "smoke"), golden.get("params", {}))
        if diff:
            print(f"  note: the smoke parameters changed since the golden file was made ({'; '.join(diff)})")
    results, out = _rerun(paper, "smoke", stream)
    if update:
        skip = dict((golden or {}).get("not_compared") or {})
        for name in sorted(set(skip) - set(results["measurements"])):
            print(f"  warning: not_compared names {name!r}, which this run does not record: dropped from the list")
            del skip[name]
        atomic_write_json(golden_path(paper.slug), golden_from_results(results, (golden or {}).get("tolerance"), skip))
        shutil.rmtree(out, ignore_errors=True)
        n = sum(len(v) for v in results["measurements"].values())
        print(f"  wrote {golden_path(paper.slug)} ({len(results['measurements'])} measurements, {n} values, "
              f"smoke run {results['manifest']['wall_s']:.0f} s)")
        return True
    cmp = compare_with_golden(results, golden)
    n = sum(r.n for r in cmp.rows)
    print(f"  {len(cmp.rows)} measurements, {n} values, smoke run {results['manifest']['wall_s']:.0f} s; "
          f"{'all match' if cmp.ok else 'MISMATCHES'} within abs {cmp.atol:g} + rel {cmp.rtol:g}")
    if not cmp.ok:
        print(cmp.table(only_failures=True))
    return _conclude(cmp, out)


def _conclude(cmp, out: Path) -> bool:
    """Print the largest difference; drop the rerun's folder when it matched, else say where it is."""
    print(f"  {cmp.largest()}")
    if cmp.ok:
        shutil.rmtree(out, ignore_errors=True)
    else:
        print(f"  the rerun's results are kept at {out}")
    return cmp.ok


def verify_quick(paper: Paper, stream: bool, rtol: float | None, atol: float | None) -> bool:
    path = paper.folder / "results" / "quick" / "results.json"
    if not path.is_file():
        raise ReproError(f"{paper.slug} has no committed quick results at {path}")
    committed = json.loads(path.read_text())
    m = committed["manifest"]
    print(f"  committed results: git {str(m.get('git_sha'))[:10]}{' (DIRTY)' if m.get('dirty') else ''}, "
          f"{m.get('wall_s', 0):.0f} s, torch {(m.get('packages') or {}).get('torch')}, "
          f"{(m.get('hardware') or {}).get('cpu_count')} CPUs")
    diff = _param_differences(_full_params(paper, "quick"), committed.get("params", {}))
    if diff:
        print(f"  the quick profile's parameters differ from those of the committed run ({'; '.join(diff)}): "
              f"a rerun cannot give the committed numbers; regenerate them with "
              f"`paperlib reproduce {paper.slug}` from a clean checkout")
        return False
    tol, skip = dict(DEFAULT_TOLERANCE), {}
    if golden_path(paper.slug).is_file():
        golden = load_golden(paper.slug)
        tol.update(golden.get("tolerance") or {})
        skip = golden.get("not_compared") or {}
    if rtol is not None:
        tol["rel"] = rtol
    if atol is not None:
        tol["abs"] = atol
    results, out = _rerun(paper, "quick", stream)
    cmp = compare(results["measurements"], committed["measurements"], rtol=tol["rel"], atol=tol["abs"],
                  not_compared=skip)
    print(f"  rerun: {results['manifest']['wall_s']:.0f} s at git {str(results['manifest']['git_sha'])[:10]}"
          f"{' (dirty)' if results['manifest'].get('dirty') else ''}; per-seed differences from the committed run:")
    print(cmp.table())
    return _conclude(cmp, out)


def verify(papers: list[Paper], profile: str = "smoke", update: bool = False, allow_dirty: bool = False,
           stream: bool = False, rtol: float | None = None, atol: float | None = None) -> int:
    """Exit code: 0 when every paper's rerun matches within its tolerance (or ``update`` wrote it), else 1."""
    if profile not in ("smoke", "quick"):
        raise ReproError(f"verify compares the smoke or the quick profile, not {profile!r}")
    if update and profile != "smoke":
        raise ReproError("--update rewrites the golden smoke measurements; it goes with --profile smoke")
    if update and not allow_dirty:
        changes = uncommitted_inputs(repo_root())
        if changes:
            listing = "\n".join(f"    {p}" for p in changes[:20])
            raise ReproError(f"golden values must come from committed code, and the checkout has uncommitted "
                             f"changes a run may read:\n{listing}\n  commit them first, or pass --allow-dirty")
    for paper in papers:  # fail on a missing golden file before running anything
        if profile == "smoke" and not update:
            load_golden(paper.slug)
    failed = []
    for paper in papers:
        print(f"== {paper.slug}: {'updating the golden' if update else 'verifying the'} {profile} measurements",
              flush=True)
        try:
            ok = (verify_smoke(paper, update, stream) if profile == "smoke"
                  else verify_quick(paper, stream, rtol, atol))
        except ReproError as err:
            print(f"  FAILED: {err}", flush=True)
            ok = False
        print(f"== {paper.slug}: {'ok' if ok else 'MISMATCH'}", flush=True)
        if not ok:
            failed.append(paper.slug)
    if failed:
        print(f"\n{len(failed)} of {len(papers)} paper(s) did not match: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


__all__ = ["Comparison", "DEFAULT_TOLERANCE", "Difference", "compare", "compare_with_golden",
           "golden_from_results", "golden_path", "load_golden", "verify"]
