"""Baselines for FunBaT (Fang et al., "Functional Bayesian Tucker Decomposition for Continuous-indexed
Tensor Data", ICLR 2024, Section 6).

The paper compares FunBaT with discrete tensor decompositions run on the data binned to grids of several
resolutions (CP-WOPT, GPTF, BCTT, P-Tucker: CP and Tucker models of a partially observed tensor) and with
continuous-input regressors. Here:

* :func:`bin_coordinates` maps continuous coordinates to grid indices (equal-width bins per mode);
* :class:`DiscreteCP` and :class:`DiscreteTucker`: masked ALS with a Gaussian prior on every factor row
  (ridge = prior precision relative to the noise precision), i.e. the MAP estimate of a Bayesian CP /
  Tucker model of the observed cells, standing in for CP-WOPT / P-Tucker-style baselines;
* :class:`GPBaseline`: a subset-of-data exact GP regression on the raw coordinates.

Nothing here standardises y or the coordinates: the caller decides.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def _check_X(X: np.ndarray, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, K), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _check_Xy(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = _check_X(X)
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be 1-D with one value per row of X: X has shape {X.shape}, y {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")
    return X, y


def _resolutions(resolution: int | Sequence[int], K: int) -> np.ndarray:
    res = np.atleast_1d(np.asarray(resolution))
    if res.ndim != 1 or res.dtype.kind not in "iu" or (res < 1).any():
        raise ValueError(f"resolution must be a positive integer or a sequence of them, got {resolution!r}")
    if len(res) == 1:
        res = np.repeat(res, K)
    if len(res) != K:
        raise ValueError(f"resolution has {len(res)} entries but the data have {K} modes")
    return res.astype(int)


@dataclass(frozen=True)
class _Grid:
    """Equal-width bins: mode k spans [low[k], low[k] + width[k] * size[k]] in size[k] bins."""

    low: np.ndarray
    width: np.ndarray
    size: np.ndarray

    @classmethod
    def from_training(cls, X: np.ndarray, resolution: int | Sequence[int]) -> _Grid:
        size = _resolutions(resolution, X.shape[1])
        low, high = X.min(axis=0), X.max(axis=0)
        span = np.where(high > low, high - low, 1.0)  # a constant mode: every point in bin 0
        return cls(low=low, width=span / size, size=size)

    def index(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != len(self.size):
            raise ValueError(f"X has {X.shape[1]} columns, the grid has {len(self.size)} modes")
        idx = np.floor((X - self.low) / self.width).astype(int)
        return np.clip(idx, 0, self.size - 1)


def bin_coordinates(X_train: np.ndarray, X_test: np.ndarray,
                    resolution: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Integer grid indices (N, K) for training and test coordinates.

    Each mode's training range [min, max] is split into ``resolution`` (an int, or one per mode)
    equal-width bins, half-open except the last, which includes the maximum. Test coordinates outside the
    training range are clipped into the first/last bin.
    """
    X_train = _check_X(X_train, "X_train")
    X_test = _check_X(X_test, "X_test")
    grid = _Grid.from_training(X_train, resolution)
    return grid.index(X_train), grid.index(X_test)


