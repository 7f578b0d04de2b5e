"""Where datasets and derived artefacts live.

Two settings, both environment variables:

* ``PAPERLIB_DATA_DIR``: raw datasets (read only). Unset, paperlib reads the small datasets that
  travel with the repository, ``data/`` at the checkout's top (each folder with its SOURCE.md,
  LICENSE and SHA256SUMS); outside a checkout, ``~/.cache/paperlib/data``. Large or online-only
  data (CIFAR, the original US-Temp, SciBERT, ...) download when online into the cache below.
* ``PAPERLIB_CACHE_DIR``: what paperlib derives or downloads (Arrow caches, checkpoints), each
  keyed by what produced it. Default: ``~/.cache/paperlib/cache``.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "PAPERLIB_DATA_DIR"
CACHE_ENV = "PAPERLIB_CACHE_DIR"


class MissingDataError(FileNotFoundError):
    """A dataset is not where paperlib looked; the message says how to get it."""


REPO_DATA = Path(__file__).resolve().parents[2] / "data"  # the checkout's data/ folder


def data_dir() -> Path:
    """The raw-data directory: ``$PAPERLIB_DATA_DIR``, else the checkout's ``data/``."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return REPO_DATA if REPO_DATA.is_dir() else Path.home() / ".cache" / "paperlib" / "data"


def verify_checksums(folder: Path) -> list[str]:
    """Problems with a dataset folder: files whose SHA-256 differs from its SHA256SUMS, files listed
    there but missing, data files not listed, and a missing SOURCE.md or LICENSE. Empty when sound."""
    import hashlib

    folder = Path(folder)
    problems = [f"{folder}: no {name}" for name in ("SOURCE.md", "LICENSE", "SHA256SUMS")
                if not (folder / name).is_file()]
    if problems:
        return problems
    listed = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            listed[name.strip().lstrip("*")] = digest
    for name, digest in listed.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: listed in SHA256SUMS but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{path}: SHA-256 differs from SHA256SUMS (corrupted or edited)")
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in listed and rel not in ("SOURCE.md", "LICENSE", "SHA256SUMS"):
            problems.append(f"{path}: not listed in SHA256SUMS")
    return problems


def cache_dir(*parts: str) -> Path:
    """A folder under ``$PAPERLIB_CACHE_DIR`` (created), e.g. ``cache_dir("fashion-mnist", key)``."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "paperlib" / "cache").expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
