"""Where datasets and derived artefacts live.

Two settings, both environment variables:

* ``PAPERLIB_DATA_DIR``: raw datasets gathered for paperlib (read only). ``.ci/run`` points it at
  ``../shared/data`` when that folder exists; unset, paperlib uses ``../shared/data`` beside the
  checkout if it exists, else ``~/.cache/paperlib/data``.
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


def data_dir() -> Path:
    """The raw-data directory: ``$PAPERLIB_DATA_DIR``, else ``../shared/data`` beside the checkout."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    return shared if shared.is_dir() else Path.home() / ".cache" / "paperlib" / "data"


def cache_dir(*parts: str) -> Path:
    """A folder under ``$PAPERLIB_CACHE_DIR`` (created), e.g. ``cache_dir("fashion-mnist", key)``."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "paperlib" / "cache").expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
