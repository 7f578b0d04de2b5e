"""The CLI's failure cases: non-zero exit, a message that says what to do, nothing written."""
import subprocess

import pytest

from conftest import ROOT, run_cli
from paperlib.repro.registry import papers


def _tree_state():
    """Tracked and untracked files under the folders a run could write to."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "reproductions", "figures"],
                         cwd=ROOT, capture_output=True, text=True)
    return out.stdout


@pytest.mark.parametrize("args, message", [
    (["reproduce", "nosuchpaper"], "unknown paper 'nosuchpaper'"),
    (["reproduce", "compsum", "--profile", "fastest"], "unknown profile 'fastest'"),
    (["reproduce", "compsum", "--profile", "lm-smoke"], "unknown profile 'lm-smoke' for compsum"),
    (["reproduce", "compsum", "-p", "epoch=3"], "unknown parameter 'epoch'"),
    (["reproduce", "compsum", "-p", "epochs=three"], "'epochs' must be int"),
    (["reproduce", "compsum", "-p", "epochs"], "-p takes KEY=VALUE"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(cli, tmp_path, args, message):
    before = _tree_state()
    res = cli(*args, "--out", str(tmp_path / "out"))
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()
    assert _tree_state() == before


def test_unknown_parameter_lists_the_valid_ones(cli):
    res = cli("reproduce", "compsum", "-p", "nus_grid=[1]")
    assert res.returncode == 2
    assert "Valid parameters" in res.stderr and "nus: list[float]" in res.stderr


def test_list_shows_papers_profiles_and_claims(cli):
    res = cli("list", "--params")
    assert res.returncode == 0, res.stderr
    assert "compsum:" in res.stdout and "profile smoke" in res.stdout and "claim C2" in res.stdout
    assert "epsilon: float" in res.stdout


def test_list_of_an_unknown_paper_is_an_error(cli):
    res = cli("list", "compsun")
    assert res.returncode == 2 and "unknown paper 'compsun'" in res.stderr and "Did you mean 'compsum'" in res.stderr


def test_list_says_what_data_each_paper_needs(cli):
    res = cli("list")
    assert res.returncode == 0
    for slug in ("compsum", "funbat", "mpt", "rnafm", "alol", "prime"):
        block = res.stdout.split(f"{slug}: ", 1)[1].split("\n\n")[0]
        assert "  data    " in block, f"{slug} does not say what data it needs"


def test_an_unwritable_out_is_refused_before_anything_runs(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    res = cli("reproduce", "compsum", "--profile", "smoke", "--out", str(blocker / "out"))
    assert res.returncode == 2 and "cannot write results under" in res.stderr and "nothing was run" in res.stderr
    assert "Traceback" not in res.stderr and "==" not in res.stderr  # no notebook started
    assert not list(tmp_path.glob("**/paperlib-*"))


def test_p_can_target_one_paper_and_unqualified_keys_go_where_they_exist(capsys):
    from paperlib.cli import per_paper_overrides
    from paperlib.repro.registry import ReproError, get_paper

    selected = [get_paper("compsum"), get_paper("alol")]
    out = per_paper_overrides(selected, ["compsum.epochs=2", "seeds=[0]"])
    assert out["compsum"] == {"epochs": 2, "seeds": [0]} and out["alol"] == {"seeds": [0]}
    assert "epochs" not in out["alol"]
    with pytest.raises(ReproError, match="no paper among compsum, alol has a parameter 'epochz'"):
        per_paper_overrides(selected, ["epochz=2"])
    with pytest.raises(ReproError, match="unknown parameter 'epochz'.*Did you mean 'epochs'"):
        per_paper_overrides(selected, ["compsum.epochz=2"])
    with pytest.raises(ReproError, match="prime is not among the papers being run"):
        per_paper_overrides(selected, ["prime.seeds=[0]"])


@pytest.mark.parametrize("slug", sorted(papers()))
def test_papermill_reads_every_parameter_without_a_warning(slug, caplog):
    """Papermill parses the parameters cell itself; a comment it cannot parse (e.g. one holding `=`) makes it
    warn 'Unable to parse line' and then 'Passed unknown parameter' at run time."""
    import logging

    import jupytext
    import papermill as pm

    from paperlib.repro.registry import get_paper

    paper = get_paper(slug)
    nb = jupytext.read(paper.notebook)
    path = ROOT / ".pytest_cache" / f"{slug}.params.ipynb"
    path.parent.mkdir(exist_ok=True)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, path, fmt="ipynb")
    with caplog.at_level(logging.WARNING, logger="papermill"):
        found = pm.inspect_notebook(str(path))
    assert set(found) == set(paper.parameters), set(paper.parameters) ^ set(found)
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]


def test_a_notebook_edited_since_its_commit_is_announced_loudly(monkeypatch, capsys, tmp_path):
    from paperlib.repro import runner
    from paperlib.repro.registry import get_paper

    monkeypatch.setattr(runner, "uncommitted_inputs", lambda root: ["notebooks/compsum.py"])

    def no_run(*a, **k):
        raise runner.RunFailed("not run in this test")

    monkeypatch.setattr(runner, "run_paper", no_run)
    rc = runner.reproduce([get_paper("compsum")], "smoke", {}, tmp_path, stream=False)
    err = capsys.readouterr().err
    assert rc == 1 and "WARNING: notebooks/compsum.py differs from the committed notebook" in err


def test_jobs_is_checked_before_anything_runs(tmp_path):
    res = run_cli("reproduce", "flgfn", "dapo", "--profile", "smoke", "--jobs", "0", "--out", str(tmp_path))
    assert res.returncode != 0 and "--jobs 0" in res.stderr and not any(tmp_path.iterdir())
    res = run_cli("reproduce", "compsum", "--profile", "smoke", "--jobs", "2", "--executor", "submitit-local",
                  "--split", "seeds", "--out", str(tmp_path))
    assert res.returncode != 0 and "--jobs runs papers side by side" in res.stderr
