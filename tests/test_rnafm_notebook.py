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
    assert {c["id"] for c in results["claims"]} == {"C2", "C3"}
    assert {c["id"] for c in results["checks"]} == {"mlm-held-out", "mlm-in-distribution",
                                                    "structure-pretraining-adds", "attention-pairing"}
    for c in results["claims"] + results["checks"]:  # one seed: not assessed, and it says why
        assert c["verdict"] == "not_assessed" and "needs >= 3" in c["note"], c["id"]
    meas = results["measurements"]
    for name in ("ss_f1_rnafm", "ss_f1_one_hot", "silhouette_random_init", "type_acc_one_hot", "mlm_heldout_kmer5_table",
                 "att_top_l_pair_identity"):
        assert len(meas[name]) == 1, name
    m = results["metrics"]
    assert meas["mlm_heldout_rnafm"][0] == m["c1/held_out_families/rna-fm/seed=0"]
    assert meas["ss_f1_one_hot"][0] == m["c2/structure/consensus/one-hot/seed=0/f1"]
    assert 0.0 <= m["c1/held_out_families/rna-fm/seed=0"] <= 1.0
    assert m["pretrain/tokens_seen"] > 0
    for name in ("masked_token_accuracy", "secondary_structure_f1", "attention_probe"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_unknown_pretraining_scale_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "rnafm", "--profile", "smoke", "--out", str(tmp_path), "-p", "pretrain_scale=huge")
    assert res.returncode == 1
    assert "unknown pretrain_scale" in res.stderr and "cpu" in res.stderr
    assert not (tmp_path / "rnafm").exists()
