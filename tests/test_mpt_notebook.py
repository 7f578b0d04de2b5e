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
