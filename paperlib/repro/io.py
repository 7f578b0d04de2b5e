"""Writes that never leave half a file behind, and the run manifest."""
from __future__ import annotations

import datetime as dt
import fnmatch
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

MANIFEST_PACKAGES = ("torch", "lightning", "numpy", "scipy", "scikit-learn", "datasets", "matplotlib",
                     "papermill", "jupytext")


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _umask_mode())  # mkstemp makes 0600 files; results are meant to be shared
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_dir(src: Path, dst: Path) -> None:
    """Put the finished folder ``src`` at ``dst``: copied beside it first, then swapped in by rename."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.new."))
    shutil.copytree(src, staging, dirs_exist_ok=True)
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.old."))
        old.rmdir()
        os.replace(dst, old)
    os.replace(staging, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _git(root: Path, *args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


# Edits here cannot change a run's numbers: documentation, and what runs write (results, figures, golden values).
NOT_INPUTS = ("*.md", "figures/*", "reproductions/*/results/*", "tests/golden/*")
# Untracked files that a run may read: a new module, notebook or yaml file not yet committed.
INPUT_FOLDERS = ("paperlib", "notebooks", "reproductions", "data", "pyproject.toml")


def _porcelain(root: Path, *args: str) -> list[str] | None:
    try:
        out = subprocess.run(["git", "status", "--porcelain", *args], cwd=root, capture_output=True, text=True,
                             check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # "XY path" or "XY old -> new"; the first columns are significant, so no strip()
    return [line[3:].split(" -> ")[-1].strip('"') for line in out.splitlines() if line.strip()]


def uncommitted_inputs(root: Path) -> list[str] | None:
    """Files that differ from the commit a run would name: tracked changes anywhere, and untracked
    files in the folders a run reads (``INPUT_FOLDERS``), less documentation and run outputs
    (``NOT_INPUTS``). A notebook source edited in JupyterLab shows up here. None outside a git checkout."""
    tracked = _porcelain(root, "--untracked-files=no")
    untracked = _porcelain(root, "--untracked-files=all", "--", *INPUT_FOLDERS)
    if tracked is None or untracked is None:
        return None
    paths = sorted(set(tracked) | set(untracked))
    return [p for p in paths if not any(fnmatch.fnmatch(p, pat) for pat in NOT_INPUTS)]


def head_commit(root: Path) -> str | None:
    """The checked-out commit, or None outside a git checkout."""
    return _git(root, "rev-parse", "HEAD")


def manifest(root: Path, started: dt.datetime, wall_s: float, hardware: dict | None = None,
             changes: list[str] | None | bool = False, git_sha: str | None | bool = False) -> dict:
    """Where and with what a run happened: git state, versions, hardware, time.

    ``changes``: the run's :func:`uncommitted_inputs` as seen when it started (looked up now if not
    given); ``dirty`` is whether there were any, ``dirty_files`` lists them. ``git_sha``: the commit
    checked out when the run started (looked up now if not given): a commit made while a long run
    was going must not be named as the code that produced it.
    """
    if changes is False:
        changes = uncommitted_inputs(root)
    if git_sha is False:
        git_sha = head_commit(root)
    packages = {}
    for name in MANIFEST_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    hw = {"cpu_count": os.cpu_count(), "gpu": None, "machine": platform.machine()}
    hw.update(hardware or {})
    out = {"git_sha": git_sha, "dirty": bool(changes) if changes is not None else None,
           "started": started.isoformat(timespec="seconds"), "wall_s": round(wall_s, 1),
           "python": platform.python_version(), "packages": packages, "hardware": hw}
    if changes:
        out["dirty_files"] = changes[:100]
    return out
