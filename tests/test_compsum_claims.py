"""The comp-sum claim statistics (paperlib.compsum.claims) against values worked out by hand."""
import math

import numpy as np
import pytest

from paperlib.compsum import claims as cc


def _mix_rows():
    # 2 seeds x 2 class counts x taus 0, 1, 2; val and test accuracies chosen by hand
    table = {  # (classes, seed, tau): (val_acc, test_acc)
        (10, 0, 0.0): (0.70, 0.71), (10, 0, 1.0): (0.80, 0.79), (10, 0, 2.0): (0.78, 0.77),
        (10, 1, 0.0): (0.81, 0.72), (10, 1, 1.0): (0.80, 0.80), (10, 1, 2.0): (0.60, 0.61),
        (100, 0, 0.0): (0.50, 0.52), (100, 0, 1.0): (0.75, 0.74), (100, 0, 2.0): (0.30, 0.31),
        (100, 1, 0.0): (0.70, 0.70), (100, 1, 1.0): (0.70, 0.76), (100, 1, 2.0): (0.20, 0.21),
    }
    return [{"classes": C, "seed": s, "tau": t, "val_acc": v, "test_acc": te, "bayes_acc": 0.8 + 0.001 * s}
            for (C, s, t), (v, te) in table.items()]


def test_best_tau_is_picked_on_validation_per_seed_ties_to_the_first():
    rows = _mix_rows()
    assert cc.best_tau_per_seed(rows, 10, [0.0, 1.0, 2.0], [0, 1]) == [1.0, 0.0]
    # seed 1 at 100 classes: tau 0 and tau 1 tie on validation (0.70): the first in taus wins
    assert cc.best_tau_per_seed(rows, 100, [0.0, 1.0, 2.0], [0, 1]) == [1.0, 0.0]
    assert cc.best_tau_per_seed(rows, 100, [1.0, 0.0, 2.0], [0, 1]) == [1.0, 1.0]


def test_mixture_measurements_by_hand():
    m = cc.mixture_measurements(_mix_rows(), [10, 100], [0.0, 1.0, 2.0], [0, 1])
    assert m["ce_acc_c10"] == [0.79, 0.80]
    assert m["best_tau_acc_c10"] == [0.79, 0.72]  # seed 1 picks tau 0 on validation: its *test* accuracy
    assert m["mae_acc_c100"] == [0.31, 0.21]
    np.testing.assert_allclose(m["mae_gap_c10"], [0.02, 0.19])
    np.testing.assert_allclose(m["mae_gap_c100"], [0.43, 0.55])
    assert m["bayes_acc_c100"] == [0.8, 0.801]
    # order follows ``seeds``
    assert cc.mixture_measurements(_mix_rows(), [10], [0.0, 1.0, 2.0], [1, 0])["ce_acc_c10"] == [0.80, 0.79]


def test_missing_or_duplicate_rows_are_errors():
    rows = _mix_rows()
    with pytest.raises(KeyError, match="expected one row"):
        cc.mixture_acc(rows, 30, 1.0, [0])
    with pytest.raises(KeyError, match="found 2"):
        cc.mixture_acc(rows + rows[:1], 10, 0.0, [0])


def test_robust_at_clean_interpolates_between_sorted_points_and_refuses_to_extrapolate():
    clean, robust = [0.8, 0.6, 0.7], [0.40, 0.60, 0.50]  # unsorted on purpose
    np.testing.assert_allclose(cc.robust_at_clean(clean, robust, [0.6, 0.65, 0.75, 0.8]), [0.60, 0.55, 0.45, 0.40])
    out = cc.robust_at_clean(clean, robust, [0.59, 0.81])
    assert np.isnan(out).all()


def test_matched_clean_robust_averages_over_the_common_range():
    # curve a: robust = 1.2 - clean on [0.6, 0.8]; curve b: robust = 1.0 - clean on [0.7, 0.9]
    a = ([0.6, 0.8], [0.6, 0.4])
    b = ([0.7, 0.9], [0.3, 0.1])
    ra, rb, (lo, hi) = cc.matched_clean_robust(a, b)
    assert (lo, hi) == (0.7, 0.8)
    # average of a linear function over [0.7, 0.8] is its value at 0.75
    assert ra == pytest.approx(0.45) and rb == pytest.approx(0.25)
    assert ra - rb == pytest.approx(0.2)  # the vertical distance between the two lines
    ra, rb, _ = cc.matched_clean_robust(a, ([0.85, 0.9], [0.1, 0.0]))
    assert math.isnan(ra) and math.isnan(rb)


def _adv_rows():
    rows = []
    # seed 0: ADV-COMP-SUM nu in {1, 2}; TRADES beta in {6, 12}; PGD
    spec = {  # (arm, seed): (family, val_robust, test_clean, test_robust)
        ("adv-comp-sum nu=1", 0): ("adv-comp-sum", 0.50, 0.80, 0.50),
        ("adv-comp-sum nu=2", 0): ("adv-comp-sum", 0.55, 0.70, 0.60),
        ("trades beta=6", 0): ("trades", 0.52, 0.78, 0.45),
        ("trades beta=12", 0): ("trades", 0.51, 0.72, 0.50),
        ("pgd", 0): ("pgd", 0.40, 0.75, 0.52),
        ("adv-comp-sum nu=1", 1): ("adv-comp-sum", 0.58, 0.82, 0.52),
        ("adv-comp-sum nu=2", 1): ("adv-comp-sum", 0.57, 0.72, 0.62),
        ("trades beta=6", 1): ("trades", 0.50, 0.80, 0.47),
        ("trades beta=12", 1): ("trades", 0.50, 0.74, 0.52),
        ("pgd", 1): ("pgd", 0.40, 0.77, 0.50),
    }
    for (arm, s), (fam, vr, tc, tr) in spec.items():
        rows.append({"arm": arm, "family": fam, "seed": s, "val_robust": vr, "test_clean": tc, "test_robust": tr})
    return rows


def test_selected_on_validation_uses_validation_not_test():
    sel = cc.selected_on_validation(_adv_rows(), "adv-comp-sum", [0, 1])
    assert [r["arm"] for r in sel] == ["adv-comp-sum nu=2", "adv-comp-sum nu=1"]
    # seed 1's TRADES settings tie on validation: the first row wins, although beta 12 is better on test
    assert [r["arm"] for r in cc.selected_on_validation(_adv_rows(), "trades", [0, 1])] == ["trades beta=6"] * 2
    with pytest.raises(KeyError):
        cc.selected_on_validation(_adv_rows(), "trades", [2])


def test_adversarial_measurements_by_hand():
    m, info = cc.adversarial_measurements(_adv_rows(), [0, 1])
    assert m["robust_adv"] == [0.60, 0.52] and m["clean_adv"] == [0.70, 0.82]
    assert m["robust_trades"] == [0.45, 0.47] and m["clean_trades"] == [0.78, 0.80]
    assert m["robust_pgd"] == [0.52, 0.50] and m["clean_pgd"] == [0.75, 0.77]
    # seed 0: ADV line robust = 1.3 - clean on [0.70, 0.80]; TRADES line robust = 1.1 - 0.8333 clean on
    # [0.72, 0.78]; common range [0.72, 0.78], midpoint 0.75: ADV 0.55, TRADES 0.475
    assert info["matched_range"][0] == pytest.approx([0.72, 0.78])
    assert m["robust_adv_matched"][0] == pytest.approx(0.55)
    assert m["robust_trades_matched"][0] == pytest.approx(0.475)
    assert info["picked_adv"] == ["adv-comp-sum nu=2", "adv-comp-sum nu=1"]
