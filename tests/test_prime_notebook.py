"""The PRIME notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


def test_a_run_without_the_compared_arms_is_refused_before_training(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "prime", "--profile", "smoke", "--out", str(tmp_path), "-p", "arms=[rloo,prime]")
    assert res.returncode == 1
    assert "leaves out" in res.stderr and "prime_frozen" in res.stderr
    assert not (tmp_path / "prime").exists()


def test_unknown_arm_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "prime", "--profile", "smoke", "--out", str(tmp_path), "-p", "arms=[ppo]")
    assert res.returncode == 1
    assert "unknown arm" in res.stderr and "rloo" in res.stderr
    assert not (tmp_path / "prime").exists()
