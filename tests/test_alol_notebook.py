"""The A-LoL notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


def test_smoke_profile_runs_and_records_everything(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "alol", "--profile", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "alol"
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok" and results["params"]["seeds"] == [0]
    assert {c["id"] for c in results["claims"]} == {"C1", "C2", "C3", "C4"}
    assert {c["id"] for c in results["checks"]} == {"X1", "X2", "X3"}
    # one seed: every claim and check is not assessed, with the reason said
    assert all(c["verdict"] == "not_assessed" for c in results["claims"] + results["checks"])
    assert all("needs >= 3" in cond["note"] for c in results["claims"] for cond in c["conditions"])
    m = results["measurements"]
    methods = results["params"]["methods"]
    for t in ("arithmetic", "review"):
        assert 0.0 < m[f"c3_{t}_alol_data_used"][0] < 1.0
        for meth in methods:
            for kind in ("test_reward", "sample_reward", "distinct2", "dev_final_minus_best"):
                assert len(m[f"{t}_main_{meth}_{kind}"]) == 1
            assert m[f"{t}_main_{meth}_dev_final_minus_best"][0] <= 0.0
        for meth in results["params"]["noisy_methods"]:
            assert len(m[f"{t}_noisy_{meth}_test_reward"]) == 1
        assert m[f"{t}_noisy_ref_test_reward"][0] == results["metrics"][f"ref/{t}/noisy/test_reward"]
    for name in ("test_reward", "reward_over_training", "data_used", "review_reward_terms"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


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
