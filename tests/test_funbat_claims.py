"""FunBaT's claim statistics (paperlib.funbat.claims) against hand-worked cases."""
import numpy as np
import pytest

from paperlib.funbat.claims import best_error, loglog_slope, recovery_correlation


def test_recovery_correlation_ignores_sign_scale_and_offset():
    t = np.linspace(0, 1, 101)
    truth = np.sin(2 * np.pi * t)
    corr, coef = recovery_correlation(-3.0 * truth + 2.0, truth)
    assert corr == pytest.approx(1.0)
    assert coef == pytest.approx([-1 / 3, 2 / 3])  # maps the learned curve back onto the truth


def test_recovery_correlation_ignores_rotation_of_several_learned_functions():
    t = np.linspace(0, 1, 101)
    truth = np.exp(-2 * t) * np.sin(1.5 * np.pi * t)
    other = np.cos(3 * t)
    learned = np.column_stack([truth + other, truth - 2 * other])  # the truth is a mix of the two columns
    assert recovery_correlation(learned, truth)[0] == pytest.approx(1.0)


def test_recovery_correlation_falls_for_a_wrong_shape_and_is_zero_for_a_flat_one():
    t = np.linspace(0, 1, 101)
    truth = np.sin(2 * np.pi * t)
    wrong = recovery_correlation(np.cos(2 * np.pi * t), truth)[0]
    assert abs(wrong) < 0.1
    assert recovery_correlation(np.zeros_like(t), truth)[0] == 0.0


def test_best_error_is_the_minimum_over_matching_rows_and_a_typo_is_an_error():
    rows = [dict(method="binned CP", resolution=5, rmse=0.3), dict(method="binned CP", resolution=10, rmse=0.2),
            dict(method="binned Tucker", resolution=5, rmse=0.1)]
    assert best_error(rows, "rmse", method="binned CP") == 0.2
    assert best_error(rows, "rmse", resolution=5) == 0.1
    with pytest.raises(ValueError, match="no rows match"):
        best_error(rows, "rmse", method="binned cp")


def test_loglog_slope_is_the_exponent_of_a_power_law():
    n = np.array([1000, 2000, 4000, 8000])
    assert loglog_slope(n, 3e-5 * n) == pytest.approx(1.0)
    assert loglog_slope(n, 1e-9 * n ** 2) == pytest.approx(2.0)
    assert 1.05 < loglog_slope(n, n * np.log(n)) < 1.15  # N log N over this range: about 1.1
    with pytest.raises(ValueError, match="at least two"):
        loglog_slope([1000], [0.1])
