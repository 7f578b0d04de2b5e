"""The two environments of the reproduction, enumerated as small DAGs with an additive energy.

Pan et al. (ICML 2023, Section 3) assume the terminal energy is additive along a trajectory,
E(x) = sum_t E(s_t -> s_t+1), so that every state s carries the energy E(s) accrued so far (for the
environments here, a function of the state alone, so E(s -> s') = E(s') - E(s)). The reward is
R(x) = exp(-E(x)).

Both environments are small enough to enumerate every state, which lets the learned sampler's exact
terminal distribution be computed (:func:`paperlib.flgfn.sampler.terminal_distribution`) and compared
with the target R(x) / Z in L1, without the noise of an empirical estimate.

Common encoding (:class:`DagEnv`): states are rows ``0..n_states-1`` with ``features`` (the network's
input); forward actions ``0..n_actions-1`` where the last one is *stop* (terminate at the current
state; the terminal object is the state itself); ``child[s, a]`` is the state reached by move ``a``
(``-1`` where ``a`` is not allowed, and for stop); ``can_stop[s]`` says whether stop is allowed;
``must_stop[s]`` marks states where stop is the only action. A move ``a`` from ``s`` is undone by the
backward action ``a`` in the child (both environments add one unit along one coordinate or element),
so ``parent_mask[s', a]`` marks the backward actions available in ``s'``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class DagEnv:
    name: str
    features: torch.Tensor  # [n_states, feat] float
    child: torch.Tensor  # [n_states, n_moves] long, -1 where the move is not allowed
    can_stop: torch.Tensor  # [n_states] bool
    energy: torch.Tensor  # [n_states] float, E(s) accrued at s (additive along the trajectory)
    depth: torch.Tensor  # [n_states] long, number of moves from s0 (a topological order)
    s0: int = 0
    info: dict = field(default_factory=dict)

    def to(self, device) -> "DagEnv":
        """The same environment with its tensors on ``device`` (itself when they are there already)."""
        device = torch.device(device)
        if self.features.device == device:
            return self
        return DagEnv(self.name, self.features.to(device), self.child.to(device), self.can_stop.to(device),
                      self.energy.to(device), self.depth.to(device), self.s0, self.info)

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def n_states(self) -> int:
        return len(self.features)

    @property
    def n_moves(self) -> int:
        return self.child.shape[1]

    @property
    def n_actions(self) -> int:  # the moves and stop
        return self.n_moves + 1

    @property
    def stop(self) -> int:
        return self.n_moves

    @property
    def forward_mask(self) -> torch.Tensor:
        """[n_states, n_actions] bool: the moves allowed in each state, then stop."""
        return torch.cat([self.child >= 0, self.can_stop[:, None]], 1)

    @property
    def parent_mask(self) -> torch.Tensor:
        """[n_states, n_moves] bool: backward action a (undo move a) is allowed in s'."""
        mask = torch.zeros(self.n_states, self.n_moves, dtype=torch.bool, device=self.device)
        s, a = (self.child >= 0).nonzero(as_tuple=True)
        mask[self.child[s, a], a] = True
        return mask

    @property
    def log_reward(self) -> torch.Tensor:
        """log R(x) = -E(x) for every state (meaningful where ``can_stop``)."""
        return -self.energy

    def target_distribution(self) -> torch.Tensor:
        """The target over terminating states, R(x) / Z (zero where stop is not allowed)."""
        logr = torch.where(self.can_stop, self.log_reward.double(), torch.tensor(-math.inf, dtype=torch.float64, device=self.device))
        return torch.softmax(logr, 0)


# ---------------------------------------------------------------- hypergrid with an additive energy

def coordinate_reward(side: int, r0: float = 0.1, r1: float = 0.5, r2: float = 2.0) -> np.ndarray:
    """Per-coordinate reward r(k), k = 0..side-1: the profile of Bengio et al.'s hypergrid along one axis
    (r0 everywhere, + r1 in the outer quarter on each side, + r2 in a band within it), so that the product
    over coordinates puts a mode near every corner of the grid."""
    u = np.abs(np.arange(side) / (side - 1) - 0.5)
    return r0 + r1 * ((u > 0.25) & (u <= 0.5)) + r2 * ((u > 0.3) & (u < 0.4))


