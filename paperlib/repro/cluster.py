"""Runs spread over a SLURM cluster (or over local processes) through submitit.

``paperlib reproduce PAPER --executor slurm [--slurm-partition P] [--split seeds]`` submits each
paper's run as a SLURM job whose resources (GPUs, CPU cores, memory, time) come from the profile's
``resources`` entry in profiles.yaml. With ``--split seeds`` (for papers whose paper.yaml declares
``split: [seeds]``, i.e. whose seed-indexed work goes through ``run.per_seed``), every seed becomes
a job of its own that fills the shared per-seed cache (:mod:`paperlib.repro.seeds`), and when all
have finished one more job runs the notebook over all seeds: it reads the cache instead of
recomputing, then draws the figures and computes the claims. A job that was killed left only
whole files behind; submitting the same command again recomputes only the seeds that are missing.

``--executor submitit-local`` runs the same jobs as local processes through submitit's
``LocalExecutor``: the cluster path, end to end, on one machine (what the tests use).
``--executor local`` (the default) is the plain in-process run of :func:`paperlib.repro.runner.reproduce`.

The submitting process waits for the jobs (printing their states) and prints where the results went;
on a login node run it under ``nohup`` or ``tmux``. Job logs go to ``runs/_jobs/<stamp>/``.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

from .registry import Paper, ReproError, get_paper, repo_root
from .runner import Destination, RunFailed, finish, run_paper
from .seeds import SEED_CACHE_ENV, SEED_CACHE_READ_ENV

EXECUTORS = ("local", "slurm", "submitit-local")
DEFAULT_RESOURCES = {"gpus": 0, "cpus": 2, "mem_gb": 8, "hours": 1.0}


def _executor(kind: str, folder: Path, resources: dict, slurm: dict[str, str]):
    try:
        import submitit
    except ImportError:
        raise ReproError("--executor slurm needs the package submitit: `.venv/bin/pip install submitit`") from None
    res = {**DEFAULT_RESOURCES, **(resources or {})}
    if kind == "submitit-local":
        ex = submitit.LocalExecutor(folder=str(folder))
        ex.update_parameters(timeout_min=max(1, int(res["hours"] * 60)))
        return ex
    ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    params: dict[str, Any] = {"timeout_min": max(1, int(res["hours"] * 60)), "cpus_per_task": int(res["cpus"]),
                              "mem_gb": float(res["mem_gb"]), "nodes": 1, "tasks_per_node": 1}
    if res["gpus"]:
        params["gpus_per_node"] = int(res["gpus"])
    extra = {}
    for key, value in slurm.items():
        if key == "partition":
            params["slurm_partition"] = value
        else:
            extra[key] = value  # passed to sbatch as --key=value
    if extra:
        params["slurm_additional_parameters"] = extra
    ex.update_parameters(**params)
    return ex


def _job(slug: str, profile: str, params: dict, out: str | None, env: dict[str, str]) -> dict:
    """One job: a plain run of one paper's notebook (on the node), in ``env``."""
    os.environ.update(env)
    try:
        res = run_paper(get_paper(slug), profile, params, Path(out) if out else None, stream=False)
    except RunFailed as err:
        raise RuntimeError(str(err)) from None
    return {"paper": slug, "claims": res["claims"], "checks": res.get("checks", []),
            "measurements": res["measurements"]}


def _wait(jobs: list, what: list[str], poll_s: float = 5.0) -> list[str]:
    """Wait for every job, printing state changes; returns the errors of the failed ones. Polls every 0.2 s at
    first, then less often, up to every ``poll_s`` seconds (a short job is not kept waiting for a long poll)."""
    last: dict[int, str] = {}
    t0 = time.perf_counter()
    interval = 0.2
    while True:
        done = 0
        for i, job in enumerate(jobs):
            state = "DONE" if job.done() else job.state
            if last.get(i) != state:
                print(f"   [{time.perf_counter() - t0:5.0f} s] {what[i]}: job {job.job_id} {state}",
                      file=sys.stderr, flush=True)
                last[i] = state
            done += job.done()
        if done == len(jobs):
            break
        time.sleep(interval)
        interval = min(poll_s, interval * 1.5)
    errors = []
    for job, name in zip(jobs, what):
        exc = job.exception()
        if exc is not None:
            errors.append(f"{name} (job {job.job_id}, logs {job.paths.stderr}): {str(exc).strip().splitlines()[-1]}")
    return errors


def seeds_of(paper: Paper, params: dict) -> list[int]:
    if "seeds" in params:
        return list(params["seeds"])
    if "seeds" not in paper.parameters:
        raise ReproError(f"{paper.slug}: --split seeds needs a `seeds` parameter in its notebook")
    return list(paper.parameters["seeds"].default)


def submit(plans: list[tuple[Paper, dict]], profile: str, out: Path | None, executor: str, split: str | None,
           slurm: dict[str, str], seed_cache: Path | None = None) -> int:
    """Run ``plans`` (papers with resolved parameters) as jobs; exit code as :func:`runner.reproduce`."""
    if executor not in EXECUTORS:
        raise ReproError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if executor == "local":
        raise ReproError("--split seeds runs its jobs through submitit: add --executor slurm (a cluster) or "
                         "--executor submitit-local (local processes)")
    if split not in (None, "seeds"):
        raise ReproError(f"--split {split!r}: only `--split seeds` exists")
    for paper, _ in plans:
        if split and "seeds" not in (paper.meta.get("split") or []):
            raise ReproError(f"{paper.slug} cannot run --split seeds: its notebook does not keep per-seed work "
                             "apart (paper.yaml has no `split: [seeds]`); run it without --split")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logs = repo_root() / "runs" / "_jobs" / stamp
    if seed_cache is None:
        from ..data import cache_dir
        seed_cache = cache_dir("seeds")
    env = {SEED_CACHE_ENV: str(seed_cache), SEED_CACHE_READ_ENV: "1" if split else "0"}
    failed, done = [], []
    for paper, params in plans:
        ex = _executor(executor, logs / paper.slug, paper.resources(profile), slurm)
        print(f"== {paper.slug} [{profile}] through {executor}; job logs in {logs / paper.slug}", file=sys.stderr,
              flush=True)
        if split:
            seeds = seeds_of(paper, params)
            scratch = logs / paper.slug / "seed-runs"
            jobs = [ex.submit(_job, paper.slug, profile, {**params, "seeds": [s]}, str(scratch / f"seed-{s}"), env)
                    for s in seeds]
            errors = _wait(jobs, [f"{paper.slug} seed {s}" for s in seeds])
            if errors:
                failed.append(paper.slug)
                print("== FAILED " + "\n   ".join(errors) + "\n   the seeds that finished are cached: the same "
                      "command recomputes only the missing ones", file=sys.stderr, flush=True)
                continue
        job = ex.submit(_job, paper.slug, profile, params, str(out) if out else None, env)
        errors = _wait([job], [f"{paper.slug} merge over all seeds" if split else paper.slug])
        if errors:
            failed.append(paper.slug)
            print("== FAILED " + "\n   ".join(errors), file=sys.stderr, flush=True)
            continue
        done.append(job.result())
        print(f"== {paper.slug}: done -> {Destination.for_run(paper.slug, profile, out).results}", file=sys.stderr,
              flush=True)
    return finish(done, failed, len(plans), profile, out)
