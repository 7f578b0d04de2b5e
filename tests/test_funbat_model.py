"""FunBaT's message updates against brute force, and the estimator's behaviour."""
import numpy as np
import pytest
import torch

from paperlib.funbat import FunBaT
from paperlib.funbat.synthetic import make_synthetic, true_u1, true_u2


def _random_tensor_data(seed=0, n=60, K=3):
    rng = np.random.default_rng(seed)
    # few distinct values per mode so coordinates repeat and entries share prefixes
    X = np.stack([rng.choice(rng.random(5 + k), size=n) for k in range(K)], axis=1)
    y = rng.standard_normal(n)
    return X, y


def _fitted(core, K=3, R=2, epochs=2, seed=0):
    X, y = _random_tensor_data(seed, K=K)
    m = FunBaT(rank=R, core=core, epochs=epochs, lengthscale=0.5, seed=seed).fit(X, y)
    # random (non-trivial) posterior moments and core, so every term matters
    rng = np.random.default_rng(seed + 1)
    for k in range(K):
        T = len(m.coords_[k])
        m._Um[k] = torch.from_numpy(rng.standard_normal((T, R)))
        B = rng.standard_normal((T, R, R))
        m._Uv[k] = torch.from_numpy(B @ np.swapaxes(B, 1, 2) * 0.1)
        m._S[k] = m._second(k)
    if core == "tucker":
        m._W = torch.from_numpy(rng.standard_normal(R ** K))
    m._E_tau = 2.5
    return m


def _brute_entry(m, n, k):
    """E[a] and E[a a^T] for entry n and mode k, from vec(W)^T kron(u_1..u_K) with explicit krons."""
    K, R = m.n_modes_, m.rank
    W = m._W.numpy()
    mean = [m._Um[j].numpy()[m._idx[n, j]] for j in range(K)]
    sec = [m._S[j].numpy()[m._idx[n, j]] for j in range(K)]
    # y_hat = sum_r u_k[r] * c_r with c_r = vec(W)^T kron(.., e_r at mode k, ..)
    Ea = np.zeros(R)
    Eaa = np.zeros((R, R))
    for r in range(R):
        for q in range(R):
            er, eq = np.eye(R)[r], np.eye(R)[q]
            vr_mean = [er if j == k else mean[j] for j in range(K)]
            kr_mean = vr_mean[0]
            for v in vr_mean[1:]:
                kr_mean = np.kron(kr_mean, v)
            Ea[r] = W @ kr_mean
            # E[c_r c_q] = vec(W)^T kron(S_j, with e_r e_q^T at mode k) vec(W)
            mats = [np.outer(er, eq) if j == k else sec[j] for j in range(K)]
            big = mats[0]
            for M in mats[1:]:
                big = np.kron(big, M)
            Eaa[r, q] = W @ big @ W
    return Ea, Eaa


@pytest.mark.parametrize("core", ["tucker", "cp"])
def test_messages_match_brute_force(core):
    m = _fitted(core)
    y = m._y.numpy()
    for k in range(m.n_modes_):
        lam, eta = m._messages(k)
        T, R = len(m.coords_[k]), m.rank
        blam, beta = np.zeros((T, R, R)), np.zeros((T, R))
        for n in range(len(y)):
            Ea, Eaa = _brute_entry(m, n, k)
            c = m._idx[n, k]
            blam[c] += m._E_tau * Eaa
            beta[c] += m._E_tau * y[n] * Ea
        np.testing.assert_allclose(lam.numpy(), blam, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(eta.numpy(), beta, rtol=1e-10, atol=1e-10)


def test_core_sums_match_brute_force():
    m = _fitted("tucker")
    S_sum, ys_sum = m._kron_sums()
    y = m._y.numpy()
    K = m.n_modes_
    bS, by = 0.0, 0.0
    for n in range(len(y)):
        S = [m._S[j].numpy()[m._idx[n, j]] for j in range(K)]
        u = [m._Um[j].numpy()[m._idx[n, j]] for j in range(K)]
        big, z = S[0], u[0]
        for j in range(1, K):
            big, z = np.kron(big, S[j]), np.kron(z, u[j])
        bS = bS + big
        by = by + y[n] * z
    np.testing.assert_allclose(S_sum.numpy(), bS, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(ys_sum.numpy(), by, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("core", ["tucker", "cp"])
def test_synthetic_recovery(core):
    """Fresh test coordinates, 1 seed: far below predicting zero, functions recovered."""
    d = make_synthetic(seed=1)
    m = FunBaT(rank=1, core=core, kernel="matern32", lengthscale=0.1, variance=0.5, epochs=40,
               seed=1).fit(d.X_train, d.y_train)
    rmse = np.sqrt(np.mean((m.predict(d.X_test) - d.y_test) ** 2))
    assert rmse < 0.2 * d.y_test.std()
    grid = np.linspace(0.02, 0.98, 50)
    for k, f in enumerate((true_u1, true_u2)):
        mean, var = m.factor_functions(k, grid)
        assert abs(np.corrcoef(mean[:, 0], f(grid))[0, 1]) > 0.95
        assert np.all(var > 0)
    assert m.seconds_per_epoch_ > 0 and len(m.history_["train_rmse"]) == 40


def test_deterministic_given_seed():
    d = make_synthetic(seed=0, n_grids=2, n_test=50)
    a = FunBaT(rank=2, epochs=5, seed=3).fit(d.X_train, d.y_train).predict(d.X_test)
    b = FunBaT(rank=2, epochs=5, seed=3).fit(d.X_train, d.y_train).predict(d.X_test)
    np.testing.assert_array_equal(a, b)


def test_clear_errors():
    X, y = _random_tensor_data(K=2)
    with pytest.raises(ValueError, match="shape"):
        FunBaT().fit(X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        Xn = X.copy(); Xn[0, 0] = np.nan
        FunBaT().fit(Xn, y)
    with pytest.raises(ValueError, match="NaN"):
        yn = y.copy(); yn[3] = np.nan
        FunBaT().fit(X, yn)
    with pytest.raises(ValueError, match="empty"):
        FunBaT().fit(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="2-D"):
        FunBaT().fit(np.zeros(5), np.zeros(5))
    with pytest.raises(RuntimeError, match="fit"):
        FunBaT().predict(X)
    with pytest.raises(ValueError, match="core"):
        FunBaT(core="parafac")
    with pytest.raises(ValueError, match="lengthscale has 3 values"):
        FunBaT(lengthscale=[0.1, 0.2, 0.3], epochs=1).fit(X, y)
    m = FunBaT(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="modes"):
        m.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="mode must be"):
        m.factor_functions(5, [0.1])
