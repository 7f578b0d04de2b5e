"""FunBaT baselines: binning, discrete CP/Tucker (masked ridge ALS) and the subset-of-data GP."""
import copy
from functools import reduce

import numpy as np
import pytest

from paperlib.funbat.baselines import DiscreteCP, DiscreteTucker, GPBaseline, bin_coordinates

SHAPE = (12, 10, 8)


def low_rank_problem(kind: str, seed: int = 0):
    """A rank-2 CP (or Tucker with a random 2x2x2 core) tensor on a 12x10x8 grid of unit cells.

    70% of cells observed once, at a random point inside the cell; the corner cells are observed at the
    grid's corners so that the training range is exactly [0, n_k] and bins coincide with the cells.
    Held-out cells are queried at their centres.
    """
    rng = np.random.default_rng(seed)
    U = [rng.standard_normal((n, 2)) for n in SHAPE]
    if kind == "cp":
        T = np.einsum("ir,jr,kr->ijk", *U)
    else:
        T = np.einsum("abc,ia,jb,kc->ijk", rng.standard_normal((2, 2, 2)), *U)
    cells = np.stack(np.unravel_index(np.arange(T.size), SHAPE), axis=1)
    perm = rng.permutation(T.size)
    n_train = int(0.7 * T.size)
    corners = [0, T.size - 1]
    train = np.union1d(perm[:n_train], corners)
    test = np.setdiff1d(perm[n_train:], corners)
    X_train = cells[train] + rng.uniform(0.1, 0.9, (len(train), 3))
    X_train[train == 0] = 0.0
    X_train[train == T.size - 1] = np.array(SHAPE, dtype=float)
    return X_train, T[tuple(cells[train].T)], cells[test] + 0.5, T[tuple(cells[test].T)]


@pytest.mark.parametrize("cls,kind", [(DiscreteCP, "cp"), (DiscreteTucker, "tucker")])
def test_recovers_low_rank_binned_tensor(cls, kind):
    X_train, y_train, X_test, y_test = low_rank_problem(kind)
    model = cls(rank=2, resolution=SHAPE, ridge=1e-2, iters=50, seed=0).fit(X_train, y_train)
    rmse = np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))
    assert rmse < 0.05 * y_train.std()


def brute_force_mode_update(model, k, idx, y):
    """Per-row, per-entry reference for one factor update, straight from the formulas in the docstrings."""
    U, R = model.factors_, model.rank
    K = idx.shape[1]
    new = np.zeros_like(U[k])
    for i in range(len(U[k])):
        gram, rhs = model.ridge * np.eye(R), np.zeros(R)
        for n in np.flatnonzero(idx[:, k] == i):
            rows = [U[j][idx[n, j]] for j in range(K) if j != k]
            if isinstance(model, DiscreteCP):
                a = reduce(np.multiply, rows)
            else:
                W_k = np.moveaxis(model.core_, k, 0).reshape(R, -1)
                a = W_k @ reduce(np.kron, rows)
            gram += np.outer(a, a)
            rhs += y[n] * a
        new[i] = np.linalg.solve(gram, rhs)
    return new


@pytest.mark.parametrize("cls", [DiscreteCP, DiscreteTucker])
def test_vectorised_update_matches_brute_force(cls):
    rng = np.random.default_rng(1)
    X, y = rng.uniform(size=(300, 3)), rng.standard_normal(300)
    X[(X[:, 2] > 0.4) & (X[:, 2] < 0.6), 2] = 0.3  # a gap: bins of mode 2 with no entry
    model = cls(rank=3, resolution=(7, 5, 20), ridge=0.5, iters=2, seed=0).fit(X, y)  # a non-trivial state
    idx = model.grid_.index(X)
    reference = copy.deepcopy(model)
    assert (np.bincount(idx[:, 2], minlength=20) == 0).any()  # some empty rows, which must come out zero
    for k in range(3):
        expected = brute_force_mode_update(reference, k, idx, y)
        reference.factors_[k] = expected
        np.testing.assert_allclose(model._update_mode(k, idx, y), expected, rtol=1e-9, atol=1e-12)
    empty = np.bincount(idx[:, 2], minlength=20) == 0
    assert np.all(model.factors_[2][empty] == 0)


def test_tucker_core_update_and_prediction_follow_c_order_kron():
    rng = np.random.default_rng(2)
    X, y = rng.uniform(size=(200, 3)), rng.standard_normal(200)
    model = DiscreteTucker(rank=2, resolution=4, ridge=0.3, iters=1, seed=0).fit(X, y)
    idx = model.grid_.index(X)
    phi = np.array([reduce(np.kron, [U[i] for U, i in zip(model.factors_, row)]) for row in idx])
    expected = np.linalg.solve(phi.T @ phi + 0.3 * np.eye(8), phi.T @ y)
    np.testing.assert_allclose(model._update_core(idx, y).reshape(-1), expected, rtol=1e-9)
    np.testing.assert_allclose(model.predict(X), phi @ expected, rtol=1e-9, atol=1e-12)


