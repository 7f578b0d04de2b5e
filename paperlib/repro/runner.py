"""Run a paper's notebook through papermill and put its results in place, all or nothing.

Steps for one paper: resolve and type-check the parameters (before anything runs), convert the
jupytext notebook to .ipynb in a staging folder, execute it with an explicit kernel and the
staging folder as ``PAPERLIB_RUN_DIR``, then, only if every cell succeeded, write
``results.json`` (with the run's manifest) and move the executed notebook and figures into place.
A failure leaves what was there before untouched and says which cell failed.

The kernel starts with ``PYTHONHASHSEED=0`` (the iteration order of sets of strings then repeats
from run to run, in the kernel and in the processes it spawns) and matplotlib's inline backend
(figures are shown in the executed notebook, also when the caller's environment says ``Agg``).

Results committed to the repository must name the code that produced them: a run of any profile
but ``smoke`` into the repository (no ``--out``) is refused while the checkout has uncommitted
inputs (:func:`paperlib.repro.io.uncommitted_inputs`: tracked changes, or a notebook or module not
yet committed), unless ``allow_dirty``; then it warns and the manifest says ``dirty: true``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager
from traitlets import default

from .claims import claims_table, summary
from .io import atomic_write_json, head_commit, manifest, replace_dir, uncommitted_inputs
from .record import RECORD_FILE, RUN_DIR_ENV
from .seeds import SEED_CACHE_ENV, SEED_CACHE_READ_ENV
from .registry import Paper, ReproError, repo_root

KERNEL = "python3"
KERNELSPEC = {"name": KERNEL, "display_name": "Python 3", "language": "python"}  # the project's kernel
KERNEL_ENV = {"PYTHONHASHSEED": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
# Progress bars and advisories that libraries print into an executed notebook (tqdm's "IProgress not
# found", datasets' and transformers' bars); a user who sets these variables keeps their own values.
QUIET_ENV = {"TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error",
             "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore:IProgress not found"}


class IPCKernelManager(KernelManager):
    """The kernel on a local socket (IPC) instead of TCP: nothing listens on the network, and the kernel
    has no reason to print "Kernel is running over TCP without encryption" into the run's output."""

    @default("transport")
    def _default_transport(self):
        return "ipc"

    @default("ip")
    def _default_ip(self):
        # IPC sockets are files named <ip>-<n>: a folder of its own per kernel, so that kernels started at
        # the same time (seed jobs of `--split seeds`, two runs in one checkout) never pick the same names
        return os.path.join(tempfile.mkdtemp(prefix="paperlib-kernel-"), "kernel")

    def cleanup_ipc_files(self) -> None:
        super().cleanup_ipc_files()
        folder = os.path.dirname(self.ip)
        if os.path.basename(folder).startswith("paperlib-kernel-"):
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Destination:
    results: Path  # results.json and the executed notebook
    figures: Path

    @classmethod
    def for_run(cls, paper: str, profile: str, out: Path | None) -> "Destination":
        if out is not None:
            return cls(Path(out) / paper, Path(out) / paper / "figures")
        root = repo_root()
        results = root / "reproductions" / paper / "results" / profile
        # figures/<paper>/ holds the committed quick-profile figures; other profiles keep theirs
        # beside their results so a smoke or full run never overwrites the committed ones.
        figures = root / "figures" / paper if profile == "quick" else results / "figures"
        return cls(results, figures)


class RunFailed(Exception):
    pass


_BOOKKEEPING = ("Executing Cell", "Ending Cell", "Input Notebook", "Output Notebook", "Working directory",
                "Executing notebook with kernel", "Unable to parse line", "Passed unknown parameter")


class _Progress(logging.Filter):
    """Papermill's bookkeeping out, a progress line per cell in: ``[compsum] cell 5/18, 12 s``."""

    def __init__(self):
        super().__init__()
        self.slug, self.total, self.t0 = "", 0, time.perf_counter()
        self.tagged = False  # several papers at once (--jobs): every notebook line names its paper

    def start(self, slug: str, total: int) -> None:
        self.slug, self.total, self.t0 = slug, total, time.perf_counter()

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.getMessage())
        if msg.startswith("Executing Cell") and self.total:
            digits = "".join(ch for ch in msg[len("Executing Cell"):] if ch.isdigit())
            record.msg, record.args = (f"[{self.slug}] cell {digits}/{self.total}, "
                                       f"{time.perf_counter() - self.t0:.0f} s"), ()
            record.progress = True
            return True
        # a figure's text stand-in ("<Figure size 580x420 with 1 Axes>"): the figure itself is in the notebook
        if msg.startswith("<Figure size") and msg.rstrip().endswith("Axes>"):
            return False
        return msg.strip() != "" and not msg.startswith(_BOOKKEEPING)


