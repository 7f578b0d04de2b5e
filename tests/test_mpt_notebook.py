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
    assert {c["id"] for c in results["claims"]} == {"C1", "C2"}
    assert {c["id"] for c in results["checks"]} == {"gain-shrinks-with-k", "prompts-beat-ft"}
    for c in results["claims"] + results["checks"]:  # one seed: not assessed, and it says why
        assert c["verdict"] == "not_assessed" and "needs >= 3" in c["note"], c["id"]
    assert results["params"]["workers"] == 1  # the value that ran is the value recorded
    meas = results["measurements"]
    for name in ("mpt_macro_f1", "ft_macro_f1", "self_training_macro_f1", "prompts_macro_f1",
                 "mpt_gain_over_ft_lowest_k", "mpt_gain_over_ft_highest_k"):
        assert len(meas[name]) == 1, name
    m = results["metrics"]
    # one task-and-K cell each: the per-seed value is the mean of the two tasks' macro-F1 at K=4
    assert meas["mpt_macro_f1"][0] == pytest.approx((m["scicite/K=4/seed=0/mpt"] + m["scierc/K=4/seed=0/mpt"]) / 2)
    for t in ("scicite", "scierc"):
        for meth in ("ft", "manual", "soft", "mixed", "prompts", "self_training", "mpt"):
            assert 0.0 <= m[f"{t}/K=4/seed=0/{meth}"] <= 1.0
    for name in ("f1_vs_k", "confusion", "pseudo_labels", "mlm_pretraining"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_a_hugging_face_lm_with_several_workers_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "mpt", "--profile", "smoke", "--out", str(tmp_path), "-p", "plm=smollm2",
                  "-p", "workers=2")
    assert res.returncode == 1
    assert "workers=1" in res.stderr
    assert not (tmp_path / "mpt").exists()


def test_unknown_task_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "mpt", "--profile", "smoke", "--out", str(tmp_path), "-p", "tasks=[pubmed]")
    assert res.returncode == 1
    assert "unknown task" in res.stderr and "scicite" in res.stderr
    assert not (tmp_path / "mpt").exists()
