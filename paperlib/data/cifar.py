"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009, python pickle versions) as in-memory tensors, and the
standard training augmentation (random 32x32 crop of the 4-pixel zero-padded image, horizontal flip).

Both loaders return ``{"train": (x, y), "test": (x, y)}``: 50,000 / 10,000 images, x float32 in [0, 1] of
shape (N, 3, 32, 32), y int64 (CIFAR-100: the 100 fine labels). They look for the extracted folder or the
tar.gz in ``root``, ``data_dir()/<name>`` and ``cache_dir(<name>)``; only with ``download=True`` do they
fetch the tar.gz from the Toronto site into the cache and check its MD5 (the sums torchvision checks).
No registry package ships CIFAR, so offline they raise :class:`paperlib.data.MissingDataError` naming the
file to fetch and where to put it.

Why not ``datasets.load_dataset("cifar10")``: the hub's copies store each image as a PNG to decode, and
their content has no published checksum to hold them against; the Toronto archive is the original,
with the MD5 sums the field checks, and its pickles load straight into the uint8 arrays every
adversarial-robustness codebase (TRADES, AutoAttack) feeds its models.
"""
from __future__ import annotations

import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import preflight
from . import MissingDataError, cache_dir, data_dir
from .download import download_checked


@dataclass(frozen=True)
class CifarSpec:
    name: str  # folder under the data and cache directories
    url: str
    md5: str  # of the tar.gz
    folder: str  # what the tar.gz extracts to
    train_files: tuple[str, ...]
    test_file: str
    label_key: bytes
    n_classes: int

    @property
    def archive(self) -> str:
        return self.url.rsplit("/", 1)[1]


CIFAR10 = CifarSpec("cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
                    tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", b"labels", 10)
CIFAR100 = CifarSpec("cifar100", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                     "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python", ("train",), "test", b"fine_labels", 100)
# Per-channel mean and std of the CIFAR training images, for a model's input normalisation.
MEAN_STD = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)),
            "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))}


def _load(spec: CifarSpec, root, download: bool) -> dict:
    cache = cache_dir(spec.name)
    candidates = ([Path(root)] if root is not None else []) + [data_dir() / spec.name, cache]
    found = next((d for d in candidates if (d / spec.folder / spec.test_file).is_file()), None)
    if found is None:
        archive = next((d / spec.archive for d in candidates if (d / spec.archive).is_file()), None)
        failure = ""
        if archive is None and download:
            try:
                archive = download_checked(spec.url, cache / spec.archive, spec.md5)
            except OSError as err:  # offline, or a corrupted download (never kept)
                failure = f" The download failed: {err}."
        if archive is None:
            fix = (f"fetch {spec.url} (md5 {spec.md5}) into $PAPERLIB_DATA_DIR/{spec.name}/, or run "
                   f"`python -c 'from paperlib.data.cifar import load_{spec.name}; load_{spec.name}(download=True)'` "
                   "when online")
            err = MissingDataError(
                f"{spec.name.upper()} not found (looked in: " + ", ".join(str(d) for d in candidates) + ")."
                f"{failure} Fetch {spec.url} (md5 {spec.md5}) and put it, or its extracted {spec.folder}/, in "
                f"$PAPERLIB_DATA_DIR/{spec.name}/ (PAPERLIB_DATA_DIR is now {data_dir()}), or call "
                f"load_{spec.name}(download=True) when online. No package registry ships CIFAR.")
            return preflight.standin(err, f"{spec.name.upper()} ({spec.url})", fix, lambda: _standin(spec))
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
        found = cache
    folder = found / spec.folder

    def read(names):
        xs, ys = [], []
        for name in names:
            with open(folder / name, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[spec.label_key], dtype=np.int64))
        x = torch.from_numpy(np.concatenate(xs).astype(np.float32) / 255.0)
        return x, torch.from_numpy(np.concatenate(ys))

    out = {"train": read(spec.train_files), "test": read([spec.test_file])}
    for split, (x, y) in out.items():
        if len(x) != len(y) or int(y.max()) >= spec.n_classes:
            raise ValueError(f"unexpected {spec.name} {split} split in {folder}: {len(x)} images, {len(y)} labels, "
                             f"largest label {int(y.max())}")
    return out


def _standin(spec: CifarSpec, n_train: int = 512, n_test: int = 256) -> dict:
    """Random images of CIFAR's shape and type, for a preflight without the data (never a result)."""
    g = torch.Generator().manual_seed(0)
    return {split: (torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, spec.n_classes, (n,), generator=g))
            for split, n in (("train", n_train), ("test", n_test))}


def load_cifar10(root: str | os.PathLike | None = None, download: bool = False) -> dict:
    """CIFAR-10: 50,000 train / 10,000 test, x (N, 3, 32, 32) in [0, 1], y in 0..9."""
    return _load(CIFAR10, root, download)


def load_cifar100(root: str | os.PathLike | None = None, download: bool = False) -> dict:
    """CIFAR-100: 50,000 train / 10,000 test, x (N, 3, 32, 32) in [0, 1], y the fine labels 0..99."""
    return _load(CIFAR100, root, download)


def crop_flip(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """The standard CIFAR training augmentation, batched on x's device: each image is zero-padded by
    ``padding`` pixels, cropped back to its size at a uniformly random offset, and flipped left-right
    with probability 1/2 (torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip())."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dev = x.device
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=dev)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=dev)
    flip = torch.rand(n, generator=generator, device=dev) < 0.5
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = dx[:, None] + torch.arange(w, device=dev)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
    return padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                  rows, cols]
