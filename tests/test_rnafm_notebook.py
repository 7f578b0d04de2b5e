"""The RNA-FM notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


def test_unknown_pretraining_scale_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "rnafm", "--profile", "smoke", "--out", str(tmp_path), "-p", "pretrain_scale=huge")
    assert res.returncode == 1
    assert "unknown pretrain_scale" in res.stderr and "cpu" in res.stderr
    assert not (tmp_path / "rnafm").exists()
