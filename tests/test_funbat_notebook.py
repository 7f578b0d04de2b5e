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
    assert all(c["verdict"] == "not_assessed" for c in results["claims"])  # one seed: not assessed
    m = results["measurements"]
    for name in ("syn_margin_cp", "syn_corr_cp", "ozone_margin_rmse_tucker", "scaling_slope"):
        assert len(m[name]) == 1
    assert 0.0 <= m["syn_corr_cp"][0] <= 1.0
    for name in ("synthetic_rmse", "learned_functions", "real_data", "scaling"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_unknown_dataset_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "funbat", "--profile", "smoke", "--out", str(tmp_path), "-p", "datasets=[beijing]")
    assert res.returncode == 1
    assert "unknown dataset" in res.stderr and "colorado" in res.stderr
    assert not (tmp_path / "funbat").exists()
