"""The MPT notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


def test_smoke_profile_runs_and_records_everything(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "mpt", "--profile", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "mpt"
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok" and results["params"]["seeds"] == [0]
    assert {c["id"] for c in results["claims"]} == {"C1", "C2", "C3"}
    assert all(c["verdict"] == "not_assessed" for c in results["claims"])  # one seed: not assessed
    m = results["metrics"]
    for t in ("scicite", "scierc"):
        for meth in ("ft", "manual", "soft", "mixed", "prompts", "self_training", "mpt"):
            assert 0.0 <= m[f"{t}/K=4/seed=0/{meth}"] <= 1.0
    for name in ("f1_vs_k", "confusion", "pseudo_labels", "mlm_pretraining"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_unknown_task_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "mpt", "--profile", "smoke", "--out", str(tmp_path), "-p", "tasks=[pubmed]")
    assert res.returncode == 1
    assert "unknown task" in res.stderr and "scicite" in res.stderr
    assert not (tmp_path / "mpt").exists()
