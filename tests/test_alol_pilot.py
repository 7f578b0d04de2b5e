"""The A-LoL pilot's arithmetic: paired seed sd, Holm-level MDE, seeds needed; pilot seeds never evaluation seeds."""
import numpy as np
import pytest

from paperlib.alol.pilot import condition_stats, main
from paperlib.repro.claims import ALPHA, load_spec, mde, seeds_needed


def _spec():
    cond = lambda m: {"measurement": f"{m}_a", "minus": f"{m}_b", "test": "greater", "value": 0.0, "margin": 0.02,
                      "reason": "r"}
    return load_spec({"claims": [{"id": "C1", "statement": "s", "where": "w", "correction": "holm",
                                  "conditions": [cond("x"), cond("y")]}],
                      "checks": [{"id": "X1", "statement": "s", "conditions": [cond("x")]}]})


def test_condition_stats_pairs_by_seed_and_uses_the_holm_level():
    meas = {"x_a": [0.30, 0.32, 0.35], "x_b": [0.28, 0.31, 0.30], "y_a": [1.0, 1.0, 1.0], "y_b": [0.9, 0.95, 1.0]}
    rows = condition_stats(_spec(), meas, [5, 8])
    c1x = rows[0]
    d = np.array([0.02, 0.01, 0.05])
    assert c1x["pilot_sd"] == pytest.approx(d.std(ddof=1))
    assert c1x["pilot_mean"] == pytest.approx(d.mean())
    assert c1x["alpha"] == pytest.approx(ALPHA / 2 / 2)  # Bonferroni level of a 2-condition Holm claim
    assert rows[2]["alpha"] == pytest.approx(ALPHA / 2)  # the check has no correction
    assert c1x["mde"]["8"] == pytest.approx(mde("greater", d.std(ddof=1), 8, alpha=ALPHA / 4))
    assert c1x["mde"]["8"] < c1x["mde"]["5"]
    assert c1x["seeds_needed"] == seeds_needed("greater", d.std(ddof=1), 0.02, alpha=ALPHA / 4)
    # the Holm level asks for more seeds than the uncorrected check on the same differences
    assert c1x["seeds_needed"] > rows[2]["seeds_needed"]


def test_pilot_seeds_must_not_be_evaluation_seeds():
    with pytest.raises(SystemExit, match="must be >= 100"):
        main(["--seeds", "3", "101"])
