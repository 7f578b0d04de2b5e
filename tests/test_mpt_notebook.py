"""The MPT notebook's smoke profile end to end through the real runner, and its bad-input errors."""
import pytest

from conftest import bad_input

pytestmark = pytest.mark.slow


CASE_HF_LM_SEVERAL_WORKERS = bad_input("mpt-hf-lm-several-workers", "reproduce", "mpt", "--profile", "smoke",
                                       "--out", "{out}", "-p", "plm=smollm2", "-p", "workers=2")


def test_a_hugging_face_lm_with_several_workers_is_a_clear_error(bad_input_runs):
    res, out = bad_input_runs[CASE_HF_LM_SEVERAL_WORKERS]
    assert res.returncode == 1
    assert "workers=1" in res.stderr
    assert not (out / "mpt").exists()


CASE_UNKNOWN_TASK = bad_input("mpt-unknown-task", "reproduce", "mpt", "--profile", "smoke",
                              "--out", "{out}", "-p", "tasks=[pubmed]")


def test_unknown_task_is_a_clear_error(bad_input_runs):
    res, out = bad_input_runs[CASE_UNKNOWN_TASK]
    assert res.returncode == 1
    assert "unknown task" in res.stderr and "scicite" in res.stderr
    assert not (out / "mpt").exists()


IGNORED = [(bad_input(f"mpt-ignored-{arg}", "reproduce", "mpt", "--profile", "smoke", "--out", "{out}", "-p", arg),
            needs) for arg, needs in [("n_top=0", "pooling=cls"), ("tune_plm=False", "n_top=0")]]


@pytest.mark.parametrize("case, needs", IGNORED)
def test_a_parameter_the_path_would_ignore_is_a_clear_error(bad_input_runs, case, needs):
    """results.json records every parameter: one that the chosen path would not use (the whole-LM classifier
    pools [CLS] whatever `pooling` says; the cached path always tunes its top blocks) is refused, not recorded."""
    res, out = bad_input_runs[case]
    assert res.returncode == 1
    assert needs in res.stderr
    assert not (out / "mpt").exists()
