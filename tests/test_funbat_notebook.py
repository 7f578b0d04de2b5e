"""The FunBaT notebook's smoke profile end to end through the real runner."""
import json

import pytest

from paperlib.data import data_dir

pytestmark = pytest.mark.slow

needs_data = pytest.mark.skipif(not (data_dir() / "spatiotemporal" / "ozone2.rda").exists(),
                                reason="needs the spatio-temporal stand-in data (data/spatiotemporal in the repository)")


@needs_data
def test_unknown_dataset_is_a_clear_error(tmp_path):
    from conftest import run_cli
    res = run_cli("reproduce", "funbat", "--profile", "smoke", "--out", str(tmp_path), "-p", "datasets=[beijing]")
    assert res.returncode == 1
    assert "unknown dataset" in res.stderr and "colorado" in res.stderr
    assert not (tmp_path / "funbat").exists()