class _IndentFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "progress", False):
            return record.getMessage()
        prefix = f"  [{_PROGRESS.slug}] | " if _PROGRESS.tagged else "  | "
        return "\n".join(prefix + line for line in record.getMessage().rstrip().splitlines())


_PROGRESS = _Progress()


def _notebook_logger(stream: bool) -> None:
    """Stream the notebook's own printed lines and a progress line per cell to the terminal, without
    papermill's bookkeeping; quiet (``stream=False``): errors only."""
    log = logging.getLogger("papermill")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_IndentFormatter())
        handler.addFilter(_PROGRESS)
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO if stream else logging.ERROR)


@contextmanager
def _environment(values: dict[str, str]):
    """``os.environ`` with ``values`` set (the kernel inherits it), restored afterwards."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_paper(paper: Paper, profile: str, params: dict[str, Any], out: Path | None = None,
              stream: bool = True) -> dict:
    """Execute one paper's notebook; returns its results dict or raises RunFailed."""
    import jupytext
    import papermill as pm

    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    changes = uncommitted_inputs(repo_root())  # as the run starts: what the manifest reports
    commit = head_commit(repo_root())
    staging = Path(tempfile.mkdtemp(prefix=f"paperlib-{paper.slug}-{profile}-"))
    nb = jupytext.read(paper.notebook)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    source = staging / f"{paper.slug}.source.ipynb"
    jupytext.write(nb, source, fmt="ipynb")
    executed = staging / f"{paper.slug}.ipynb"
    _notebook_logger(stream)
    _PROGRESS.start(paper.slug, len(nb.cells) + 1)  # papermill adds the injected-parameters cell
    quiet = {k: os.environ.get(k, v) for k, v in QUIET_ENV.items()}
    try:
        with _environment({RUN_DIR_ENV: str(staging), **KERNEL_ENV, **quiet}):
            pm.execute_notebook(source, executed, parameters=params, kernel_name=KERNEL,
                                progress_bar=False, log_output=stream, cwd=str(paper.notebook.parent),
                                request_save_on_cell_execute=True,
                                kernel_manager_class=f"{__name__}.IPCKernelManager")
    except pm.PapermillExecutionError as err:
        first = next((ln for ln in (err.source or "").splitlines() if ln.strip()), "")
        raise RunFailed(f"{paper.slug}: cell {err.cell_index} (execution count {err.exec_count}, "
                        f"starting {first[:60]!r}) failed with {err.ename}: {err.evalue}\n"
                        f"  the failed notebook is kept at "
                        f"{executed}; earlier results were left untouched") from None
    except Exception as err:  # kernel died, could not start, ...
        raise RunFailed(f"{paper.slug}: the notebook did not run: {type(err).__name__}: {err}\n"
                        f"  staging folder kept at {staging}; earlier results were left untouched") from None
    record_path = staging / RECORD_FILE
    if not record_path.exists():
        raise RunFailed(f"{paper.slug}: the notebook ran but never called run.save(), so there is no "
                        f"{RECORD_FILE}; executed notebook kept at {executed}")
    record = json.loads(record_path.read_text())
    results = {"paper": paper.slug, "profile": profile, "status": "ok",
               "manifest": manifest(repo_root(), started, time.perf_counter() - t0, record.get("hardware"),
                                    changes, commit),
               "params": record.get("params", params), "metrics": record.get("metrics", {}),
               "measurements": record.get("measurements", {}), "claims": record.get("claims", []),
               "checks": record.get("checks", []),
               "figures": [f"{name}.png" for name in record.get("figures", [])],
               "artifacts": record.get("artifacts", [])}
    _install(paper.slug, profile, staging, executed, results, Destination.for_run(paper.slug, profile, out))
    shutil.rmtree(staging, ignore_errors=True)
    return results


def _install(slug: str, profile: str, staging: Path, executed: Path, results: dict, dest: Destination) -> None:
    """Everything is assembled in a fresh folder, then swapped in: no half-written results."""
    assembled = staging / "assembled"
    assembled.mkdir()
    shutil.copyfile(executed, assembled / executed.name)
    atomic_write_json(assembled / "results.json", results)
    fig_src = staging / "figures"
    if dest.figures.is_relative_to(dest.results):
        if fig_src.exists():
            shutil.copytree(fig_src, assembled / dest.figures.relative_to(dest.results))
        replace_dir(assembled, dest.results)
    else:
        replace_dir(assembled, dest.results)
        if fig_src.exists():
            replace_dir(fig_src, dest.figures)


