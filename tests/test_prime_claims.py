"""PRIME's claim statistics and its claims.yaml (the paper's claims, restated; our checks apart)."""
import math

import pytest
import yaml

from paperlib.prime.claims import final_accuracy, mean_over_training
from paperlib.repro.claims import load_spec, measurement_names
from paperlib.repro.registry import repo_root


def test_final_accuracy_is_the_mean_of_the_last_window():
    assert final_accuracy([0.0, 0.2, 0.4, 0.6, 0.8], 2) == pytest.approx(0.7)
    assert final_accuracy([0.5], 10) == pytest.approx(0.5)  # shorter than the window: every step
    with pytest.raises(ValueError):
        final_accuracy([], 3)


def test_mean_over_training_skips_steps_without_a_value():
    assert mean_over_training([0.5, float("nan"), 1.0]) == pytest.approx(0.75)
    assert math.isnan(mean_over_training([float("nan"), float("nan")]))


def test_claims_are_the_papers_and_checks_apart():
    s = load_spec(yaml.safe_load((repo_root() / "reproductions" / "prime" / "claims.yaml").read_text()))
    assert [c["id"] for c in s["claims"]] == ["C1", "C2", "C3"]
    for c in s["claims"]:
        assert c["where"] and "TODO" not in c["where"]
    for c in s["claims"] + s["checks"]:
        for cond in c["conditions"]:
            assert cond["margin"] > 0 and "mechanical" not in cond["reason"]
    claim_names = measurement_names(s["claims"])
    # the RL policy's own log-ratio is our check, not the paper's claim
    assert "c3_rloo_logratio_hits" not in claim_names
    assert "c3_rloo_logratio_hits" in measurement_names(s["checks"])
