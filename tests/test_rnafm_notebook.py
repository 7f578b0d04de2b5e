"""The RNA-FM notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


def test_smoke_profile_runs_and_records_everything(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "rnafm", "--profile", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "rnafm"
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok" and results["params"]["seeds"] == [0]
    assert {c["id"] for c in results["claims"]} == {"C1", "C2", "C3", "C4"}
    assert all(c["verdict"] == "not_assessed" for c in results["claims"])  # one seed: not assessed
    m = results["metrics"]
    assert 0.0 <= m["c1/held_out_families/rna-fm/seed=0"] <= 1.0
    assert m["pretrain/tokens_seen"] > 0
    for name in ("masked_token_accuracy", "secondary_structure_f1", "attention_probe"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_unknown_pretraining_profile_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "rnafm", "--profile", "smoke", "--out", str(tmp_path), "-p", "pretrain_profile=huge")
    assert res.returncode == 1
    assert "unknown pretrain_profile" in res.stderr and "cpu" in res.stderr
    assert not (tmp_path / "rnafm").exists()
