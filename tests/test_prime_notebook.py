"""The PRIME notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


def test_smoke_profile_runs_and_records_everything(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "prime", "--profile", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "prime"
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok" and results["params"]["seeds"] == [0]
    assert {c["id"] for c in results["claims"]} == {"C1", "C2", "C3"}
    assert {c["id"] for c in results["checks"]} == {"X1", "X2", "X3"}
    # one seed: every claim and check is not assessed, with the reason said
    assert all(c["verdict"] == "not_assessed" for c in results["claims"] + results["checks"])
    m = results["measurements"]
    for arm in results["params"]["arms"]:
        assert len(m[f"{arm}_final_train_acc"]) == 1 and len(m[f"{arm}_heldout_acc"]) == 1
        assert 0.0 <= m[f"{arm}_heldout_acc"][0] <= 1.0
    for name in ("c1_step_ratio", "c2_frozen_prm_acc_change", "c3_prm_hits", "c3_sft_hits", "c3_rloo_logratio_hits"):
        assert len(m[name]) == 1
    assert 0.0 < m["c1_step_ratio"][0] <= 1.0 + 1.0 / results["params"]["steps"]
    for name in ("training_accuracy", "prm_accuracy", "process_reward_example"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


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
