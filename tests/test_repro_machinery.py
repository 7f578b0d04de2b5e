"""Registry, parameter checking, claims statistics and atomic writes, without running a notebook."""
import json
import math
from pathlib import Path

import pytest

from paperlib.repro import claims
from paperlib.repro.io import atomic_write_json, replace_dir
from paperlib.repro.registry import Parameter, ReproError, get_paper, papers, parse_parameters


def test_compsum_is_registered_with_profiles_and_claims():
    p = get_paper("compsum")
    assert set(p.profiles) == {"smoke", "quick", "full"}
    assert [c["id"] for c in p.claims] == ["C1", "C2", "C3", "C4"]
    assert "seeds" in p.parameters and p.parameters["seeds"].default == [0, 1, 2, 3, 4, 5, 6, 7]
    assert p.parameters["epsilon"].comment  # every parameter carries its reason


def test_every_profile_resolves_against_the_notebook_parameters():
    for slug, paper in papers().items():
        for profile in paper.profiles:
            paper.resolve(profile)


def test_resolve_rejects_unknown_and_mistyped_parameters():
    p = get_paper("compsum")
    with pytest.raises(ReproError, match="unknown parameter 'epoch'.*Did you mean 'epochs'"):
        p.resolve("quick", {"epoch": 3})
    with pytest.raises(ReproError, match="'epochs' must be int"):
        p.resolve("quick", {"epochs": "three"})
    with pytest.raises(ReproError, match="must be list\\[int\\]"):
        p.resolve("quick", {"seeds": [0, "a"]})
    with pytest.raises(ReproError, match="no profile 'fast'"):
        p.resolve("fast")
    assert p.resolve("quick", {"adv_lr": 1})["adv_lr"] == 1.0  # ints are fine where floats are expected


def test_parameter_type_rules():
    assert Parameter("x", 1.0).check(2) == 2.0
    with pytest.raises(ReproError):
        Parameter("x", 1).check(1.5)
    with pytest.raises(ReproError):
        Parameter("x", 1).check(True)  # bools are not ints here
    with pytest.raises(ReproError):
        Parameter("x", True).check(1)


def test_unknown_paper_suggests_the_close_one():
    with pytest.raises(ReproError, match="unknown paper 'compsun'.*Did you mean 'compsum'"):
        get_paper("compsun")


def test_parameters_cell_must_exist(tmp_path):
    nb = tmp_path / "x.py"
    nb.write_text("# %%\nx = 1\n")
    with pytest.raises(ReproError, match="no cell tagged parameters"):
        parse_parameters(nb)
    nb.write_text('# %% tags=["parameters"]\nx = 1  # one\ny = [1.0]  # two\n\n# %%\nprint(x)\n')
    ps = parse_parameters(nb)
    assert ps["x"].default == 1 and ps["y"].comment == "two"


def test_mean_ci_matches_the_t_interval():
    m, s, (lo, hi) = claims.mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and s == 1.0
    # t_{0.975, 2} = 4.3027
    assert math.isclose(hi - m, 4.302653 / math.sqrt(3), rel_tol=1e-5)


def test_atomic_write_leaves_the_old_file_when_serialisation_fails(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_replace_dir_swaps_whole_folders(tmp_path):
    old, new = tmp_path / "dst", tmp_path / "src"
    old.mkdir(); (old / "stale.png").write_text("old")
    new.mkdir(); (new / "fresh.png").write_text("new")
    replace_dir(new, old)
    assert sorted(p.name for p in old.iterdir()) == ["fresh.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]


def test_manifest_names_the_commit_the_run_started_from(tmp_path):
    """A commit made while a long run was going must not be named as the code that produced it."""
    import datetime as dt
    import subprocess

    from paperlib.repro.io import head_commit, manifest
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "one")
    at_start = head_commit(tmp_path)
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "two")
    now = dt.datetime.now(dt.timezone.utc)
    assert manifest(tmp_path, now, 1.0, changes=[], git_sha=at_start)["git_sha"] == at_start
    assert manifest(tmp_path, now, 1.0, changes=[])["git_sha"] == head_commit(tmp_path) != at_start
