"""Every paper's smoke profile end to end through the real CLI, on a fresh copy of the project.

The copy is what a clone of this checkout holds (tracked files and untracked ones git does not
ignore: no caches, no ../shared beside it), run with a temporary HOME and none of paperlib's
environment variables, reusing the installed environment: `paperlib reproduce all --profile
smoke --out DIR` must succeed for every paper there, as on a new user's machine. Then, for each
paper in the registry: results.json has the contract's shape, every measurement its
claims.yaml reads was recorded, every figure is shown inline in the executed notebook (and saved),
and the per-seed measurements equal the golden values in ``tests/golden/<paper>.json`` within the
tolerance stated there, so a refactor that changes a result fails here. After an intended change
of results, regenerate them from a clean checkout: ``paperlib verify PAPER --update``.
"""
import json

import pytest
import yaml

from paperlib.repro import claims as claims_mod
from paperlib.repro.registry import papers
from paperlib.repro.verify import compare_with_golden, golden_path

pytestmark = pytest.mark.slow

TOP = {"paper": str, "profile": str, "status": str, "manifest": dict, "params": dict, "metrics": dict,
       "measurements": dict, "claims": list, "checks": list}
MANIFEST = {"git_sha", "dirty", "started", "wall_s", "python", "packages", "hardware"}
CLAIM = {"id", "statement", "verdict", "conditions"}
CONDITION = {"measurement", "test", "value", "margin", "verdict"}


@pytest.fixture(scope="module", params=sorted(papers()))
def smoke(request, fresh_run):
    """(slug, results, executed notebook, folder) of one paper's smoke run in the fresh copy (``fresh_run`` is in
    conftest.py: one run for the session, which tests/test_compsum_notebook.py also reads)."""
    slug = request.param
    res, out = fresh_run
    if not (out / slug / "results.json").is_file():
        pytest.fail(f"{slug}: the smoke run on a fresh copy failed (exit {res.returncode}):\n{res.stderr[-4000:]}")
    results = json.loads((out / slug / "results.json").read_text())
    notebook = json.loads((out / slug / f"{slug}.ipynb").read_text())
    print(f"{slug}: smoke run {results['manifest']['wall_s']:.0f} s")
    return slug, results, notebook, out / slug


def test_the_fresh_copy_runs_every_paper(fresh_run):
    res, out = fresh_run
    assert res.returncode == 0, res.stderr[-4000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(papers())


def test_results_have_the_contract_shape(smoke):
    slug, results, _, _ = smoke
    for key, kind in TOP.items():
        assert isinstance(results.get(key), kind), f"{slug}: results.json[{key!r}] should be a {kind.__name__}"
    assert (results["paper"], results["profile"], results["status"]) == (slug, "smoke", "ok")
    assert MANIFEST <= set(results["manifest"]), MANIFEST - set(results["manifest"])
    assert results["manifest"]["packages"]["torch"] and results["manifest"]["hardware"]["cpu_count"]
    assert results["claims"], f"{slug} states no claim"
    for entry in results["claims"] + results["checks"]:
        assert CLAIM <= set(entry), (entry.get("id"), CLAIM - set(entry))
        assert entry["verdict"] in claims_mod.VERDICTS
        for cond in entry["conditions"]:
            assert CONDITION <= set(cond), (entry["id"], CONDITION - set(cond))
            assert cond["verdict"] in claims_mod.VERDICTS
    for name, values in results["measurements"].items():
        assert isinstance(values, list) and values, f"{slug}: measurement {name} has no per-seed values"


def test_every_measurement_the_claims_read_was_recorded(smoke):
    slug, results, _, _ = smoke
    spec = claims_mod.load_spec(yaml.safe_load(papers()[slug].folder.joinpath("claims.yaml").read_text()))
    missing = claims_mod.measurement_names(spec) - set(results["measurements"])
    assert not missing, f"{slug}: claims.yaml reads measurements the notebook never recorded: {sorted(missing)}"


def test_every_figure_is_shown_inline_and_saved(smoke):
    slug, results, notebook, folder = smoke
    images = [o for cell in notebook["cells"] for o in cell.get("outputs", [])
              if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert results["figures"], f"{slug} records no figure"
    assert len(images) >= len(results["figures"]), (
        f"{slug}: {len(results['figures'])} figures recorded, {len(images)} shown in the executed notebook "
        "(show each with plt.show() after run.figure(...); never matplotlib.use('Agg'))")
    for png in results["figures"]:
        for ext in ("png", "pdf"):
            assert (folder / "figures" / png.replace(".png", f".{ext}")).stat().st_size > 0


def test_smoke_measurements_equal_the_golden_values(smoke):
    slug, results, _, _ = smoke
    path = golden_path(slug)
    assert path.is_file(), f"no golden values for {slug}: make them with `paperlib verify {slug} --update`"
    golden = json.loads(path.read_text())
    cmp = compare_with_golden(results, golden)
    if not cmp.ok:
        changed = {k for k in set(golden["params"]) & set(results["params"]) if golden["params"][k] != results["params"][k]}
        hint = f"\nthe smoke parameters changed since the golden file was made: {sorted(changed)}" if changed else ""
        pytest.fail(f"{slug}: the smoke measurements differ from {path.name} (tolerance abs {cmp.atol:g} + rel "
                    f"{cmp.rtol:g})\n{cmp.largest()}\n{cmp.table(only_failures=True)}{hint}\nIf the change is "
                    f"intended, regenerate from a clean checkout: paperlib verify {slug} --update", pytrace=False)
