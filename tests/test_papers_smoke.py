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
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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


def _fresh_copy(dest: Path) -> Path:
    """The files a clone of this checkout would have, copied to ``dest``."""
    from conftest import ROOT

    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory):
    """``paperlib reproduce all --profile smoke`` in a fresh copy with a temporary HOME."""
    base = tmp_path_factory.mktemp("fresh")
    clone, home, out = _fresh_copy(base / "clone"), base / "home", base / "out"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLIB_")}
    env.update(HOME=str(home), PYTHONPATH=str(clone), XDG_CACHE_HOME=str(home / ".cache"))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "paperlib", "reproduce", "all", "--profile", "smoke",
                          "--out", str(out), "-q"], cwd=clone, env=env, capture_output=True, text=True, timeout=1500)
    print(f"fresh copy: all smoke profiles in {time.perf_counter() - t0:.0f} s")
    return res, out


@pytest.fixture(scope="module", params=sorted(papers()))
def smoke(request, fresh_run):
    """(slug, results, executed notebook, folder) of one paper's smoke run in the fresh copy."""
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
