"""paperlib check: a profile's path on its smallest slice, with stand-ins for data that are not here."""

import pytest
import torch

from paperlib import preflight
from paperlib.data import MissingDataError
from paperlib.data import cifar
from paperlib.repro.check import fix_for
from paperlib.repro.registry import ReproError, get_paper



def test_outside_a_preflight_a_missing_dataset_is_the_loaders_own_error(tmp_path, monkeypatch):
    monkeypatch.delenv(preflight.PREFLIGHT_ENV, raising=False)
    with pytest.raises(MissingDataError, match="CIFAR10 not found"):
        cifar.load_cifar10(root=tmp_path)


def test_in_a_preflight_it_is_noted_with_its_fix_and_a_stand_in_of_its_shape_comes_back(tmp_path, monkeypatch):
    log = tmp_path / "missing.jsonl"
    monkeypatch.setenv(preflight.PREFLIGHT_ENV, "1")
    monkeypatch.setenv(preflight.PREFLIGHT_LOG_ENV, str(log))
    data = cifar.load_cifar100(root=tmp_path)
    x, y = data["train"]
    assert x.shape[1:] == (3, 32, 32) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
    assert y.dtype == torch.int64 and int(y.max()) < 100
    cifar.load_cifar100(root=tmp_path)  # noted once
    items = preflight.read_log(log)
    assert len(items) == 1 and "CIFAR100" in items[0]["missing"] and "download=True" in items[0]["fix"]


def test_a_missing_package_names_its_install_command():
    assert fix_for("ModuleNotFoundError: No module named 'tensorly.decomposition'") == ".venv/bin/pip install tensorly"
    assert fix_for("ValueError: bad shape") is None


def test_a_paper_without_a_preflight_for_the_profile_is_told_how_to_declare_one():
    from paperlib.repro.check import check
    paper = get_paper("compsum")
    with pytest.raises(ReproError, match="declares no preflight for profile 'smoke'"):
        check([paper], "smoke")
