"""The smoke profile end to end through the real runner (papermill, kernel, manifest, install)."""
import json

import pytest

pytestmark = pytest.mark.slow

SCHEMA = {"paper": str, "profile": str, "status": str, "manifest": dict, "params": dict, "metrics": dict,
          "claims": list}
MANIFEST = {"git_sha", "dirty", "started", "wall_s", "python", "packages", "hardware"}
CLAIM = {"id", "statement", "where", "paper_value", "measured", "ci95", "criterion", "verdict", "conditions"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from conftest import run_cli
    out = tmp_path_factory.mktemp("smoke")
    res = run_cli("reproduce", "compsum", "--profile", "smoke", "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    return out, res


def test_smoke_writes_results_notebook_and_figures(smoke_run):
    out, res = smoke_run
    results = json.loads((out / "compsum" / "results.json").read_text())
    for key, kind in SCHEMA.items():
        assert isinstance(results[key], kind), key
    assert results["paper"] == "compsum" and results["profile"] == "smoke" and results["status"] == "ok"
    assert MANIFEST <= set(results["manifest"])
    assert results["manifest"]["packages"]["torch"] and results["manifest"]["hardware"]["cpu_count"]
    assert results["params"]["seeds"] == [0] and results["params"]["epochs"] == 1
    for claim in results["claims"]:
        assert CLAIM <= set(claim)
        assert claim["verdict"] == "not_assessed"  # one seed: not assessed, never guessed
    for name in ("tau_sweep", "tradeoff", "training_curves"):
        for ext in ("png", "pdf", "csv"):
            assert (out / "compsum" / "figures" / f"{name}.{ext}").stat().st_size > 0
    nb = json.loads((out / "compsum" / "compsum.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
    text = json.dumps(nb)
    assert "it/s]" not in text and "Epoch 0:" not in text  # no progress bars in the executed notebook
    assert "claim" in res.stdout and "C1" in res.stdout  # the claims table is printed


def test_same_seed_gives_identical_smoke_metrics(smoke_run, tmp_path):
    from conftest import run_cli
    out, _ = smoke_run
    res = run_cli("reproduce", "compsum", "--profile", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    first = json.loads((out / "compsum" / "results.json").read_text())
    second = json.loads((tmp_path / "compsum" / "results.json").read_text())
    drop = lambda m: {k: v for k, v in m.items() if k != "wall_s"}
    assert drop(first["metrics"]) == drop(second["metrics"])
    assert first["measurements"] == second["measurements"]


def test_a_crash_mid_run_leaves_earlier_results_intact(smoke_run):
    from conftest import run_cli
    out, _ = smoke_run
    before = {p: p.read_bytes() for p in (out / "compsum").rglob("*") if p.is_file()}
    # The mixture study runs, then the adversarial study's data cell raises.
    res = run_cli("reproduce", "compsum", "--profile", "smoke", "--out", str(out), "-p", "dataset=imagenet")
    assert res.returncode == 1
    assert "cell" in res.stderr and "ValueError" in res.stderr and "dataset must be" in res.stderr
    after = {p: p.read_bytes() for p in (out / "compsum").rglob("*") if p.is_file()}
    assert after == before