def hypergrid(dim: int = 2, side: int = 8, r0: float = 0.1, r1: float = 0.5, r2: float = 2.0) -> DagEnv:
    """A ``dim``-dimensional grid of ``side`` points per axis: start at the origin, each move adds 1 to
    one coordinate (not past ``side - 1``), stop is allowed anywhere. The reward is a product over
    coordinates, R(x) = prod_d r(x_d), i.e. the energy E(s) = -sum_d log r(s_d) is additive: each move
    changes one term, and E(s) is known at every intermediate state (the forward-looking set-up)."""
    if dim < 1 or side < 2:
        raise ValueError(f"hypergrid needs dim >= 1 and side >= 2, got dim={dim}, side={side}")
    coords = np.array(list(itertools.product(range(side), repeat=dim)), dtype=np.int64)
    index = {tuple(c): i for i, c in enumerate(coords)}
    child = np.full((len(coords), dim), -1, dtype=np.int64)
    for i, c in enumerate(coords):
        for d in range(dim):
            if c[d] < side - 1:
                nxt = c.copy()
                nxt[d] += 1
                child[i, d] = index[tuple(nxt)]
    r = coordinate_reward(side, r0, r1, r2)
    energy = -np.log(r)[coords].sum(1)
    # one-hot per coordinate, as in the GFlowNet grid code
    feats = np.zeros((len(coords), dim * side), dtype=np.float32)
    for d in range(dim):
        feats[np.arange(len(coords)), d * side + coords[:, d]] = 1.0
    return DagEnv(f"hypergrid-{dim}x{side}", torch.tensor(feats), torch.tensor(child),
                  torch.ones(len(coords), dtype=torch.bool), torch.tensor(energy, dtype=torch.float32),
                  torch.tensor(coords.sum(1)), s0=index[(0,) * dim],
                  info={"dim": dim, "side": side, "coords": coords, "coordinate_reward": r.tolist()})


# ---------------------------------------------------------------- set generation with per-element energies

def element_energies(n_elements: int, n_values: int | None = None, seed: int = 0) -> np.ndarray:
    """Per-element energies in (-1, 1): the official set task (``set/gflownet.py``, ``intermediate_energies``)
    assigns each element one of a few distinct values; here ``n_values`` values are drawn uniformly in (-1, 1)
    and each element gets one of them, from a generator seeded with ``seed`` (the task, not the run)."""
    rng = np.random.default_rng(seed)
    n_values = n_values or max(2, n_elements // 3)
    values = rng.uniform(-1, 1, n_values)
    return values[rng.integers(0, n_values, n_elements)]


def set_generation(n_elements: int = 12, set_size: int = 8, energies: np.ndarray | None = None,
                   seed: int = 0) -> DagEnv:
    """Build a set of exactly ``set_size`` of ``n_elements`` elements, one element per step (the official
    ``SetEnv``). Adding element i costs energy e_i, so E(s) = sum_{i in s} e_i and R(x) = exp(-E(x)); a
    set is terminal when it is full (stop is then the only action, so that F(x) = R(x) there)."""
    if not 1 <= set_size <= n_elements:
        raise ValueError(f"set_size must be in 1..n_elements, got {set_size} of {n_elements}")
    e = element_energies(n_elements, seed=seed) if energies is None else np.asarray(energies, float)
    if len(e) != n_elements:
        raise ValueError(f"need one energy per element ({n_elements}), got {len(e)}")
    masks = [m for m in range(1 << n_elements) if bin(m).count("1") <= set_size]
    index = {m: i for i, m in enumerate(masks)}
    bits = np.array([[(m >> i) & 1 for i in range(n_elements)] for m in masks], dtype=np.float32)
    size = bits.sum(1).astype(np.int64)
    child = np.full((len(masks), n_elements), -1, dtype=np.int64)
    for j, m in enumerate(masks):
        if size[j] < set_size:
            for i in range(n_elements):
                if not (m >> i) & 1:
                    child[j, i] = index[m | (1 << i)]
    return DagEnv(f"set-{n_elements}choose{set_size}", torch.tensor(bits), torch.tensor(child),
                  torch.tensor(size == set_size), torch.tensor(bits @ e, dtype=torch.float32),
                  torch.tensor(size), s0=index[0], info={"n_elements": n_elements, "set_size": set_size,
                                                          "energies": e.tolist()})


def make_env(name: str, **kw) -> DagEnv:
    """``hypergrid`` or ``set`` with its keyword arguments."""
    if name == "hypergrid":
        return hypergrid(**kw)
    if name == "set":
        return set_generation(**kw)
    raise ValueError(f"environment must be 'hypergrid' or 'set', got {name!r}")
