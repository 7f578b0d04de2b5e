"""The CLI's failure cases: non-zero exit, a message that says what to do, nothing written."""
import subprocess

import pytest

from conftest import ROOT


def _tree_state():
    """Tracked and untracked files under the folders a run could write to."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "reproductions", "figures"],
                         cwd=ROOT, capture_output=True, text=True)
    return out.stdout


@pytest.mark.parametrize("args, message", [
    (["reproduce", "nosuchpaper"], "unknown paper 'nosuchpaper'"),
    (["reproduce", "compsum", "--profile", "fastest"], "unknown profile 'fastest'"),
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
