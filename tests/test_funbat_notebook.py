"""The FunBaT notebook's smoke profile end to end through the real runner."""
import json

import pytest

from paperlib.data import data_dir

pytestmark = pytest.mark.slow

needs_data = pytest.mark.skipif(not (data_dir() / "spatiotemporal" / "ozone2.rda").exists(),
                                reason="needs the spatio-temporal stand-in data (see ../shared/data/spatiotemporal)")


@needs_data
def test_smoke_profile_runs_and_records_everything(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "funbat", "--profile", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "funbat"
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok" and results["params"]["seeds"] == [0]
    assert {c["id"] for c in results["claims"]} == {"C1", "C2", "C3"}
    assert {c["id"] for c in results["checks"]} == {"synthetic-tucker", "synthetic-gp"}
    # one seed: every claim and check is not assessed, and says why
    for c in results["claims"] + results["checks"]:
        assert c["verdict"] == "not_assessed", c["id"]
        assert all("needs >= 3" in d["note"] for d in c["conditions"])
    c2 = next(c for c in results["claims"] if c["id"] == "C2")
    assert len(c2["conditions"]) == 64  # 2 datasets x 4 ranks x 2 FunBaT models x 2 baselines x RMSE and MAE
    m = results["measurements"]
    for name in ("syn_rmse_funbat_cp", "syn_rmse_best_binned", "syn_corr_cp", "colorado_R7_funbat_tucker_rmse",
                 "ozone_R2_binned_cp_mae", "ozone_gp_rmse", "scaling_slope"):
        assert len(m[name]) == 1, name
    assert 0.0 <= m["syn_corr_cp"][0] <= 1.0
    assert m["syn_rmse_best_binned"][0] > 0 and m["ozone_R2_funbat_cp_rmse"][0] > 0
    for name in ("synthetic_rmse", "learned_functions", "real_data", "scaling"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_unknown_dataset_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "funbat", "--profile", "smoke", "--out", str(tmp_path), "-p", "datasets=[beijing]")
    assert res.returncode == 1
    assert "unknown dataset" in res.stderr and "colorado" in res.stderr
    assert not (tmp_path / "funbat").exists()
