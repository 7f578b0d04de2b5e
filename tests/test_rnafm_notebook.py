"""The RNA-FM notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import pytest

from conftest import bad_input

pytestmark = pytest.mark.slow


CASE_UNKNOWN_SCALE = bad_input("rnafm-unknown-pretraining-scale", "reproduce", "rnafm", "--profile", "smoke",
                               "--out", "{out}", "-p", "pretrain_scale=huge")


def test_unknown_pretraining_scale_is_a_clear_error(bad_input_runs):
    res, out = bad_input_runs[CASE_UNKNOWN_SCALE]
    assert res.returncode == 1
    assert "unknown pretrain_scale" in res.stderr and "cpu" in res.stderr
    assert not (out / "rnafm").exists()
