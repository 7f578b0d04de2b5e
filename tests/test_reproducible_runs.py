"""Reruns give the same numbers: deterministic torch settings, the kernel's environment, golden comparisons."""
import math
import os

import lightning as L
import pytest
import torch

from paperlib.repro.verify import compare, golden_from_results
from paperlib.training import TensorDataModule, make_trainer, seed_everything


@pytest.fixture
def restore_torch_flags():
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[2], before[3]


def test_seed_everything_turns_on_deterministic_algorithms_warn_only(restore_torch_flags):
    torch.use_deterministic_algorithms(False)
    seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()  # ops without a deterministic version still run
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"]


def test_make_trainer_keeps_the_warn_only_setting_and_false_turns_it_off(restore_torch_flags):
    seed_everything(0)
    make_trainer()
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    make_trainer({"deterministic": False})
    assert not torch.are_deterministic_algorithms_enabled()


class _Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                       torch.nn.Linear(16, 2))

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def _train_once(seed: int) -> torch.Tensor:
    seed_everything(seed)
    g = torch.Generator().manual_seed(123)
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] > 0).long()
    module = _Tiny()
    make_trainer(max_epochs=2).fit(module, datamodule=TensorDataModule((x, y), batch_size=32, seed=seed))
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_same_seed_trains_to_bitwise_the_same_weights(restore_torch_flags, one_torch_thread):
    a, b, c = _train_once(0), _train_once(0), _train_once(1)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)  # and the seed matters (initialisation, dropout, data order)


def test_the_kernel_environment_is_set_for_the_run_and_restored():
    from paperlib.repro.runner import KERNEL_ENV, _environment

    before = {k: os.environ.get(k) for k in KERNEL_ENV}
    with _environment({**KERNEL_ENV, "PAPERLIB_TEST_X": "1"}):
        assert os.environ["PYTHONHASHSEED"] == "0" and "inline" in os.environ["MPLBACKEND"]
        assert os.environ["PAPERLIB_TEST_X"] == "1"
    assert {k: os.environ.get(k) for k in KERNEL_ENV} == before and "PAPERLIB_TEST_X" not in os.environ


def test_compare_applies_the_stated_tolerance_and_names_the_largest_difference():
    ref = {"acc": [0.5, 0.25], "loss": [1.0, float("nan")]}
    same = compare({"acc": [0.5, 0.25], "loss": [1.0, float("nan")]}, ref)
    assert same.ok and same.max_abs == 0.0
    close = compare({"acc": [0.5 + 1e-8, 0.25], "loss": [1.0, float("nan")]}, ref, rtol=1e-6, atol=1e-9)
    assert close.ok and math.isclose(close.max_abs, 1e-8, rel_tol=1e-6)
    far = compare({"acc": [0.5, 0.26], "loss": [1.0, float("nan")]}, ref, rtol=1e-6, atol=1e-9)
    assert not far.ok
    assert "acc[1] = 0.26, reference 0.25" in far.largest() and "|diff| 0.01" in far.largest()
    assert "NO" in far.table()
    assert not compare({"acc": [0.5, 0.25], "loss": [1.0, 2.0]}, ref).ok  # a number where NaN was
    missing = compare({"acc": [0.5, 0.25]}, ref)
    assert not missing.ok and "not recorded by this run" in missing.table()
    assert not compare({"acc": [0.5], "loss": [1.0, float("nan")]}, ref).ok  # another number of seeds
    timed = compare({"acc": [0.5, 0.25], "loss": [1.0, float("nan")], "wall_slope": [1.3]},
                    {**ref, "wall_slope": [0.9]}, not_compared={"wall_slope": "a slope of wall-clock times"})
    assert timed.ok and "not compared: a slope of wall-clock times" in timed.table()


def test_golden_file_keeps_a_stated_tolerance():
    results = {"paper": "p", "profile": "smoke", "params": {"seeds": [0]}, "measurements": {"m": [1.0]},
               "manifest": {"git_sha": "abc", "dirty": False, "packages": {"torch": "2"}, "hardware": {}}}
    g = golden_from_results(results)
    assert g["tolerance"]["rel"] > 0 and g["tolerance"]["reason"]
    kept = golden_from_results(results, {"rel": 1e-3, "abs": 0.0, "reason": "r"}, {"m": "timing"})
    assert kept["tolerance"]["rel"] == 1e-3 and kept["not_compared"] == {"m": "timing"}
    assert g["measurements"] == {"m": [1.0]} and g["source"]["git_sha"] == "abc"
