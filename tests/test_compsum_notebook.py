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
def smoke_run(fresh_run, tmp_path_factory):
    """compsum's smoke run from the fresh-copy run of every paper (tests/conftest.py: a clone-like copy, its own HOME,
    an empty cache), copied so that the crash test below can write over it. That two runs give the same numbers is
    tested by tests/test_papers_smoke.py, which compares this run's measurements with the golden values of an earlier
    run (tests/golden/compsum.json, tolerance 1e-9 absolute + 1e-6 relative)."""
    import shutil

    pytest.importorskip("torchattacks")
    res, fresh_out = fresh_run
    if not (fresh_out / "compsum" / "results.json").is_file():
        pytest.fail(f"compsum's smoke run in the fresh copy failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
    out = tmp_path_factory.mktemp("smoke")
    shutil.copytree(fresh_out / "compsum", out / "compsum")
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
