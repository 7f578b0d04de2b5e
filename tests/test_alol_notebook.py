"""The A-LoL notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


def test_unknown_method_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "alol", "--profile", "smoke", "--out", str(tmp_path), "-p", "methods=[ppo]")
    assert res.returncode == 1
    assert "unknown method" in res.stderr and "a_lol" in res.stderr
    assert not (tmp_path / "alol").exists()


def test_a_run_without_the_compared_methods_is_refused_before_training(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "alol", "--profile", "smoke", "--out", str(tmp_path), "-p", "methods=[nll,a_lol,dpo]")
    assert res.returncode == 1
    assert "the claims compare arms" in res.stderr and "wnll" in res.stderr
    assert not (tmp_path / "alol").exists()


def test_unknown_task_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "alol", "--profile", "smoke", "--out", str(tmp_path), "-p", "tasks=[chess]")
    assert res.returncode == 1
    assert "tasks must be among" in res.stderr
    assert not (tmp_path / "alol").exists()