def test_cp_prediction_is_sum_of_row_products():
    rng = np.random.default_rng(3)
    X, y = rng.uniform(size=(100, 2)), rng.standard_normal(100)
    model = DiscreteCP(rank=2, resolution=3, iters=3).fit(X, y)
    idx = model.grid_.index(X)
    expected = (model.factors_[0][idx[:, 0]] * model.factors_[1][idx[:, 1]]).sum(axis=1)
    np.testing.assert_allclose(model.predict(X), expected)


def test_unseen_bins_predict_zero():
    X = np.array([[0.0, 0.0], [0.1, 1.0], [1.0, 0.05], [0.95, 0.9]])  # bins 1 and 2 of mode 0 empty
    model = DiscreteCP(rank=1, resolution=4, iters=5).fit(X, np.ones(4))
    assert model.predict(np.array([[0.4, 0.0], [0.6, 1.0]])).tolist() == [0.0, 0.0]


def test_bin_coordinates_edges_and_clipping():
    X_train = np.array([[0.0, 10.0], [1.0, 20.0], [0.5, 15.0], [0.2499, 12.5]])
    X_test = np.array([[-5.0, 100.0], [2.0, 0.0], [0.25, 17.5]])
    train_idx, test_idx = bin_coordinates(X_train, X_test, (4, 2))
    assert train_idx.tolist() == [[0, 0], [3, 1], [2, 1], [0, 0]]  # the maximum lands in the last bin
    assert test_idx.tolist() == [[0, 1], [3, 0], [1, 1]]  # outside the range: clipped
    assert train_idx.dtype.kind == "i"
    same, _ = bin_coordinates(np.array([[3.0], [3.0]]), np.array([[3.0]]), 5)  # constant mode
    assert same.ravel().tolist() == [0, 0]


def test_bin_coordinates_rejects_bad_resolution():
    X = np.zeros((3, 2))
    for bad in (0, (3, 3, 3), 2.5, (2, -1)):
        with pytest.raises(ValueError, match="resolution"):
            bin_coordinates(X, X, bad)


def test_gp_beats_the_mean_on_a_smooth_function():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(400, 2))
    y = np.sin(6 * X[:, 0]) * np.cos(4 * X[:, 1]) + 0.05 * rng.standard_normal(400)
    X_train, y_train, X_test, y_test = X[:300], y[:300], X[300:], y[300:]
    pred = GPBaseline(max_train=1000).fit(X_train, y_train).predict(X_test)
    rmse = np.sqrt(np.mean((pred - y_test) ** 2))
    rmse_mean = np.sqrt(np.mean((y_train.mean() - y_test) ** 2))
    assert rmse < 0.2 * rmse_mean


def test_gp_uses_at_most_max_train_points():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(50, 2))
    model = GPBaseline(max_train=20).fit(X, np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(50))
    assert model.gp_.X_train_.shape == (20, 2)


MODELS = [lambda: DiscreteCP(rank=2, resolution=3), lambda: DiscreteTucker(rank=2, resolution=3),
          lambda: GPBaseline()]


@pytest.mark.parametrize("make", MODELS)
def test_input_errors(make):
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(10, 2)), rng.standard_normal(10)
    with pytest.raises(ValueError, match="not fitted"):
        make().predict(X)
    with pytest.raises(ValueError, match="one value per row"):
        make().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        make().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="NaN"):
        make().fit(np.where(np.eye(10, 2) == 1, np.nan, X), y)
    with pytest.raises(ValueError, match="NaN"):
        make().fit(X, np.r_[np.nan, y[1:]])
    with pytest.raises(ValueError, match="empty"):
        make().fit(np.zeros((0, 2)), np.zeros(0))
    model = make().fit(X, y)
    with pytest.raises(ValueError, match="columns"):
        model.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="empty"):
        model.predict(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((1, 2), np.nan))


@pytest.mark.parametrize("kwargs", [{"rank": 0}, {"ridge": 0.0}, {"iters": 0}])
def test_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        DiscreteTucker(**{"rank": 2, "resolution": 3, **kwargs})


@pytest.mark.parametrize("kind", ["cp", "tucker"])
def test_tensorly_masked_decompositions_complete_a_low_rank_tensor(kind):
    pytest.importorskip("tensorly")
    from paperlib.funbat.baselines import TensorlyCP, TensorlyTucker
    X_train, y_train, X_test, y_test = low_rank_problem(kind)
    cls = TensorlyCP if kind == "cp" else TensorlyTucker
    model = cls(rank=2, resolution=SHAPE, ridge=0.0, iters=300, seed=0).fit(X_train, y_train)
    rmse = np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))
    assert rmse < 0.1 * y_train.std()  # 30% of cells unseen: the mask matters (a zero-filled fit does far worse)


def test_tensorly_refuses_a_grid_too_large_for_a_dense_tensor_and_predict_before_fit():
    pytest.importorskip("tensorly")
    from paperlib.funbat.baselines import TensorlyCP
    X = np.random.default_rng(0).uniform(size=(50, 3))
    with pytest.raises(ValueError, match="too large"):
        TensorlyCP(rank=2, resolution=200).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="not fitted"):
        TensorlyCP(rank=2, resolution=5).predict(X)
