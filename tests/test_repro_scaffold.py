"""`paperlib new`, the clean-tree rule and `paperlib verify`, end to end in a throwaway copy of the repository.

The copy is a git repository holding the library and one scaffolded paper; the real CLI runs there
with PAPERLIB_ROOT and PYTHONPATH pointing at it, so the scaffold's notebook imports its own package.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

SLUG = "toy_paper"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


class Repo:
    def __init__(self, root: Path, cache: Path):
        self.root, self.cache = root, cache

    def cli(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("PAPERLIB_RUN_DIR", "PAPERLIB_ARTIFACT_LOG")}
        env.update(PAPERLIB_ROOT=str(self.root), PYTHONPATH=str(self.root), PAPERLIB_CACHE_DIR=str(self.cache))
        return subprocess.run([sys.executable, "-m", "paperlib", *args], cwd=self.root, capture_output=True,
                              text=True, timeout=timeout, env=env)

    def files(self) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if ".git" not in p.parts and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(ROOT / "paperlib", root / "paperlib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / ".gitignore", root / ".gitignore")
    for folder in ("notebooks", "reproductions", "tests"):
        (root / folder).mkdir()
    r = Repo(root, tmp_path_factory.mktemp("cache"))
    res = r.cli("new", SLUG, "--title", "A Toy Paper: Medians under Heavy Tails")
    assert res.returncode == 0, res.stderr
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "library and a scaffolded paper")
    return r


def test_scaffold_writes_the_shape_of_a_paper(repo):
    for rel in (f"paperlib/{SLUG}/__init__.py", f"paperlib/{SLUG}/experiment.py", f"paperlib/{SLUG}/claims.py",
                f"notebooks/{SLUG}.py", f"reproductions/{SLUG}/paper.yaml", f"reproductions/{SLUG}/profiles.yaml",
                f"reproductions/{SLUG}/claims.yaml", f"reproductions/{SLUG}/REPORT.md", f"tests/test_{SLUG}.py"):
        assert (repo.root / rel).is_file(), rel
    nb = (repo.root / "notebooks" / f"{SLUG}.py").read_text()
    assert 'tags=["parameters"]' in nb and f'Run("{SLUG}", globals())' in nb and "plt.show()" in nb
    assert 'matplotlib.use("Agg")' not in nb
    report = (repo.root / "reproductions" / SLUG / "REPORT.md").read_text()
    assert "<!-- claims:begin -->" in report and "<!-- claims:end -->" in report and "| paper | here | why |" in report
    assert "A Toy Paper" in (repo.root / "reproductions" / SLUG / "paper.yaml").read_text()
    listed = repo.cli("list", SLUG, "--params")
    assert listed.returncode == 0, listed.stderr
    assert "profile smoke" in listed.stdout and "profile quick" in listed.stdout and "profile full" in listed.stdout
    assert "claim C1" in listed.stdout and "seeds: list[int]" in listed.stdout


@pytest.mark.parametrize("slug, message", [
    ("9lives", "must be a lowercase Python identifier"),
    ("my-paper", "must be a lowercase Python identifier"),
    ("Paper", "must be a lowercase Python identifier"),
    ("lambda", "not a keyword"),
    (SLUG, "is taken"),
    ("repro", "is taken: paperlib/repro"),  # a shared piece of the library
])
def test_a_bad_slug_is_refused_and_nothing_is_written(repo, slug, message):
    before = repo.files()
    res = repo.cli("new", slug)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert repo.files() == before


def test_the_scaffolds_unit_test_passes(repo):
    env = dict(os.environ, PYTHONPATH=str(repo.root))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/test_{SLUG}.py"],
                         cwd=repo.root, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stdout[-2000:]
    assert "4 passed" in res.stdout


def test_the_scaffolds_smoke_profile_runs_through_the_cli(repo, tmp_path):
    res = repo.cli("reproduce", SLUG, "--profile", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((tmp_path / SLUG / "results.json").read_text())
    assert results["status"] == "ok" and results["params"]["seeds"] == [0]
    assert [c["verdict"] for c in results["claims"]] == ["not_assessed"]  # one seed
    assert [c["id"] for c in results["checks"]] == ["K1"]
    assert results["manifest"]["dirty"] is False and results["manifest"]["git_sha"]
    nb = json.loads((tmp_path / SLUG / f"{SLUG}.ipynb").read_text())
    images = [o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == len(results["figures"]) == 1  # the figure is shown inline, and saved
    assert (tmp_path / SLUG / "figures" / "errors.pdf").stat().st_size > 0


def test_quick_results_into_the_repository_need_a_clean_checkout(repo):
    results = repo.root / "reproductions" / SLUG / "results" / "quick"
    nb = repo.root / "notebooks" / f"{SLUG}.py"
    nb.write_text(nb.read_text().replace("n = 200  # samples per seed", "n = 100  # samples per seed"))
    try:
        res = repo.cli("reproduce", SLUG, "--profile", "quick")
        assert res.returncode == 2 and "uncommitted changes" in res.stderr and f"notebooks/{SLUG}.py" in res.stderr
        assert "--allow-dirty" in res.stderr and "Traceback" not in res.stderr
        assert not results.exists()
        res = repo.cli("reproduce", SLUG, "--profile", "quick", "--allow-dirty", "-q")
        assert res.returncode == 0, res.stderr[-3000:]
        assert "WARNING" in res.stderr and "DIRTY" in res.stderr
        manifest = json.loads((results / "results.json").read_text())["manifest"]
        assert manifest["dirty"] is True and manifest["dirty_files"] == [f"notebooks/{SLUG}.py"]
    finally:
        _git(repo.root, "checkout", "--", f"notebooks/{SLUG}.py")
    # an untracked module in the library counts too; documentation and run outputs do not
    (repo.root / "paperlib" / SLUG / "extra.py").write_text("X = 1\n")
    try:
        res = repo.cli("reproduce", SLUG, "--profile", "quick")
        assert res.returncode == 2 and f"paperlib/{SLUG}/extra.py" in res.stderr
    finally:
        (repo.root / "paperlib" / SLUG / "extra.py").unlink()
    (repo.root / "reproductions" / SLUG / "REPORT.md").write_text("edited\n")
    res = repo.cli("reproduce", SLUG, "--profile", "quick", "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((results / "results.json").read_text())["manifest"]["dirty"] is False
    _git(repo.root, "checkout", "--", f"reproductions/{SLUG}/REPORT.md")


def test_verify_compares_reruns_with_golden_and_committed_values(repo):
    golden = repo.root / "tests" / "golden" / f"{SLUG}.json"
    res = repo.cli("verify", SLUG)
    assert res.returncode == 2 and f"verify {SLUG} --update" in res.stderr  # no golden file yet
    (repo.root / "notebooks" / f"{SLUG}.py").write_text((repo.root / "notebooks" / f"{SLUG}.py").read_text() + "\n")
    res = repo.cli("verify", SLUG, "--update")
    assert res.returncode == 2 and "uncommitted" in res.stderr and not golden.exists()
    _git(repo.root, "checkout", "--", f"notebooks/{SLUG}.py")

    res = repo.cli("verify", SLUG, "--update")
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(golden.read_text())
    assert data["params"]["seeds"] == [0] and set(data["measurements"]) == {"method_error", "baseline_error"}
    assert data["tolerance"]["rel"] > 0 and data["source"]["dirty"] is False

    res = repo.cli("verify", SLUG)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "all match" in res.stdout and "largest difference" in res.stdout

    data["measurements"]["method_error"][0] += 0.001
    golden.write_text(json.dumps(data))
    res = repo.cli("verify", SLUG)
    assert res.returncode == 1
    assert "MISMATCH" in res.stdout and "method_error[0]" in res.stdout and "|diff| 0.001" in res.stdout

    # the quick profile against the committed results (made by the test above, from a clean checkout)
    _git(repo.root, "add", "-A")
    _git(repo.root, "commit", "-q", "-m", "quick results and golden values")
    res = repo.cli("verify", SLUG, "--profile", "quick")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "overall" in res.stdout and "max |diff|" in res.stdout and "method_error" in res.stdout
    committed = repo.root / "reproductions" / SLUG / "results" / "quick" / "results.json"
    res_json = json.loads(committed.read_text())
    res_json["measurements"]["baseline_error"][2] *= 1.01
    committed.write_text(json.dumps(res_json))
    res = repo.cli("verify", SLUG, "--profile", "quick")
    assert res.returncode == 1 and "baseline_error[2]" in res.stdout and "NO" in res.stdout
