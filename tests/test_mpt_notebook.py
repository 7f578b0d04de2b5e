"""The MPT notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import json

import pytest

pytestmark = pytest.mark.slow


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


@pytest.mark.parametrize("args, needs", [(["-p", "n_top=0"], "pooling=cls"), (["-p", "tune_plm=False"], "n_top=0")])
def test_a_parameter_the_path_would_ignore_is_a_clear_error(tmp_path, args, needs):
    """results.json records every parameter: one that the chosen path would not use (the whole-LM classifier
    pools [CLS] whatever `pooling` says; the cached path always tunes its top blocks) is refused, not recorded."""
    from conftest import run_cli
    res = run_cli("reproduce", "mpt", "--profile", "smoke", "--out", str(tmp_path), *args)
    assert res.returncode == 1
    assert needs in res.stderr
    assert not (tmp_path / "mpt").exists()
