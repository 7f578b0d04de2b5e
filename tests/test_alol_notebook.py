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
    assert all(c["verdict"] == "not_assessed" for c in results["claims"])  # one seed: not assessed
    m = results["measurements"]
    for t in ("arithmetic", "review"):
        assert 0.0 < m[f"c3_{t}_alol_data_used"][0] < 1.0
        for name in ("c2_{}_noisy_alol_minus_ref", "c2_{}_noisy_nll_minus_ref", "c4_{}_alol_minus_baseline_distinct2"):
            assert len(m[name.format(t)]) == 1
    for name in ("test_reward", "reward_over_training", "data_used", "review_reward_terms"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_unknown_method_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "alol", "--profile", "smoke", "--out", str(tmp_path), "-p", "methods=[ppo]")
    assert res.returncode == 1
    assert "unknown method" in res.stderr and "a_lol" in res.stderr
    assert not (tmp_path / "alol").exists()


def test_unknown_task_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "alol", "--profile", "smoke", "--out", str(tmp_path), "-p", "tasks=[chess]")
    assert res.returncode == 1
    assert "tasks must be among" in res.stderr
    assert not (tmp_path / "alol").exists()