def check_clean_tree(profile: str, out: Path | None, allow_dirty: bool) -> None:
    """Refuse (ReproError) a run that would commit results from uncommitted code; see the module doc."""
    if out is not None or profile == "smoke":
        return
    changes = uncommitted_inputs(repo_root())
    if changes is None:
        print(f"paperlib: warning: {repo_root()} is not a git checkout, so these {profile} results cannot "
              "name the code that produced them", file=sys.stderr)
        return
    if not changes:
        return
    listing = "\n".join(f"    {p}" for p in changes[:20]) + ("\n    ..." if len(changes) > 20 else "")
    if not allow_dirty:
        raise ReproError(
            f"the checkout has uncommitted changes that a run may read:\n{listing}\n"
            f"  {profile} results written into the repository must come from committed code, so that their "
            "git sha reproduces them. Commit (or stash) these changes; or write elsewhere with --out DIR; "
            "or pass --allow-dirty to run anyway (the results will say dirty: true).")
    bar = "!" * 78
    print(f"{bar}\n!! WARNING: running the {profile} profile into the repository from a DIRTY checkout\n"
          f"!! (--allow-dirty). These files differ from the commit the results will name:\n{listing}\n"
          f"!! The results record dirty: true; do not commit them as a reproduction.\n{bar}",
          file=sys.stderr, flush=True)


def check_writable(folder: Path) -> None:
    """ReproError unless files can be created under ``folder`` (made if missing): checked before a
    notebook runs for minutes, not after."""
    folder = Path(folder)
    probe = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".paperlib-write-check-")
        os.close(fd)
    except OSError as err:
        raise ReproError(f"cannot write results under {folder}: {err.strerror or err}. Choose a folder you can "
                         "write to (--out DIR), or fix its permissions; nothing was run.") from None
    finally:
        if probe:
            Path(probe).unlink(missing_ok=True)


def prepare(papers: list[Paper], profile: str, overrides: dict[str, Any] | dict[str, dict[str, Any]],
            out: Path | None, allow_dirty: bool = False) -> list[tuple[Paper, dict]]:
    """Every check a run makes before it starts, for all papers at once: each paper's parameters
    resolved (``overrides``: one dict for every paper, or ``{slug: {...}}`` per paper, from
    ``-p PAPER.KEY=VALUE``), a clean tree for results that go into the repository, a warning for a
    notebook edited since its commit, writable destinations. Returns (paper, parameters) plans."""
    slugs = {p.slug for p in papers}
    per_paper = bool(overrides) and all(k in slugs and isinstance(v, dict) for k, v in overrides.items())
    plans = [(p, p.resolve(profile, overrides.get(p.slug, {}) if per_paper else overrides))
             for p in papers]  # raises ReproError before any run
    check_clean_tree(profile, out, allow_dirty)
    changed = set(uncommitted_inputs(repo_root()) or [])
    for paper, _ in plans:
        rel = paper.notebook.relative_to(repo_root()).as_posix()
        if rel in changed:  # e.g. parameter values typed into it in JupyterLab and autosaved
            print(f"paperlib: WARNING: {rel} differs from the committed notebook; this run uses the edited "
                  f"version (`git diff {rel}` shows what changed; `paperlib lab {paper.slug}` explores a paper "
                  "without editing its source)", file=sys.stderr, flush=True)
    for paper, _ in plans:
        dest = Destination.for_run(paper.slug, profile, out)
        check_writable(dest.results.parent)
    return plans


def reproduce(papers: list[Paper], profile: str, overrides: dict[str, Any] | dict[str, dict[str, Any]],
              out: Path | None, stream: bool = True, allow_dirty: bool = False, resume: bool = False,
              seed_cache: Path | None = None, jobs: int = 1) -> int:
    """Check everything first (:func:`prepare`), then run each paper here; print where results went.
    Exit code. ``resume``: read the per-seed results an earlier (interrupted) run left
    (:mod:`paperlib.repro.seeds`). ``jobs``: papers run at the same time, each notebook in a process of its
    own (its kernel takes its threads from its own parameters). Jobs on a cluster:
    :func:`paperlib.repro.cluster.submit`."""
    check_jobs(jobs)
    plans = prepare(papers, profile, overrides, out, allow_dirty)
    env = {SEED_CACHE_READ_ENV: "1" if resume else "0"}
    if seed_cache is not None:
        env[SEED_CACHE_ENV] = str(seed_cache)
    with _environment(env):
        return _run_all(plans, profile, out, stream, jobs)


