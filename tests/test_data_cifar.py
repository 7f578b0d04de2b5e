"""CIFAR-10/100 loaders (paperlib.data.cifar): the offline error, reading a local copy, the augmentation."""
import pickle

import numpy as np
import pytest
import torch

from paperlib.data import MissingDataError
from paperlib.data import cifar


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("name, loader", [("cifar10", cifar.load_cifar10), ("cifar100", cifar.load_cifar100)])
def test_offline_error_names_what_to_fetch_and_where(no_data, name, loader):
    with pytest.raises(MissingDataError) as err:
        loader()
    msg = str(err.value)
    spec = cifar.CIFAR10 if name == "cifar10" else cifar.CIFAR100
    assert spec.url in msg and spec.md5 in msg and f"PAPERLIB_DATA_DIR/{name}/" in msg and "download=True" in msg


def _fake(folder, spec, n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)
    (folder / spec.folder).mkdir(parents=True)
    files = [(f, n_train // len(spec.train_files)) for f in spec.train_files] + [(spec.test_file, n_test)]
    for f, n in files:
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             spec.label_key: list(rng.integers(0, spec.n_classes, n))}
        with open(folder / spec.folder / f, "wb") as fh:
            pickle.dump(d, fh)


@pytest.mark.parametrize("spec, loader", [(cifar.CIFAR10, cifar.load_cifar10), (cifar.CIFAR100, cifar.load_cifar100)])
def test_reads_a_local_copy_from_the_data_dir(no_data, spec, loader):
    _fake(no_data / "data" / spec.name, spec, 20, 10)
    out = loader()
    x, y = out["train"]
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert y.dtype == torch.int64 and out["test"][0].shape == (10, 3, 32, 32)
    raw = pickle.load(open(no_data / "data" / spec.name / spec.folder / spec.test_file, "rb"))
    # the pickle's rows are channel-major 32x32 planes
    assert out["test"][0][0, 1, 2, 3] == pytest.approx(raw[b"data"][0][1024 + 2 * 32 + 3] / 255)


def test_crop_flip_is_a_shifted_window_of_the_padded_image_maybe_mirrored():
    x = torch.rand(64, 3, 8, 8)
    out = cifar.crop_flip(x, padding=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    flipped = 0
    for i in range(len(x)):
        windows = {(dy, dx): padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)}
        hits = [(dy, dx, f) for (dy, dx), w in windows.items() for f in (False, True)
                if torch.equal(out[i], w.flip(2) if f else w)]
        assert hits, f"image {i} is not a crop of its padded input"
        flipped += hits[0][2]
    assert 15 < flipped < 49  # about half are mirrored
    same = cifar.crop_flip(x, padding=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, same)
