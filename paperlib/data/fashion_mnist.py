"""Fashion-MNIST (Xiao et al., 2017) and CIFAR-10 (Krizhevsky, 2009) as in-memory tensors.

Both loaders return ``{"train": (x, y), "test": (x, y)}`` with x float32 in [0, 1] of shape (N, C, H, W)
and y int64. Nothing is downloaded unless ``download=True``; a missing dataset raises
:class:`paperlib.data.MissingDataError` saying how to get it.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from . import MissingDataError, cache_dir, data_dir

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

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, md5: str) -> None:
    """Fetch ``url`` to ``dest`` through a temporary file, so an interrupted download never looks complete."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        if _md5(Path(tmp)) != md5:
            raise OSError(f"checksum mismatch for {url}: expected md5 {md5}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
                _download(FASHION_URL + name, raw / name, md5)
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


def load_cifar10(root: str | os.PathLike | None = None, download: bool = False) -> dict:
    """CIFAR-10 (python pickle version): 50,000 train / 10,000 test, x (N, 3, 32, 32) in [0, 1], y in 0..9.

    Looks for ``cifar-10-batches-py/`` (or its tar.gz) in ``root``, ``data_dir()/cifar10`` and
    ``cache_dir("cifar10")``; with ``download=True`` fetches the tar.gz from the Toronto site into the cache.
    """
    cache = cache_dir("cifar10")
    candidates = ([Path(root)] if root is not None else []) + [data_dir() / "cifar10", cache]
    tar_name = "cifar-10-python.tar.gz"
    found = next((d for d in candidates if (d / "cifar-10-batches-py" / "test_batch").is_file()), None)
    if found is None:
        archive = next((d / tar_name for d in candidates if (d / tar_name).is_file()), None)
        if archive is None and download:
            archive = cache / tar_name
            _download(CIFAR_URL, archive, CIFAR_MD5)
        if archive is None:
            raise MissingDataError(
                "CIFAR-10 not found (looked in: " + ", ".join(str(d) for d in candidates) + "). Set "
                f"PAPERLIB_DATA_DIR to a folder holding cifar10/{tar_name} (or its extracted cifar-10-batches-py/), "
                f"or call load_cifar10(download=True) when online (fetches {CIFAR_URL}). There is no Debian package.")
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
        found = cache
    batches = found / "cifar-10-batches-py"

    def read(names):
        xs, ys = [], []
        for name in names:
            with open(batches / name, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[b"labels"], dtype=np.int64))
        return _images(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    return {"train": read([f"data_batch_{i}" for i in range(1, 6)]), "test": read(["test_batch"])}