def check_jobs(jobs: int) -> None:
    if not isinstance(jobs, int) or jobs < 1:
        raise ReproError(f"--jobs {jobs!r}: give the number of papers to run at the same time, 1 or more")


def in_processes(fn, args: list[tuple], jobs: int, on_done) -> list:
    """``fn(*a)`` for each ``a``: here, one after another (``jobs`` 1 or a single item), else in ``jobs`` spawned
    processes; ``on_done(index, result)`` as each one finishes."""
    if jobs <= 1 or len(args) <= 1:
        out = []
        for i, a in enumerate(args):
            out.append(fn(*a))
            on_done(i, out[-1])
        return out
    from ..training import run_in_workers  # torch and lightning: only imported when papers run side by side

    return run_in_workers(fn, args, workers=min(jobs, len(args)), threads_per_worker=1,
                          on_done=lambda i, r, n: on_done(i, r))


def _run_one(slug: str, profile: str, params: dict, out: Path | None, stream: bool, tagged: bool) -> dict:
    """One paper's run (in this process or a worker): {"slug", "results" or "error", "wall_s"}."""
    from .registry import get_paper

    paper = get_paper(slug)
    _PROGRESS.tagged = tagged
    if tagged:
        print(f"== {slug}: {paper.title} [{profile}] started", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        return {"slug": slug, "results": run_paper(paper, profile, params, out, stream),
                "wall_s": time.perf_counter() - t0}
    except RunFailed as err:
        return {"slug": slug, "error": str(err), "wall_s": time.perf_counter() - t0}


def _run_all(plans: list[tuple[Paper, dict]], profile: str, out: Path | None, stream: bool, jobs: int = 1) -> int:
    done, failed = [], []
    parallel = jobs > 1 and len(plans) > 1
    if parallel:
        print(f"== {len(plans)} papers, {min(jobs, len(plans))} at a time (each notebook's lines are tagged with "
              "its paper)", file=sys.stderr, flush=True)

    def report(i, r):
        paper = plans[i][0]
        if "error" in r:
            failed.append(paper.slug)
            print(f"== FAILED {r['error']}", file=sys.stderr, flush=True)
        else:
            done.append(r["results"])
            where = Destination.for_run(paper.slug, profile, out)
            print(f"== {paper.slug}: done in {r['wall_s']:.0f} s -> {where.results}", file=sys.stderr, flush=True)

    def one(paper, params):
        if not parallel:
            print(f"== {paper.slug}: {paper.title} [{profile}]", file=sys.stderr, flush=True)
        return _run_one(paper.slug, profile, params, out, stream, parallel)

    if parallel:
        in_processes(_run_one, [(p.slug, profile, params, out, stream, True) for p, params in plans], jobs, report)
    else:
        in_processes(one, list(plans), 1, report)
    order = [p.slug for p, _ in plans]
    done.sort(key=lambda r: order.index(r["paper"]))
    failed.sort(key=order.index)
    return finish(done, failed, len(plans), profile, out, show_table=not stream)


def finish(done: list[dict], failed: list[str], n_papers: int, profile: str, out: Path | None,
           show_table: bool = True) -> int:
    """The end of a run of several papers, local or through a cluster: the claims table (unless each
    notebook already showed its own), where every result went, the claims report when the run wrote
    into the repository, and which papers failed. Returns the exit code (1 if any failed)."""
    if done:
        if show_table:
            print(claims_table(done))
        print("\nResults:", file=sys.stderr)
        for res in done:
            where = Destination.for_run(res["paper"], profile, out)
            print(f"  {res['paper']}: the paper's claims {summary(res['claims'])}"
                  + (f"; our checks {summary(res['checks'])}" if res.get("checks") else "")
                  + f"\n    {where.results / 'results.json'}  (numbers, verdicts, manifest)"
                  + f"\n    {where.results / (res['paper'] + '.ipynb')}  (executed notebook with its figures; "
                  f"open it with `jupyter lab {where.results / (res['paper'] + '.ipynb')}`)"
                  + f"\n    {where.figures}/  (figures as PNG, PDF and the plotted numbers as CSV)",
                  file=sys.stderr)
        if out is None and profile != "smoke":
            from .report import write_report
            print(f"updated {write_report()}", file=sys.stderr)
    if failed:
        print(f"\n{len(failed)} of {n_papers} paper(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0

__all__ = ["prepare", "reproduce", "run_paper", "finish", "check_clean_tree", "RunFailed", "ReproError", "Destination"]
