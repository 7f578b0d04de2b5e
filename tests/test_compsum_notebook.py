"""The smoke profile end to end through the real runner (papermill, kernel, manifest, install)."""
import json

import pytest
import yaml

from conftest import ROOT
from paperlib.repro.claims import load_spec, measurement_names

pytestmark = pytest.mark.slow

SCHEMA = {"paper": str, "profile": str, "status": str, "manifest": dict, "params": dict, "metrics": dict,
          "measurements": dict, "claims": list, "checks": list}
FIGURES = ("losses", "tau_sweep", "tradeoff", "matched", "training_curves")
MANIFEST = {"git_sha", "dirty", "started", "wall_s", "python", "packages", "hardware"}
CLAIM = {"id", "statement", "where", "paper_value", "measured", "ci95", "criterion", "verdict", "conditions"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    pytest.importorskip("torchattacks")
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
    assert [c["id"] for c in results["claims"]] == ["C1", "C2", "C3", "C4"]
    for claim in results["claims"] + results["checks"]:
        assert CLAIM <= set(claim)
        assert claim["verdict"] == "not_assessed"  # one seed: not assessed, never guessed
    # every measurement claims.yaml names was recorded, one value per seed
    spec = load_spec(yaml.safe_load((ROOT / "reproductions/compsum/claims.yaml").read_text()))
    assert measurement_names(spec) <= set(results["measurements"])
    assert all(len(v) == 1 for v in results["measurements"].values())
    assert results["metrics"]["sanity/eps0_minus_clean"] == 0
    for name in FIGURES:
        for ext in ("png", "pdf", "csv"):
            assert (out / "compsum" / "figures" / f"{name}.{ext}").stat().st_size > 0
    nb = json.loads((out / "compsum" / "compsum.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
    # figures are shown inline in the executed notebook, not only saved
    images = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    assert images == len(FIGURES)
    text = json.dumps(nb)
    assert "it/s]" not in text and "Epoch 0:" not in text  # no progress bars in the executed notebook
    text = res.stdout + res.stderr
    assert "verdict" in text and "C4" in text  # the claims table is printed


def test_same_seed_gives_identical_smoke_metrics(smoke_run, fresh_run):
    """This module's smoke run against the fresh-copy run of the whole project (tests/conftest.py: another folder,
    another HOME, an empty cache): the same seed gives the same numbers."""
    out, _ = smoke_run
    res, fresh_out = fresh_run
    if not (fresh_out / "compsum" / "results.json").is_file():
        pytest.fail(f"compsum's smoke run in the fresh copy failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
    first = json.loads((out / "compsum" / "results.json").read_text())
    second = json.loads((fresh_out / "compsum" / "results.json").read_text())
    drop = lambda m: {k: v for k, v in m.items() if k != "wall_s"}
    assert drop(first["metrics"]) == drop(second["metrics"])
    # as JSON text, so that a NaN (curves with no common clean-accuracy range) compares equal to itself
    assert json.dumps(first["measurements"], sort_keys=True) == json.dumps(second["measurements"], sort_keys=True)


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
