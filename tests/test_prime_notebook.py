"""The PRIME notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import pytest

from conftest import bad_input

pytestmark = pytest.mark.slow


CASE_NO_COMPARED_ARMS = bad_input("prime-no-compared-arms", "reproduce", "prime", "--profile", "smoke",
                                  "--out", "{out}", "-p", "arms=[rloo,prime]")


def test_a_run_without_the_compared_arms_is_refused_before_training(bad_input_runs):
    res, out = bad_input_runs[CASE_NO_COMPARED_ARMS]
    assert res.returncode == 1
    assert "leaves out" in res.stderr and "prime_frozen" in res.stderr
    assert not (out / "prime").exists()


CASE_UNKNOWN_ARM = bad_input("prime-unknown-arm", "reproduce", "prime", "--profile", "smoke",
                             "--out", "{out}", "-p", "arms=[ppo]")


def test_unknown_arm_is_a_clear_error(bad_input_runs):
    res, out = bad_input_runs[CASE_UNKNOWN_ARM]
    assert res.returncode == 1
    assert "unknown arm" in res.stderr and "rloo" in res.stderr
    assert not (out / "prime").exists()
