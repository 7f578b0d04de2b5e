"""Matern Gaussian processes written as linear SDEs (Hartikainen & Sarkka 2010), the prior FunBaT
places on every latent factor function.

    dx/dt = F x + L w(t),   f(t) = H x(t),   x(t0) ~ N(0, P_inf)

Between two coordinates dt apart the state moves with A = expm(F dt) and noise covariance
Q = P_inf - A P_inf A^T (official code: utils_continues.make_LDS_continues_mode_paras and
model_LDS.LDS_GP.filter_predict). R latent functions of one mode share the kernel and are a
priori independent, so their joint state is the Kronecker product with I_R; as in the official
code the state is ordered [f_1..f_R, f'_1..f'_R] and H = [I_R, 0].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

KERNELS = ("matern12", "matern32")
_ALIASES = {"matern12": "matern12", "matern_21": "matern12", "matern-1/2": "matern12",
            "exponential": "matern12", "ou": "matern12",
            "matern32": "matern32", "matern_23": "matern32", "matern-3/2": "matern32"}


def canonical_kernel(kernel: str) -> str:
    key = str(kernel).lower().replace(" ", "")
    if key not in _ALIASES:
        raise ValueError(f"unknown kernel {kernel!r}: use one of {', '.join(KERNELS)} "
                         "(the official configs' Matern_21 and Matern_23 are accepted too)")
    return _ALIASES[key]


@dataclass(frozen=True)
class MaternSDE:
    """State-space form of one Matern kernel, replicated for ``rank`` independent functions."""

    kernel: str
    lengthscale: float
    variance: float
    rank: int

    def __post_init__(self):
        object.__setattr__(self, "kernel", canonical_kernel(self.kernel))
        if not (np.isfinite(self.lengthscale) and self.lengthscale > 0):
            raise ValueError(f"lengthscale must be a positive number, got {self.lengthscale!r}")
        if not (np.isfinite(self.variance) and self.variance > 0):
            raise ValueError(f"variance must be a positive number, got {self.variance!r}")
        if int(self.rank) < 1:
            raise ValueError(f"rank must be >= 1, got {self.rank!r}")

    # -- one function ------------------------------------------------------------------------
    @property
    def order(self) -> int:
        """State dimension of one function (1 for Matern-1/2, 2 for Matern-3/2)."""
        return 1 if self.kernel == "matern12" else 2

    def single(self) -> tuple[np.ndarray, np.ndarray]:
        """(F, P_inf) of one function."""
        ls, var = float(self.lengthscale), float(self.variance)
        if self.kernel == "matern12":
            return np.array([[-1.0 / ls]]), np.array([[var]])
        lam = np.sqrt(3.0) / ls
        F = np.array([[0.0, 1.0], [-lam * lam, -2.0 * lam]])
        return F, np.diag([var, lam * lam * var])

    # -- R functions -------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.order * int(self.rank)

    def _kron(self, M: np.ndarray) -> np.ndarray:
        """Lift (..., d, d) single-function matrices to (..., dR, dR) with state order
        [f_1..f_R, f'_1..f'_R] (kron(M, I_R))."""
        R = int(self.rank)
        eye = np.eye(R)
        out = np.einsum("...ij,ab->...iajb", M, eye)
        return out.reshape(M.shape[:-2] + (self.dim, self.dim))

    @property
    def F(self) -> np.ndarray:
        return self._kron(self.single()[0])

    @property
    def P_inf(self) -> np.ndarray:
        return self._kron(self.single()[1])

    def transitions(self, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A = expm(F dt), Q = P_inf - A P_inf A^T for a batch of steps dt >= 0: (n, D, D) each.
        Computed once per fit for all gaps (the official code recomputes them every epoch)."""
        dt = np.asarray(dt, dtype=float).reshape(-1)
        if np.any(dt < 0):
            raise ValueError("transitions need non-negative steps (coordinates must be sorted)")
        F1, P1 = self.single()
        A1 = torch.linalg.matrix_exp(torch.from_numpy(F1[None] * dt[:, None, None])).numpy()
        Q1 = P1[None] - A1 @ P1[None] @ np.swapaxes(A1, -1, -2)
        Q1 = 0.5 * (Q1 + np.swapaxes(Q1, -1, -2))
        return self._kron(A1), self._kron(Q1)

    def kernel_matrix(self, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
        """The covariance function of one function, k(t1, t2) (for tests and dense-GP checks)."""
        r = np.abs(np.asarray(t1, float)[:, None] - np.asarray(t2, float)[None, :])
        ls, var = float(self.lengthscale), float(self.variance)
        if self.kernel == "matern12":
            return var * np.exp(-r / ls)
        s = np.sqrt(3.0) * r / ls
        return var * (1.0 + s) * np.exp(-s)
