"""The two-mode synthetic continuous-indexed tensor of the FunBaT paper (Section 6.1).

The official generation notebook (data/synthetic/simu_data_generate_CP_r1.ipynb, "best set5")
draws y = U1(i1) * U2(i2) with
    U1(t) = sin(2 pi t)^2 cos(2 pi t)        (``lam_U1``)
    U2(t) = exp(-2 t) sin(1.5 pi t)          (``lam_U5``)
on six random 15 x 15 grids of coordinates in [0, 1]. We keep the functions and the training
layout, add Gaussian noise, and -- unlike the official split, which re-uses training coordinates --
draw the test entries at fresh uniform coordinates, so the test measures continuous modelling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def true_u1(t):
    t = np.asarray(t, dtype=float)
    return np.sin(2 * np.pi * t) ** 2 * np.cos(2 * np.pi * t)


def true_u2(t):
    t = np.asarray(t, dtype=float)
    return np.exp(-2 * t) * np.sin(1.5 * np.pi * t)


TRUE_FUNCTIONS = (true_u1, true_u2)


@dataclass
class SyntheticTensor:
    X_train: np.ndarray  # (N, 2) continuous coordinates in [0, 1]
    y_train: np.ndarray  # (N,)
    X_test: np.ndarray   # (N_test, 2), coordinates never seen in training
    y_test: np.ndarray   # (N_test,) noise-free truth at the test coordinates
    noise_std: float


def make_synthetic(seed: int = 0, n_grids: int = 6, grid_size: int = 15, n_test: int = 1000,
                   noise_std: float = 0.005) -> SyntheticTensor:
    """Training entries on ``n_grids`` random ``grid_size`` x ``grid_size`` grids (the official
    layout: each coordinate is observed ``grid_size`` times), test entries at ``n_test`` fresh
    uniform coordinates. Test targets are noise-free, training targets carry N(0, noise_std^2)."""
    if n_grids < 1 or grid_size < 2 or n_test < 1:
        raise ValueError("need n_grids >= 1, grid_size >= 2 and n_test >= 1")
    rng = np.random.default_rng(seed)
    xs = []
    for _ in range(n_grids):
        a = np.sort(rng.random(grid_size))
        b = np.sort(rng.random(grid_size))
        A, B = np.meshgrid(a, b)
        xs.append(np.stack([A.ravel(), B.ravel()], axis=1))
    X_train = np.concatenate(xs)
    y_train = true_u1(X_train[:, 0]) * true_u2(X_train[:, 1])
    y_train = y_train + noise_std * rng.standard_normal(len(y_train))
    X_test = rng.random((n_test, 2))
    y_test = true_u1(X_test[:, 0]) * true_u2(X_test[:, 1])
    return SyntheticTensor(X_train, y_train, X_test, y_test, float(noise_std))


def make_scaling_data(n: int, n_modes: int = 3, noise_std: float = 0.05, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` entries at uniform random coordinates (so every coordinate is new and each mode's
    state-space chain has ``n`` steps), y = sum of two separable smooth terms + noise. Used to
    time FunBaT against the number of observations."""
    if n < 2 or n_modes < 1:
        raise ValueError("need n >= 2 and n_modes >= 1")
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_modes))
    y = np.prod(np.sin(2 * np.pi * X), axis=1) + np.prod(np.cos(np.pi * X), axis=1)
    return X, y + noise_std * rng.standard_normal(n)
