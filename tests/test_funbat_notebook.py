"""The FunBaT notebook's smoke profile end to end through the real runner."""
import pytest

from paperlib.data import data_dir

from conftest import bad_input

pytestmark = pytest.mark.slow

needs_data = pytest.mark.skipif(not (data_dir() / "spatiotemporal" / "ozone2.rda").exists(),
                                reason="needs the spatio-temporal stand-in data (data/spatiotemporal in the repository)")


CASE_UNKNOWN_DATASET = bad_input("funbat-unknown-dataset", "reproduce", "funbat", "--profile", "smoke",
                                 "--out", "{out}", "-p", "datasets=[beijing]")


@needs_data
def test_unknown_dataset_is_a_clear_error(bad_input_runs):
    res, out = bad_input_runs[CASE_UNKNOWN_DATASET]
    assert res.returncode == 1
    assert "unknown dataset" in res.stderr and "colorado" in res.stderr
    assert not (out / "funbat").exists()
