"""Per-seed results that outlive the run: resume an interrupted run, or spread seeds over jobs.

A notebook wraps each seed-indexed piece of work (a study whose rows carry a ``"seed"`` key) in
:meth:`paperlib.repro.record.Run.per_seed`::

    rows = run.per_seed("mixtures", seeds, lambda todo: ex.run_mixture_study(..., todo, ...))

The function is called once with the seeds that are not cached yet (so a worker pool still spreads
them); its rows are stored one file per seed, each written whole or not at all. The key of a seed's
file covers the paper, the unit's name, every notebook parameter except ``seeds``, the notebook's
code cells and the source of the paper's package (:func:`paperlib.cache.code_version`), so a
changed parameter or changed code never reads an old result.

Rows are always written (to ``$PAPERLIB_SEED_CACHE``, default ``<cache>/seeds``); they are read
back only when ``$PAPERLIB_SEED_CACHE_READ=1``: ``paperlib reproduce --resume`` sets it, and so do
the jobs of ``--split seeds`` (one job per seed fills the cache, then one job runs the notebook over
all seeds and reads it). A plain run therefore always recomputes, and a rerun that is meant to
check reproducibility cannot silently read its own earlier numbers. ``$PAPERLIB_SEED_CACHE=off``
turns the cache off. Every seed read from the cache is listed under the run's ``artifacts``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..cache import code_version, note_artifact
from .io import _jsonable, atomic_write_json

SEED_CACHE_ENV = "PAPERLIB_SEED_CACHE"
SEED_CACHE_READ_ENV = "PAPERLIB_SEED_CACHE_READ"


def cache_root() -> Path | None:
    """Where per-seed rows go, or None when the cache is off."""
    env = os.environ.get(SEED_CACHE_ENV)
    if env and env.lower() == "off":
        return None
    if env:
        return Path(env).expanduser()
    from ..data import cache_dir
    return cache_dir("seeds")


def reading() -> bool:
    return os.environ.get(SEED_CACHE_READ_ENV) == "1"


def notebook_code(path: Path) -> str:
    """The code cells of a jupytext percent notebook (markdown edits do not invalidate the cache)."""
    import jupytext
    nb = jupytext.read(path)
    return "\n# cell\n".join(c.source for c in nb.cells if c.cell_type == "code")


def unit_key(paper: str, unit: str, params: Mapping[str, Any], code: str) -> str:
    """The key of one unit's per-seed rows: everything that could change them except the seed."""
    blob = json.dumps({"paper": paper, "unit": unit, "params": {k: v for k, v in params.items() if k != "seeds"},
                       "code": code}, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class SeedCache:
    """The per-seed rows of one paper's run: ``root/<paper>/<unit>-<key>/seed-<n>.json``."""

    def __init__(self, paper: str, params: Mapping[str, Any], notebook: Path | None, root: Path | None = None,
                 read: bool | None = None):
        self.paper, self.params = paper, dict(params)
        self.root = cache_root() if root is None else root
        self.read = reading() if read is None else read
        code = notebook_code(notebook) if notebook is not None and notebook.exists() else ""
        try:
            code += code_version(f"paperlib.{paper}")
        except Exception:  # a paper without its own package: the notebook's code is the key
            pass
        self.code = code

    def folder(self, unit: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / self.paper / f"{unit}-{unit_key(self.paper, unit, self.params, self.code)}"

    def run(self, unit: str, seeds: Sequence[int], compute: Callable[[list[int]], Iterable[Mapping]],
            log: Callable[[str], None] = print) -> list[dict]:
        """Rows for ``seeds`` (in their order), computing only the seeds not cached."""
        if not unit.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"per_seed unit name {unit!r}: use letters, digits, '-' and '_'")
        folder = self.folder(unit)
        have: dict[int, list[dict]] = {}
        if folder is not None and self.read:
            for s in seeds:
                path = folder / f"seed-{s}.json"
                if path.exists():
                    have[s] = json.loads(path.read_text())["rows"]
                    note_artifact({"kind": f"seed-rows/{self.paper}/{unit}", "key": f"{folder.name}/seed-{s}", "seed": s,
                                   "path": str(path), "cached": True})
            if have:
                log(f"{unit}: seeds {sorted(have)} read from the per-seed cache ({folder})")
        todo = [s for s in seeds if s not in have]
        if todo:
            rows = [dict(r) for r in compute(todo)]
            by_seed: dict[int, list[dict]] = {s: [] for s in todo}
            for r in rows:
                if "seed" not in r or r["seed"] not in by_seed:
                    raise ValueError(f"per_seed({unit!r}): every row needs a 'seed' key among {todo}; got "
                                     f"{r.get('seed', 'no seed')!r}")
                by_seed[r["seed"]].append(r)
            for s in todo:
                if folder is not None:
                    atomic_write_json(folder / f"seed-{s}.json", {"paper": self.paper, "unit": unit, "seed": s,
                                                                 "rows": by_seed[s]})
                # what a reader of the cache gets back (tuples become lists...): a resumed run sees the same
                have[s] = json.loads(json.dumps(by_seed[s], default=_jsonable))
        return [r for s in seeds for r in have[s]]
