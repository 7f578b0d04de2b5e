"""``paperlib check``: does a profile's path start on this machine? (:mod:`paperlib.preflight`)

For each paper: the profile's parameters with its ``preflight`` overrides (profiles.yaml), the
notebook run once into a temporary folder with ``$PAPERLIB_PREFLIGHT=1`` (data that are not here
replaced by stand-ins of their shape, and noted), on CUDA when present (the profile's own
accelerator setting), else on the CPU. Prints, per paper, whether the path ran, how long it took,
and what is missing with the command that fixes it. Exit code 0 when every path ran.
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..preflight import PREFLIGHT_ENV, PREFLIGHT_LOG_ENV, read_log
from .registry import Paper, ReproError
from .runner import RunFailed, _environment, check_jobs, in_processes, run_paper
from .seeds import SEED_CACHE_ENV

_NO_MODULE = re.compile(r"No module named '([^']+)'")


def fix_for(message: str) -> str | None:
    """The command that fixes a failure, where the failure says it (a package that is not installed)."""
    m = _NO_MODULE.search(message)
    if m:
        return f".venv/bin/pip install {m.group(1).split('.')[0].replace('_', '-')}"
    return None


def check(papers: list[Paper], profile: str, overrides: dict[str, dict[str, Any]] | None = None, jobs: int = 1) -> int:
    """``overrides``: ``{slug: {name: value}}`` on top of each paper's preflight overrides. ``jobs``: papers checked
    at the same time, each in a process of its own."""
    check_jobs(jobs)
    plans = []
    for paper in papers:
        shrink = paper.preflight(profile)
        if shrink is None:
            raise ReproError(f"{paper.slug} declares no preflight for profile {profile!r} (profiles.yaml `preflight: "
                             f"{{{profile}: {{...}}}}`: the overrides that shrink it to one seed and a few examples)")
        plans.append((paper, paper.resolve(profile, {**shrink, **(overrides or {}).get(paper.slug, {})})))
    failed = []

    def report(i, r):
        slug, wall = r["slug"], r["wall_s"]
        if r["error"] is None:
            print(f"ok      {slug} [{profile}] ran on its smallest slice in {wall:.0f} s on {r['where']}",
                  file=sys.stderr, flush=True)
        else:
            failed.append(slug)
            print(f"FAILED  {slug} [{profile}] after {wall:.0f} s: {r['error']}", file=sys.stderr, flush=True)
            fix = fix_for(r["error"])
            if fix:
                print(f"        fix: {fix}", file=sys.stderr, flush=True)
        for item in r["missing"]:
            print(f"        missing here (a stand-in was used): {item['missing']}\n          get it: {item['fix']}",
                  file=sys.stderr, flush=True)

    in_processes(_check_one, [(paper.slug, profile, params) for paper, params in plans], jobs, report)
    if failed:
        print(f"{len(failed)} of {len(plans)} profile path(s) did not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _check_one(slug: str, profile: str, params: dict) -> dict:
    """One paper's preflight (here or in a worker process): {"slug", "error", "wall_s", "where", "missing"}."""
    from .registry import get_paper

    paper = get_paper(slug)
    tmp = Path(tempfile.mkdtemp(prefix=f"paperlib-check-{slug}-"))
    log = tmp / "missing.jsonl"
    t0 = time.perf_counter()
    env = {PREFLIGHT_ENV: "1", PREFLIGHT_LOG_ENV: str(log), SEED_CACHE_ENV: "off"}
    error, where = None, None
    try:
        with _environment(env):
            res = run_paper(paper, profile, params, tmp / "out", stream=False)
        where = res["manifest"].get("hardware", {}).get("gpu") or "CPU"
    except RunFailed as err:
        error = str(err)
    wall = time.perf_counter() - t0
    missing = read_log(log)
    if error is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"slug": slug, "error": error, "wall_s": wall, "where": where, "missing": missing}
