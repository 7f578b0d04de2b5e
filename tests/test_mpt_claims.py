"""MPT's per-seed claim values (paperlib.mpt.claims) on a hand-made grid of cells."""
import pytest

from paperlib.mpt.claims import gain_over, per_seed_f1

TASKS, KS, SEEDS = ["a", "b"], [8, 32], [0, 1]


def cells():
    # macro-F1 = base(method) + 0.1 * task index + 0.01 * K/8 + 0.001 * seed
    base = {"ft": 0.30, "mpt": 0.40}
    return {(t, k, s): {"f1": {m: b + 0.1 * i + 0.01 * k / 8 + 0.001 * s for m, b in base.items()}}
            for i, t in enumerate(TASKS) for k in KS for s in SEEDS}


def test_per_seed_f1_averages_over_tasks_and_k_per_seed():
    # mean over tasks of 0.1 i = 0.05; mean over K of 0.01 K/8 = 0.025
    assert per_seed_f1(cells(), "mpt", TASKS, KS, SEEDS) == pytest.approx([0.475, 0.476])
    assert per_seed_f1(cells(), "ft", TASKS, [8], SEEDS) == pytest.approx([0.36, 0.361])


def test_gain_over_is_the_paired_difference_at_one_k():
    c = cells()
    c[("b", 32, 1)]["f1"]["mpt"] = 0.0  # one cell moved: only that seed's gain at K=32 changes
    assert gain_over(c, "mpt", "ft", TASKS, 8, SEEDS) == pytest.approx([0.1, 0.1])
    assert gain_over(c, "mpt", "ft", TASKS, 32, SEEDS)[0] == pytest.approx(0.1)
    assert gain_over(c, "mpt", "ft", TASKS, 32, SEEDS)[1] == pytest.approx((0.1 + (0.0 - 0.441)) / 2)  # ft there: 0.30 + 0.1 + 0.04 + 0.001


def test_a_missing_cell_or_method_names_what_is_missing():
    with pytest.raises(KeyError, match="method 'self_training'"):
        per_seed_f1(cells(), "self_training", TASKS, KS, SEEDS)
    with pytest.raises(KeyError, match="K=16"):
        gain_over(cells(), "mpt", "ft", TASKS, 16, SEEDS)
