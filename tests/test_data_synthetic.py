"""Data: the calibrated Gaussian mixture, and the Fashion-MNIST loader's offline behaviour (CIFAR: test_data_cifar.py)."""
import pytest
import torch

from paperlib.data import MissingDataError
from paperlib.data import fashion_mnist as fm
from paperlib.data.synthetic import gaussian_mixture


def test_shapes_and_determinism():
    a = gaussian_mixture(5, 8, 10, 4, 6, seed=3)
    b = gaussian_mixture(5, 8, 10, 4, 6, seed=3)
    for split, n in (("train", 50), ("val", 20), ("test", 30)):
        x, y = a[split]
        assert x.shape == (n, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert torch.equal(y.sort().values, torch.arange(5).repeat_interleave(n // 5))
        assert torch.equal(x, b[split][0]) and torch.equal(y, b[split][1])
    assert a["scale"] == b["scale"] and a["bayes_accuracy"] == b["bayes_accuracy"]
    assert not torch.equal(gaussian_mixture(5, 8, 10, 4, 6, seed=4)["train"][0], a["train"][0])


@pytest.mark.parametrize("n_classes", [10, 100])
def test_bayes_accuracy_is_calibrated(n_classes):
    d = gaussian_mixture(n_classes, 32, 1, 1, 100, bayes_accuracy=0.8, seed=0)
    assert abs(d["bayes_accuracy"] - 0.8) < 0.02
    x, y = d["test"]
    nearest_mean = torch.cdist(x, d["means"]).argmin(1)
    assert abs((nearest_mean == y).float().mean().item() - d["bayes_accuracy"]) < 0.03


def test_the_mixture_is_independent_of_a_model_seeded_with_the_same_seed():
    """torch.manual_seed(s) and torch.Generator().manual_seed(s) give the same numbers; the mixture must not
    reuse them, or a linear model initialised after seed_everything(s) is correlated with the class means
    (it scored 2% on 10 classes, far below chance, before the mixture got its own stream)."""
    from paperlib.nn import MLP
    from paperlib.training import seed_everything
    accs = []
    for s in range(6):
        x, y = gaussian_mixture(10, 32, 1, 1, 500, seed=s)["test"]
        seed_everything(s)
        accs.append((MLP(32, (), 10)(x).argmax(1) == y).float().mean().item())
    assert 0.06 < sum(accs) / len(accs) < 0.14  # chance is 0.1


def test_harder_target_needs_larger_scale():
    assert gaussian_mixture(10, 16, 1, 1, 1, bayes_accuracy=0.9)["scale"] > gaussian_mixture(
        10, 16, 1, 1, 1, bayes_accuracy=0.6)["scale"]


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fm, "SYSTEM_FASHION_DIR", tmp_path / "system")
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


def test_missing_fashion_mnist_says_how_to_get_it(no_data):
    with pytest.raises(MissingDataError, match="apt-get install dataset-fashion-mnist") as err:
        fm.load_fashion_mnist(root=no_data)
    assert "PAPERLIB_DATA_DIR" in str(err.value) and "download=True" in str(err.value)


@pytest.mark.skipif(not fm.SYSTEM_FASHION_DIR.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path / "cache"))
    d = fm.load_fashion_mnist()
    (x, y), (xt, yt) = d["train"], d["test"]
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(torch.bincount(y), torch.full((10,), 6000)) and torch.equal(torch.bincount(yt), torch.full((10,), 1000))
