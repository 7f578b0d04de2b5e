"""The A-LoL notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import pytest

from conftest import bad_input

pytestmark = pytest.mark.slow


CASE_UNKNOWN_METHOD = bad_input("alol-unknown-method", "reproduce", "alol", "--profile", "smoke",
                                "--out", "{out}", "-p", "methods=[ppo]")


def test_unknown_method_is_a_clear_error(bad_input_runs):
    res, out = bad_input_runs[CASE_UNKNOWN_METHOD]
    assert res.returncode == 1
    assert "unknown method" in res.stderr and "a_lol" in res.stderr
    assert not (out / "alol").exists()


CASE_NO_COMPARED_METHODS = bad_input("alol-no-compared-methods", "reproduce", "alol", "--profile", "smoke",
                                     "--out", "{out}", "-p", "methods=[nll,a_lol,dpo]")


def test_a_run_without_the_compared_methods_is_refused_before_training(bad_input_runs):
    res, out = bad_input_runs[CASE_NO_COMPARED_METHODS]
    assert res.returncode == 1
    assert "the claims compare arms" in res.stderr and "wnll" in res.stderr
    assert not (out / "alol").exists()


CASE_UNKNOWN_TASK = bad_input("alol-unknown-task", "reproduce", "alol", "--profile", "smoke",
                              "--out", "{out}", "-p", "tasks=[chess]")


def test_unknown_task_is_a_clear_error(bad_input_runs):
    res, out = bad_input_runs[CASE_UNKNOWN_TASK]
    assert res.returncode == 1
    assert "tasks must be among" in res.stderr
    assert not (out / "alol").exists()
