"""Checksummed downloads for the datasets paperlib fetches when online (never in tests or offline runs)."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path


def md5sum(path: str | os.PathLike) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_checked(url: str, dest: Path, md5: str) -> Path:
    """Fetch ``url`` to ``dest`` through a temporary file and check its MD5, so that an interrupted or
    corrupted download never looks complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        if md5sum(tmp) != md5:
            raise OSError(f"checksum mismatch for {url}: expected md5 {md5}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest
