"""The per-seed claim statistics of flgfn, on hand-made rows."""
import pytest
import yaml

from paperlib.flgfn import claims as fc
from paperlib.flgfn.sampler import METHODS
from paperlib.repro.claims import load_spec, measurement_names


def row(env, method, seed, l1):
    return {"env": env, "method": method, "seed": seed, "steps": [0, 10, 20, 30, 40], "l1": l1}


def test_auc_final_half_and_init():
    rows = [row("set", m, s, [1.0, 0.8 - 0.1 * k, 0.6, 0.4 - 0.1 * s, 0.2]) for k, m in enumerate(METHODS)
            for s in (0, 1)]
    m = fc.measurements(rows, "set", METHODS, [0, 1])
    assert m["set_db_auc"] == pytest.approx([(0.8 + 0.6 + 0.4 + 0.2) / 4, (0.8 + 0.6 + 0.3 + 0.2) / 4])
    assert m["set_fl_db_auc"][0] == pytest.approx((0.7 + 0.6 + 0.4 + 0.2) / 4)
    assert m["set_db_final"] == [0.2, 0.2]
    assert m["set_db_half"] == [0.6, 0.6]  # step 20 of 40
    assert m["set_init"] == [1.0, 1.0]
    assert "set_fl_db_incomplete_auc" in m


def test_missing_or_duplicate_rows_fail():
    rows = [row("set", m, 0, [1, 0.5]) for m in METHODS]
    with pytest.raises(KeyError, match="found 0"):
        fc.measurements(rows, "set", METHODS, [0, 1])
    with pytest.raises(KeyError, match="found 2"):
        fc.measurements(rows + rows[:1], "set", METHODS, [0])


def test_claims_yaml_reads_only_recorded_measurements():
    spec = load_spec(yaml.safe_load(open("reproductions/flgfn/claims.yaml")))
    recorded = set()
    for env in ("hypergrid", "set"):
        rows = [row(env, m, 0, [1.0, 0.5, 0.4, 0.3, 0.2]) for m in METHODS]
        recorded |= set(fc.measurements(rows, env, METHODS, [0]))
    assert measurement_names(spec) <= recorded
