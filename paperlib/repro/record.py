"""What a notebook records: metrics, per-seed measurements, figures, and its claims' verdicts.

Used from inside a notebook::

    from paperlib.repro.record import Run
    run = Run("compsum", globals())       # keeps the values of the notebook's parameters cell
    run.metric("c10/acc/tau=1", 0.81)
    run.measure("acc_gap_c10", [0.01, 0.02, 0.0])   # one value per seed, for claims
    run.figure(fig, "tau_sweep", rows)    # PNG + PDF, and the plotted numbers as CSV
    run.check_claims()                    # verdicts from claims.yaml, shown as a table
    run.save()

Under ``paperlib reproduce`` the runner sets ``PAPERLIB_RUN_DIR`` to a staging folder and moves
what is written there into place only when the whole notebook succeeded. Opened interactively,
a notebook writes to ``runs/<paper>/interactive/`` (git-ignored).

A ``Run`` also points ``$PAPERLIB_ARTIFACT_LOG`` at a file in its folder, where
:func:`paperlib.cache.artifact_key` notes every cached artefact the run loads or makes (key and
code version, also from worker processes); ``save()`` records them under ``artifacts``.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from ..cache import ARTIFACT_LOG_ENV, read_artifact_log
from . import claims as claims_mod
from .io import atomic_write_json, atomic_write_text
from .registry import repo_root

RUN_DIR_ENV = "PAPERLIB_RUN_DIR"
RECORD_FILE = "record.json"
ARTIFACT_LOG = "artifacts.jsonl"


class Run:
    def __init__(self, paper: str, namespace: Mapping[str, Any]):
        from .registry import get_paper

        self.paper = paper
        names = get_paper(paper).parameters
        self.params = {k: namespace[k] for k in names if k in namespace}
        env = os.environ.get(RUN_DIR_ENV)
        self.dir = Path(env) if env else repo_root() / "runs" / paper / "interactive"
        self.fig_dir = self.dir / "figures"
        self.fig_dir.mkdir(parents=True, exist_ok=True)
        self.metrics: dict[str, Any] = {}
        self.measurements: dict[str, list[float]] = {}
        self.figures: list[str] = []
        self.claims: list[dict] = []
        self.checks: list[dict] = []
        self.hardware: dict[str, Any] = {}
        self._seed_cache = None
        self.artifact_log = self.dir / ARTIFACT_LOG
        self.artifact_log.unlink(missing_ok=True)  # a fresh run (an interactive rerun of the first cell too)
        os.environ[ARTIFACT_LOG_ENV] = str(self.artifact_log)

    def metric(self, name: str, value: Any) -> Any:
        self.metrics[name] = _clean(value)
        return value

    def measure(self, name: str, per_seed: Iterable[float]) -> list[float]:
        values = [float(v) for v in per_seed]
        self.measurements[name] = values
        return values

    def per_seed(self, unit: str, seeds: Sequence[int], compute, log=print) -> list[dict]:
        """Rows of a seed-indexed study, each seed's rows cached apart (:mod:`paperlib.repro.seeds`):
        ``compute(todo_seeds)`` returns rows with a ``"seed"`` key and is called only for seeds that
        are not cached (or for all of them, unless the run resumes or is a ``--split seeds`` job)."""
        from .registry import get_paper
        from .seeds import SeedCache
        if self._seed_cache is None:
            self._seed_cache = SeedCache(self.paper, self.params, get_paper(self.paper).notebook)
        return self._seed_cache.run(unit, seeds, compute, log)

    def figure(self, fig, name: str, rows: Sequence[Mapping[str, Any]] | None = None) -> Path:
        """Save ``fig`` as ``name``.png and .pdf, and the numbers it plots as ``name``.csv."""
        png = self.fig_dir / f"{name}.png"
        fig.savefig(png, dpi=130, bbox_inches="tight")
        fig.savefig(self.fig_dir / f"{name}.pdf", bbox_inches="tight")
        if rows:
            buf = io.StringIO()
            fields = list(dict.fromkeys(k for r in rows for k in r))
            writer = csv.DictWriter(buf, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(self.fig_dir / f"{name}.csv", buf.getvalue())
        self.figures.append(name)
        return png

    def check_claims(self, not_run: Iterable[str] = ()) -> list[dict]:
        """Evaluate ``reproductions/<paper>/claims.yaml`` (claims and checks) on the recorded measurements.

        A measurement named there but never recorded raises ``MissingMeasurement``: a misspelt name
        fails the run instead of quietly leaving a claim unassessed. ``not_run`` names the measurements
        a configuration does not produce on purpose (e.g. arms a path check leaves out): the conditions
        that read them are not assessed ("was not recorded by this run"). Every other name must be
        recorded, so a misspelt entry of ``not_run`` still fails.
        """
        spec = self._claims_spec()
        not_run = set(not_run)
        names = claims_mod.measurement_names(spec)
        recorded = not_run & set(self.measurements)
        if recorded:
            raise claims_mod.ClaimsError(f"measurement(s) {sorted(recorded)} were recorded but are listed as not run")
        claims_mod._require(names - not_run, self.measurements)  # strict on every other name
        out = claims_mod.evaluate_spec(spec, self.measurements, strict=False)
        self.claims, self.checks = out["claims"], out["checks"]
        return self.claims

    def _claims_spec(self):
        path = repo_root() / "reproductions" / self.paper / "claims.yaml"
        return claims_mod.load_spec(yaml.safe_load(path.read_text()))

    def claim_measurements(self) -> set[str]:
        """Every measurement ``claims.yaml`` reads (claims, their controls, checks): what a configuration that
        measures none of them (e.g. a path check on another task) passes to ``check_claims`` as ``not_run``."""
        return claims_mod.measurement_names(self._claims_spec())

    def claims_table(self) -> str:
        """The paper's claims, then the project's own checks, as terminal tables."""
        res = {"paper": self.paper, "claims": self.claims, "checks": self.checks}
        text = (f"The paper's claims ({claims_mod.summary(self.claims)}):\n" + claims_mod.claims_table([res]))
        if self.checks:
            text += (f"\n\nOur own checks ({claims_mod.summary(self.checks)}), not the paper's claims:\n"
                     + claims_mod.claims_table([res], key="checks"))
        return text

    def save(self) -> Path:
        self.hardware.update(_hardware())
        path = self.dir / RECORD_FILE
        atomic_write_json(path, {"paper": self.paper, "params": _clean(self.params),
                                 "metrics": self.metrics, "measurements": self.measurements,
                                 "claims": self.claims, "checks": self.checks, "figures": self.figures,
                                 "artifacts": read_artifact_log(self.artifact_log), "hardware": self.hardware})
        return path


def _hardware() -> dict:
    """The accelerator the kernel saw (the runner adds CPU facts)."""
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {"gpu": None, "gpu_count": 0, "torch_threads": torch.get_num_threads()}
    return {"gpu": torch.cuda.get_device_name(0), "gpu_count": torch.cuda.device_count()}


def _clean(x: Any) -> Any:
    """JSON-friendly: numpy/torch scalars to Python, NaN to None."""
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 0) == 0:
        x = x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    return x
