"""Fashion-MNIST (Xiao et al., 2017) as in-memory tensors (CIFAR-10/100 live in :mod:`paperlib.data.cifar`).

The loader returns ``{"train": (x, y), "test": (x, y)}`` with x float32 in [0, 1] of shape (N, 1, 28, 28)
and y int64. Nothing is downloaded unless ``download=True``; a missing dataset raises
:class:`paperlib.data.MissingDataError` saying how to get it.
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

from . import MissingDataError, cache_dir, data_dir
from .download import download_checked

FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# MD5 of Zalando's original files (as torchvision checks them). Debian's dataset-fashion-mnist re-gzips the
# same content, so these only check a download, not a local copy.
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
SYSTEM_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (big-endian header: two zero bytes, type code, ndim, then ndim uint32 sizes)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _images(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float32) / 255.0)


def load_fashion_mnist(root: str | os.PathLike | None = None, download: bool = False) -> dict:
    """Fashion-MNIST: 60,000 train / 10,000 test 28x28 grey images, x (N, 1, 28, 28) in [0, 1], y in 0..9.

    Looks, in order, in ``root``, ``data_dir()/fashion-mnist``, ``cache_dir("fashion-mnist", "raw")`` and
    the Debian package's ``/usr/share/datasets/fashion-mnist``; with ``download=True`` and none found,
    fetches Zalando's original files into the cache.
    """
    raw = cache_dir("fashion-mnist", "raw")
    candidates = ([Path(root)] if root is not None else []) + [data_dir() / "fashion-mnist", raw, SYSTEM_FASHION_DIR]
    found = next((d for d in candidates if all((d / f).is_file() for f in FASHION_FILES)), None)
    if found is None and download:
        for name, md5 in FASHION_FILES.items():
            if not (raw / name).is_file():
                download_checked(FASHION_URL + name, raw / name, md5)
        found = raw
    if found is None:
        raise MissingDataError(
            "Fashion-MNIST not found (looked in: " + ", ".join(str(d) for d in candidates) + "). Get it with "
            "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, installs /usr/share/datasets/fashion-mnist), "
            "or set PAPERLIB_DATA_DIR to a folder holding fashion-mnist/{" + ",".join(FASHION_FILES) + "}, "
            "or call load_fashion_mnist(download=True) when online.")
    out = {}
    for split, prefix, n in (("train", "train", 60_000), ("test", "t10k", 10_000)):
        x = _read_idx(found / f"{prefix}-images-idx3-ubyte.gz")
        y = _read_idx(found / f"{prefix}-labels-idx1-ubyte.gz")
        if x.shape != (n, 28, 28) or y.shape != (n,):
            raise ValueError(f"unexpected Fashion-MNIST {split} shapes {x.shape}, {y.shape} in {found}")
        out[split] = (_images(x).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))
    return out