def _row_solve(rows: np.ndarray, n_rows: int, A: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """For every row i: argmin_u sum_{n: rows[n] = i} (y_n - a_n.u)^2 + ridge |u|^2, with a_n = A[n].

    Per-row normal equations are accumulated with one sparse (rows x entries) indicator product and solved
    in one batched call; rows without entries get u = 0.
    """
    N, R = A.shape
    S = sp.csr_matrix((np.ones(N), (rows, np.arange(N))), shape=(n_rows, N))
    gram = (S @ (A[:, :, None] * A[:, None, :]).reshape(N, R * R)).reshape(n_rows, R, R)
    rhs = S @ (A * y[:, None])
    return np.linalg.solve(gram + ridge * np.eye(R), rhs[:, :, None])[:, :, 0]


class _DiscreteDecomposition:
    """Shared fit/predict for the binned CP and Tucker baselines (rows of a factor = bins of its mode)."""

    def __init__(self, rank: int, resolution: int | Sequence[int], ridge: float = 1.0, iters: int = 50,
                 seed: int = 0) -> None:
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        if not ridge > 0:
            raise ValueError(f"ridge must be positive, got {ridge!r}")
        if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 1:
            raise ValueError(f"iters must be a positive integer, got {iters!r}")
        self.rank = int(rank)
        self.resolution = resolution
        self.ridge = float(ridge)
        self.iters = int(iters)
        self.seed = seed
        self.grid_: _Grid | None = None
        self.factors_: list[np.ndarray] = []

    def fit(self, X: np.ndarray, y: np.ndarray) -> _DiscreteDecomposition:
        """Bin X on the training range, initialise factors (small random values) and run ``iters`` ALS sweeps."""
        X, y = _check_Xy(X, y)
        self.grid_ = _Grid.from_training(X, self.resolution)
        idx = self.grid_.index(X)
        rng = np.random.default_rng(self.seed)
        self.factors_ = [0.1 * rng.standard_normal((n, self.rank)) for n in self.grid_.size]
        self._init_extra(rng, X.shape[1])
        for _ in range(self.iters):
            self._sweep(idx, y)
        return self

    def predict(self, X_new: np.ndarray) -> np.ndarray:
        """Predictions at the bins of ``X_new`` (clipped into the training range); 0 in never-observed bins."""
        if self.grid_ is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(X, y) first")
        X_new = _check_X(X_new, "X_new")
        return self._predict_index(self.grid_.index(X_new))

    def _init_extra(self, rng: np.random.Generator, K: int) -> None:
        """Initialise parameters beyond the factors (the Tucker core)."""

    def _sweep(self, idx: np.ndarray, y: np.ndarray) -> None:
        for k in range(idx.shape[1]):
            self._update_mode(k, idx, y)

    def _update_mode(self, k: int, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Replace factor k by its row-wise ridge solution given everything else; returns it."""
        self.factors_[k] = _row_solve(idx[:, k], len(self.factors_[k]), self._mode_features(k, idx),
                                      y, self.ridge)
        return self.factors_[k]

    def _mode_features(self, k: int, idx: np.ndarray) -> np.ndarray:
        """a_n (N, R) such that y_hat_n = U_k[idx[n, k]] . a_n."""
        raise NotImplementedError

    def _predict_index(self, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class DiscreteCP(_DiscreteDecomposition):
    """CP decomposition of the binned tensor, y_hat = sum_r prod_k U_k[i_k, r] (CP-WOPT-style baseline).

    The FunBaT paper (Section 6) runs discrete CP methods on the data binned to grids of several
    resolutions. This is masked ALS: each sweep solves, for every bin i of every mode k, the ridge regression
    (sum_{n in bin i} a_n a_n^T + ridge I) u = sum_{n in bin i} y_n a_n with a_n the elementwise product of
    the other modes' factor rows, which is the MAP update under a N(0, I / ridge) prior on each factor row
    (unit noise precision). Entries sharing a cell are kept as separate observations. Bins with no training
    entry keep a zero factor row, so the model predicts 0 for any point that falls there: the honest
    behaviour of a discrete method on unseen indices.
    """

    def _row_product(self, idx: np.ndarray, skip: int | None = None) -> np.ndarray:
        """prod_{j != skip} U_j[idx[:, j]], (N, rank)."""
        a = np.ones((len(idx), self.rank))
        for j, U in enumerate(self.factors_):
            if j != skip:
                a *= U[idx[:, j]]
        return a

    def _mode_features(self, k: int, idx: np.ndarray) -> np.ndarray:
        return self._row_product(idx, skip=k)

    def _predict_index(self, idx: np.ndarray) -> np.ndarray:
        return self._row_product(idx).sum(axis=1)


class DiscreteTucker(_DiscreteDecomposition):
    """Tucker decomposition of the binned tensor, y_hat = vec(W) . kron(U_1[i_1], ..., U_K[i_K]) (P-Tucker-style).

    The FunBaT paper (Section 6) runs discrete Tucker methods (P-Tucker) on binned grids. The core W has
    shape (rank,) * K and vec(W) is its C-order flattening. Each ALS sweep updates every factor row by the
    ridge regression of :class:`DiscreteCP` with a_n = W_(k) kron(other modes' rows) (W_(k) the mode-k
    unfolding, other modes in increasing order), then the core by ridge regression on the features
    kron(U_1[i_1], ..., U_K[i_K]); ridge is the prior precision of rows and core (unit noise precision).
    Bins with no training entry keep a zero factor row and predict 0.
    """

    def _init_extra(self, rng: np.random.Generator, K: int) -> None:
        self.core_ = rng.standard_normal((self.rank,) * K)

    def _sweep(self, idx: np.ndarray, y: np.ndarray) -> None:
        super()._sweep(idx, y)
        self._update_core(idx, y)

    def _mode_features(self, k: int, idx: np.ndarray) -> np.ndarray:
        K = idx.shape[1]
        letters = "abcdefghijklmopqrstuvwxyz"[:K]  # "n" is the entry axis
        others = [j for j in range(K) if j != k]
        spec = letters + "," + ",".join("n" + letters[j] for j in others) + "->n" + letters[k]
        return np.einsum(spec, self.core_, *(self.factors_[j][idx[:, j]] for j in others), optimize=True)

    def _core_features(self, idx: np.ndarray) -> np.ndarray:
        """kron(U_1[i_1], ..., U_K[i_K]) per entry, (N, rank**K), matching the C-order vec(W)."""
        phi = np.ones((len(idx), 1))
        for j, U in enumerate(self.factors_):
            phi = (phi[:, :, None] * U[idx[:, j]][:, None, :]).reshape(len(idx), -1)
        return phi

    def _update_core(self, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Replace the core by its ridge solution given the factors; returns it."""
        phi = self._core_features(idx)
        w = np.linalg.solve(phi.T @ phi + self.ridge * np.eye(phi.shape[1]), phi.T @ y)
        self.core_ = w.reshape(self.core_.shape)
        return self.core_

    def _predict_index(self, idx: np.ndarray) -> np.ndarray:
        return self._core_features(idx) @ self.core_.reshape(-1)


class _TensorlyDecomposition:
    """Masked CP / Tucker from the field's library (PyPI ``tensorly``) on the binned tensor.

    The observed entries are averaged per cell into a dense tensor with a 0/1 mask of observed cells and passed to
    ``tensorly.decomposition.parafac`` / ``tucker`` with ``mask=``; tensorly then fills the unobserved cells with
    the current reconstruction at every iteration (EM-style imputation) and runs plain ALS / HOOI on the filled
    tensor. ``ridge`` is parafac's ``l2_reg`` (tucker has no regulariser in tensorly; ignored there). Random
    initialisation from ``seed``. Used to compare the library against :class:`DiscreteCP` / :class:`DiscreteTucker`
    (REPORT.md); dense storage needs prod(resolution) cells, so large grids are refused.
    """

    MAX_CELLS = 2_000_000

    def __init__(self, rank: int, resolution: int | Sequence[int], ridge: float = 0.0, iters: int = 100,
                 seed: int = 0) -> None:
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge!r}")
        self.rank, self.resolution, self.ridge, self.iters, self.seed = int(rank), resolution, float(ridge), int(iters), seed
        self.grid_: _Grid | None = None

    def fit(self, X: np.ndarray, y: np.ndarray):
        import tensorly as tl

        X, y = _check_Xy(X, y)
        self.grid_ = _Grid.from_training(X, self.resolution)
        shape = tuple(int(n) for n in self.grid_.size)
        if np.prod(shape, dtype=float) > self.MAX_CELLS:
            raise ValueError(f"grid {shape} has more than {self.MAX_CELLS} cells: too large for a dense tensorly tensor")
        flat = np.ravel_multi_index(self.grid_.index(X).T, shape)
        total = np.bincount(flat, weights=y, minlength=int(np.prod(shape)))
        count = np.bincount(flat, minlength=int(np.prod(shape)))
        mask = (count > 0).astype(float)
        tensor = np.where(count > 0, total / np.maximum(count, 1), 0.0).reshape(shape)
        tl.set_backend("numpy")
        self.full_ = self._decompose(tl.tensor(tensor), tl.tensor(mask.reshape(shape)))
        return self

    def predict(self, X_new: np.ndarray) -> np.ndarray:
        if self.grid_ is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(X, y) first")
        idx = self.grid_.index(_check_X(X_new, "X_new"))
        return self.full_[tuple(idx.T)]


class TensorlyCP(_TensorlyDecomposition):
    """``tensorly.decomposition.parafac(mask=..., l2_reg=ridge)`` on the binned tensor."""

    def _decompose(self, tensor, mask):
        import tensorly as tl
        from tensorly.decomposition import parafac

        cp = parafac(tensor, self.rank, mask=mask, l2_reg=self.ridge, init="random", n_iter_max=self.iters,
                     random_state=int(self.seed) % 2**32, tol=1e-10)
        return np.asarray(tl.cp_to_tensor(cp))


class TensorlyTucker(_TensorlyDecomposition):
    """``tensorly.decomposition.tucker(mask=...)`` on the binned tensor (multilinear rank ``rank`` per mode)."""

    def _decompose(self, tensor, mask):
        import tensorly as tl
        from tensorly.decomposition import tucker

        rank = [min(self.rank, n) for n in tensor.shape]
        tk = tucker(tensor, rank, mask=mask, init="random", n_iter_max=self.iters,
                    random_state=int(self.seed) % 2**32, tol=1e-10)
        return np.asarray(tl.tucker_to_tensor(tk))


class GPBaseline:
    """Exact GP regression on the continuous coordinates, fitted on a random subset (subset-of-data GP).

    A continuous-input baseline in the spirit of the FunBaT paper's comparisons with non-tensor regressors:
    kernel ConstantKernel * Matern(nu=1.5, ARD length scales in [1e-3, 1e3]) + WhiteKernel, hyperparameters
    by maximising the marginal likelihood once from ``length_scale`` (no restarts; coordinates are expected in
    [0, 1] -- from length scale 1 the optimiser explains Colorado's monthly cycle as noise), y normalised
    internally by sklearn. Exact
    inference costs O(m^3), so only ``max_train`` training entries drawn at random (with ``seed``) are used:
    a subset-of-data approximation, weaker than a GP on all the data.
    """

    def __init__(self, max_train: int = 1000, length_scale: float = 0.1, seed: int = 0) -> None:
        if isinstance(max_train, bool) or not isinstance(max_train, (int, np.integer)) or max_train < 1:
            raise ValueError(f"max_train must be a positive integer, got {max_train!r}")
        if not length_scale > 0:
            raise ValueError(f"length_scale must be positive, got {length_scale!r}")
        self.max_train = int(max_train)
        self.length_scale = float(length_scale)
        self.seed = seed
        self.gp_ = None
        self.n_features_: int | None = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> GPBaseline:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        X, y = _check_Xy(X, y)
        if len(y) > self.max_train:
            keep = np.random.default_rng(self.seed).choice(len(y), size=self.max_train, replace=False)
            X, y = X[keep], y[keep]
        kernel = (ConstantKernel(1.0) * Matern(length_scale=np.full(X.shape[1], self.length_scale), length_scale_bounds=(1e-3, 1e3),
                                               nu=1.5) + WhiteKernel())
        self.gp_ = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=0,
                                            random_state=self.seed).fit(X, y)
        self.n_features_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Posterior mean at X."""
        if self.gp_ is None:
            raise ValueError("GPBaseline is not fitted: call fit(X, y) first")
        X = _check_X(X)
        if X.shape[1] != self.n_features_:
            raise ValueError(f"X has {X.shape[1]} columns, the GP was fitted on {self.n_features_}")
        return self.gp_.predict(X)
