"""The state-space machinery of FunBaT against dense Gaussian-process algebra."""
import numpy as np
import pytest

from paperlib.funbat.kalman import interpolate, kalman_smoother
from paperlib.funbat.sde import MaternSDE


def _run(sde, t, Lam, eta):
    """Smoother over sorted unique coordinates t for one mode (B = 1)."""
    T = len(t)
    D = sde.dim
    A = np.broadcast_to(np.eye(D), (1, T, D, D)).copy()
    Q = np.zeros((1, T, D, D))
    A[0, 1:], Q[0, 1:] = sde.transitions(np.diff(t))
    return kalman_smoother(A, Q, sde.P_inf[None], Lam[None], eta[None])


def _dense_posterior(sde, t, Lam, eta, t_new=None):
    """Joint Gaussian over f_r(t_i) for r < R (order r-major): prior K (block-diagonal over r),
    sites Lam_i on (f_1(t_i), .., f_R(t_i)). Returns posterior mean/cov at t (and t_new)."""
    R, T = sde.rank, len(t)
    pts = t if t_new is None else np.concatenate([t, t_new])
    n = len(pts)
    K1 = sde.kernel_matrix(pts, pts)
    Kfull = np.kron(np.eye(R), K1)
    prec_site = np.zeros((R * n, R * n))
    lin = np.zeros(R * n)
    for i in range(T):
        ids = [r * n + i for r in range(R)]
        prec_site[np.ix_(ids, ids)] += Lam[i]
        lin[ids] += eta[i]
    post_cov = np.linalg.inv(np.linalg.inv(Kfull + 1e-10 * np.eye(R * n)) + prec_site)
    post_mean = post_cov @ lin
    return post_mean.reshape(R, n).T, post_cov, n


@pytest.mark.parametrize("kernel", ["matern12", "matern32"])
@pytest.mark.parametrize("rank", [1, 2])
def test_smoother_matches_dense_gp_posterior(kernel, rank):
    rng = np.random.default_rng(0)
    sde = MaternSDE(kernel, lengthscale=0.3, variance=1.5, rank=rank)
    t = np.sort(rng.random(12))
    Lam = np.empty((12, rank, rank))
    for i in range(12):
        B = rng.standard_normal((rank, rank))
        Lam[i] = B @ B.T * 3.0
    Lam[4] = 0.0                      # a coordinate with no information: singular site
    eta = rng.standard_normal((12, rank)) * 2.0
    res = _run(sde, t, Lam, eta)
    mean, cov, n = _dense_posterior(sde, t, Lam, eta)
    np.testing.assert_allclose(res.m_s[0, :, :rank], mean, rtol=1e-6, atol=1e-8)
    for i in range(12):
        ids = [r * n + i for r in range(rank)]
        np.testing.assert_allclose(res.P_s[0, i, :rank, :rank], cov[np.ix_(ids, ids)], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kernel", ["matern12", "matern32"])
def test_interpolation_and_extrapolation_match_dense_gp(kernel):
    rng = np.random.default_rng(1)
    sde = MaternSDE(kernel, lengthscale=0.2, variance=0.7, rank=1)
    t = np.sort(rng.random(10) * 0.8 + 0.1)
    Lam = np.full((10, 1, 1), 25.0)
    eta = 25.0 * np.sin(6 * t)[:, None]
    res = _run(sde, t, Lam, eta)
    # left of the data, between points, exactly on a training point, right of the data
    t_new = np.array([0.0, 0.05, t[3] + 0.3 * (t[4] - t[3]), t[6], 0.95, 1.3])
    mean, cov = interpolate(sde, t, res.m_f[0], res.P_f[0], res.m_s[0], res.P_s[0], t_new)
    dmean, dcov, n = _dense_posterior(sde, t, Lam, eta, t_new)
    np.testing.assert_allclose(mean[:, 0], dmean[10:, 0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(cov[:, 0, 0], np.diag(dcov)[10:], rtol=1e-6, atol=1e-8)
    assert np.all(cov[:, 0, 0] > 0)
    # far to the left the posterior returns to the prior
    far, far_cov = interpolate(sde, t, res.m_f[0], res.P_f[0], res.m_s[0], res.P_s[0], np.array([-50.0]))
    assert abs(far[0, 0]) < 1e-6 and far_cov[0, 0, 0] == pytest.approx(0.7, rel=1e-6)


def test_padding_with_empty_steps_changes_nothing():
    rng = np.random.default_rng(2)
    sde = MaternSDE("matern32", 0.3, 1.0, rank=2)
    t = np.sort(rng.random(7))
    Lam = np.stack([np.eye(2) * 4.0] * 7)
    eta = rng.standard_normal((7, 2))
    ref = _run(sde, t, Lam, eta)
    D = sde.dim
    A = np.broadcast_to(np.eye(D), (1, 10, D, D)).copy()
    Q = np.zeros((1, 10, D, D))
    A[0, 1:7], Q[0, 1:7] = sde.transitions(np.diff(t))
    Lp = np.zeros((1, 10, 2, 2)); Lp[0, :7] = Lam
    ep = np.zeros((1, 10, 2)); ep[0, :7] = eta
    pad = kalman_smoother(A, Q, sde.P_inf[None], Lp, ep)
    np.testing.assert_allclose(pad.m_s[0, :7], ref.m_s[0], atol=1e-10)
    np.testing.assert_allclose(pad.P_s[0, :7], ref.P_s[0], atol=1e-10)


def test_transitions_are_the_stationary_sde():
    sde = MaternSDE("matern32", 0.5, 2.0, rank=3)
    A, Q = sde.transitions(np.array([0.0, 0.1, 10.0]))
    np.testing.assert_allclose(A[0], np.eye(6), atol=1e-12)
    np.testing.assert_allclose(Q[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(Q[2], sde.P_inf, atol=1e-8)      # decorrelated after 20 lengthscales
    # covariance of f between two points dt apart is k(dt): (A P_inf)[0, 0]
    k = sde.kernel_matrix(np.array([0.0]), np.array([0.1]))[0, 0]
    assert (A[1] @ sde.P_inf)[0, 0] == pytest.approx(k, rel=1e-10)


def test_bad_kernel_and_hyperparameters():
    with pytest.raises(ValueError, match="unknown kernel"):
        MaternSDE("rbf", 1.0, 1.0, 1)
    with pytest.raises(ValueError, match="lengthscale"):
        MaternSDE("matern32", -1.0, 1.0, 1)
    assert MaternSDE("Matern_23", 1.0, 1.0, 1).kernel == "matern32"
