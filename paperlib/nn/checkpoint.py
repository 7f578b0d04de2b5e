"""Atomic torch checkpoint writing, shared by every model's save function."""
from __future__ import annotations

from pathlib import Path

import torch


def save_atomic(obj, path) -> Path:
    """``torch.save(obj)`` to a temporary file beside ``path``, then rename it into place: a crash never
    leaves a half-written checkpoint. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
    return path
