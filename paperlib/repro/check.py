"""``paperlib check``: does a profile's path start on this machine? (:mod:`paperlib.preflight`)

For each paper: the profile's parameters with its ``preflight`` overrides (profiles.yaml), the
notebook run once into a temporary folder with ``$PAPERLIB_PREFLIGHT=1`` (data that are not here
replaced by stand-ins of their shape, and noted), on CUDA when present (the profile's own
accelerator setting), else on the CPU. Prints, per paper, whether the path ran, how long it took,
and what is missing with the command that fixes it. Exit code 0 when every path ran.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..preflight import PREFLIGHT_ENV, PREFLIGHT_LOG_ENV, read_log
from .registry import Paper, ReproError
from .runner import RunFailed, _environment, run_paper
from .seeds import SEED_CACHE_ENV

_NO_MODULE = re.compile(r"No module named '([^']+)'")


def fix_for(message: str) -> str | None:
    """The command that fixes a failure, where the failure says it (a package that is not installed)."""
    m = _NO_MODULE.search(message)
    if m:
        return f".venv/bin/pip install {m.group(1).split('.')[0].replace('_', '-')}"
    return None


def check(papers: list[Paper], profile: str, overrides: dict[str, dict[str, Any]] | None = None) -> int:
    """``overrides``: ``{slug: {name: value}}`` on top of each paper's preflight overrides."""
    plans = []
    for paper in papers:
        shrink = paper.preflight(profile)
        if shrink is None:
            raise ReproError(f"{paper.slug} declares no preflight for profile {profile!r} (profiles.yaml `preflight: "
                             f"{{{profile}: {{...}}}}`: the overrides that shrink it to one seed and a few examples)")
        plans.append((paper, paper.resolve(profile, {**shrink, **(overrides or {}).get(paper.slug, {})})))
    failed = []
    for paper, params in plans:
        tmp = Path(tempfile.mkdtemp(prefix=f"paperlib-check-{paper.slug}-"))
        log = tmp / "missing.jsonl"
        t0 = time.perf_counter()
        env = {PREFLIGHT_ENV: "1", PREFLIGHT_LOG_ENV: str(log), SEED_CACHE_ENV: "off"}
        error = None
        try:
            with _environment(env):
                res = run_paper(paper, profile, params, tmp / "out", stream=False)
        except RunFailed as err:
            error = str(err)
        wall = time.perf_counter() - t0
        missing = read_log(log)
        if error is None:
            hw = res["manifest"].get("hardware", {})
            where = hw.get("gpu") or "CPU"
            print(f"ok      {paper.slug} [{profile}] ran on its smallest slice in {wall:.0f} s on {where}",
                  file=sys.stderr, flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            failed.append(paper.slug)
            print(f"FAILED  {paper.slug} [{profile}] after {wall:.0f} s: {error}", file=sys.stderr, flush=True)
            fix = fix_for(error)
            if fix:
                print(f"        fix: {fix}", file=sys.stderr, flush=True)
        for item in missing:
            print(f"        missing here (a stand-in was used): {item['missing']}\n          get it: {item['fix']}",
                  file=sys.stderr, flush=True)
    if failed:
        print(f"{len(failed)} of {len(plans)} profile path(s) did not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
