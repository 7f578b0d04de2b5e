"""Kalman filter and RTS smoother for FunBaT's factor trajectories, batched over modes.

Each mode's latent functions follow the linear SDE of :mod:`paperlib.funbat.sde`, observed
through Gaussian *sites*: at coordinate t the data send a message exp(-1/2 f^T Lam f + eta^T f)
on f = H x (H = [I_R, 0]). The official code (model_LDS.LDS_GP.filter_update) turns the summed
message into a pseudo-observation y = Lam^{-1} eta with noise Lam^{-1} and calls a textbook
Kalman update; we use the equivalent information-form update, which also holds when Lam is
singular (e.g. a coordinate whose messages carry no information yet):

    K = P_pred H^T (I + Lam S)^{-1},  S = H P_pred H^T
    m = m_pred + K (eta - Lam H m_pred)
    P = (I - K Lam H) P_pred (I - K Lam H)^T + K Lam K^T      (Joseph form)

Modes are padded to a common length with identity transitions and empty sites, which leaves
every real step unchanged, so one Python loop over coordinates serves all modes at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sde import MaternSDE


def _t(M: np.ndarray) -> np.ndarray:
    return np.swapaxes(M, -1, -2)


@dataclass
class SmootherResult:
    m_f: np.ndarray  # (B, T, D) filtered means
    P_f: np.ndarray  # (B, T, D, D)
    m_p: np.ndarray  # (B, T, D) one-step predictions
    P_p: np.ndarray
    m_s: np.ndarray  # (B, T, D) smoothed means
    P_s: np.ndarray


def kalman_smoother(A: np.ndarray, Q: np.ndarray, P0: np.ndarray, Lam: np.ndarray,
                    eta: np.ndarray) -> SmootherResult:
    """Filter forward and RTS-smooth backward.

    A, Q: (B, T, D, D) transition into step t (A[:, 0] acts on the prior N(0, P0); pass I and 0).
    P0: (B, D, D). Lam: (B, T, R, R), eta: (B, T, R) site natural parameters on f = x[:R].
    """
    B, T, D, _ = A.shape
    R = Lam.shape[-1]
    m_f = np.empty((B, T, D))
    P_f = np.empty((B, T, D, D))
    m_p = np.empty((B, T, D))
    P_p = np.empty((B, T, D, D))
    eye_R = np.eye(R)
    eye_D = np.eye(D)
    m = np.zeros((B, D, 1))
    P = P0.copy()
    for t in range(T):
        At = A[:, t]
        m = At @ m
        P = At @ P @ _t(At) + Q[:, t]
        m_p[:, t] = m[..., 0]
        P_p[:, t] = P
        L = Lam[:, t]
        PHt = P[:, :, :R]                                     # P H^T       (B, D, R)
        M = eye_R + L @ P[:, :R, :R]                          # I + Lam S   (B, R, R)
        K = _t(np.linalg.solve(_t(M), _t(PHt)))               # PHt M^{-1}  (B, D, R)
        m = m + K @ (eta[:, t, :, None] - L @ m[:, :R])
        KL = K @ L
        IKH = np.broadcast_to(eye_D, (B, D, D)).copy()
        IKH[:, :, :R] -= KL
        P = IKH @ P @ _t(IKH) + KL @ _t(K)
        P = 0.5 * (P + _t(P))
        m_f[:, t] = m[..., 0]
        P_f[:, t] = P
    m_s = np.empty_like(m_f)
    P_s = np.empty_like(P_f)
    m_s[:, -1] = m_f[:, -1]
    P_s[:, -1] = P_f[:, -1]
    if T > 1:
        # RTS gains for every step at once: G_t = P_f[t] A[t+1]^T P_p[t+1]^{-1}
        G = _t(np.linalg.solve(P_p[:, 1:], A[:, 1:] @ P_f[:, :-1]))
        for t in range(T - 2, -1, -1):
            Gt = G[:, t]
            m_s[:, t] = m_f[:, t] + (Gt @ (m_s[:, t + 1] - m_p[:, t + 1])[..., None])[..., 0]
            Pt = P_f[:, t] + Gt @ (P_s[:, t + 1] - P_p[:, t + 1]) @ _t(Gt)
            P_s[:, t] = 0.5 * (Pt + _t(Pt))
    return SmootherResult(m_f, P_f, m_p, P_p, m_s, P_s)


def interpolate(sde: MaternSDE, coords: np.ndarray, m_f: np.ndarray, P_f: np.ndarray,
                m_s: np.ndarray, P_s: np.ndarray, t_new: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Posterior of the state at arbitrary coordinates of one mode, given its smoother run over
    the sorted training coordinates ``coords`` (arrays of shape (T, ...), unpadded).

    Between two training coordinates: predict from the filtered state on the left, then apply
    the RTS step towards the smoothed state on the right -- the exact posterior given all data.
    Right of the last coordinate: predict forward from the (smoothed = filtered) last state.
    Left of the first: the stationary prior N(0, P_inf) at t, RTS-corrected by the first smoothed
    state. (The official merge() steps backwards with expm(F dt)^{-1}, which is not the reverse
    of the process and gives an invalid covariance; its interpolation uses the smoothed state on
    the left, counting the data on the right twice.)
    Returns the mean (n, D) and covariance (n, D, D) of the state.
    """
    t_new = np.asarray(t_new, dtype=float).reshape(-1)
    T, D = m_f.shape
    idx = np.searchsorted(coords, t_new, side="right")     # number of training coords <= t
    prev = idx - 1
    left = prev < 0
    right = idx >= T
    P_inf = sde.P_inf
    m_prev = np.where(left[:, None], 0.0, m_f[np.clip(prev, 0, T - 1)])
    P_prev = np.where(left[:, None, None], P_inf, P_f[np.clip(prev, 0, T - 1)])
    dt1 = np.where(left, 0.0, t_new - coords[np.clip(prev, 0, T - 1)])
    A1, Q1 = sde.transitions(dt1)
    mp = (A1 @ m_prev[..., None])[..., 0]
    Pp = A1 @ P_prev @ _t(A1) + Q1
    mean, cov = mp.copy(), Pp.copy()
    inner = ~right
    if inner.any():
        nxt = idx[inner]
        A2, Q2 = sde.transitions(coords[nxt] - t_new[inner])
        Pp_i = Pp[inner]
        Pn = A2 @ Pp_i @ _t(A2) + Q2
        G = _t(np.linalg.solve(Pn, A2 @ Pp_i))
        mean[inner] = mp[inner] + (G @ (m_s[nxt] - (A2 @ mp[inner][..., None])[..., 0])[..., None])[..., 0]
        cov[inner] = Pp_i + G @ (P_s[nxt] - Pn) @ _t(G)
    cov = 0.5 * (cov + _t(cov))
    return mean, cov
