"""The paper's comparison as runs over seeds: every (environment, method, seed) trains one GFlowNet for
the same number of gradient steps on the same number of sampled trajectories, and records the exact
L1 distance between its terminal distribution and R(x)/Z along training. ``device`` and ``precision``
(a Lightning precision string: the loss's forward pass under ``paperlib.training.autocast``; the exact
L1 in float64) come from the profile; the network is initialised on the CPU from the seed and then
moved, and sampling draws from a CPU generator, so a seed gives the same stream on any device.

Pan et al. (ICML 2023), Section 5: FL-DB against DB and TB (and, here, SubTB) on the set-generation task
(the official ``set/gflownet.py``) and on a hypergrid whose reward is a product over coordinates (an
additive energy), plus FL-DB trained on incomplete trajectories. Each job seeds itself and runs with one
torch thread, so its numbers do not depend on the worker that runs it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from ..training import autocast, check_precision, resolve_device, run_in_workers, seed_everything
from .envs import DagEnv, make_env
from .sampler import METHODS, GFlowNet, l1_error, loss, sample, truncate


@dataclass(frozen=True)
class Study:
    """One environment and the training budget every method gets on it."""

    env: str = "hypergrid"  # hypergrid | set
    env_kwargs: tuple = ()  # (key, value) pairs for envs.make_env
    steps: int = 1000  # gradient steps per run (the same for every method)
    batch_size: int = 16  # trajectories per step (the official mbsize)
    hidden: int = 64  # MLP width (the official 256)
    layers: int = 2  # hidden layers (as the official n_layers)
    log_z_lr: float = 0.1  # TB's log Z (the official tb_z_lr)
    subtb_lambda: float = 0.9  # SubTB's lambda (Madan et al.'s default on grids)
    incomplete_fraction: float = 0.5  # share of trajectories truncated for fl-db-incomplete
    eval_every: int = 50  # steps between exact L1 evaluations

    def make_env(self) -> DagEnv:
        return cached_env(self.env, self.env_kwargs)


@lru_cache(maxsize=8)
def cached_env(name: str, kwargs: tuple) -> DagEnv:
    return make_env(name, **dict(kwargs))


def train_job(study: Study, method: str, seed: int, lr: float, exp_weight: float, device: str = "cpu",
              precision: str = "32-true") -> dict:
    """Train one GFlowNet with ``method`` on ``study.env``; the L1 curve at steps 0, eval_every, ..., steps.
    ``device``: cpu | cuda[:N] | auto; ``precision``: 32-true (nothing changes) | bf16-mixed | 16-mixed."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if check_precision(precision) == "bf16-true":
        raise ValueError("precision 'bf16-true' (a model cast) is not offered here: use bf16-mixed")
    dev = resolve_device(device)
    t0 = time.perf_counter()
    env = study.make_env().to(dev)
    target = env.target_distribution()
    gen = seed_everything(seed)  # before the network exists: the initialisation depends on the seed alone
    model = GFlowNet(env, study.hidden, study.layers).to(dev)
    params = [{"params": model.net.parameters(), "lr": lr}]
    if method == "tb":
        params.append({"params": [model.log_z], "lr": study.log_z_lr})
    opt = torch.optim.Adam(params)
    steps, l1, losses = [0], [l1_error(model, target)], []
    transitions = 0
    for step in range(1, study.steps + 1):
        batch = sample(model, study.batch_size, exp_weight, gen)
        if method == "fl-db-incomplete":
            batch = truncate(batch, study.incomplete_fraction, gen)
        transitions += int(batch.keep.sum())
        with autocast(dev, precision):
            loss_value = loss(model, batch, method, study.subtb_lambda)
        opt.zero_grad()
        loss_value.backward()
        opt.step()
        losses.append(float(loss_value.detach()))
        if step % study.eval_every == 0 or step == study.steps:
            steps.append(step)
            l1.append(l1_error(model, target))
    return {"env": study.env, "method": method, "seed": seed, "lr": lr, "exp_weight": exp_weight,
            "steps": steps, "l1": l1, "trajectories": study.steps * study.batch_size,
            "transitions_used": transitions, "loss_curve": losses[:: max(1, study.eval_every // 5)],
            "final_loss": float(np.mean(losses[-20:])), "diverged": not np.all(np.isfinite(losses)),
            "wall_s": time.perf_counter() - t0}


def run_study(study: Study, seeds: Sequence[int], methods: Sequence[str], hparams: Mapping[str, tuple[float, float]],
              workers: int = 2, log: Callable[[str], None] = print, pool=None, device: str = "cpu",
              precision: str = "32-true") -> list[dict]:
    """One row per (seed, method); ``hparams[method] = (lr, exp_weight)`` (fixed on the tuning seeds);
    every run on ``device`` with ``precision`` (see ``train_job``)."""
    missing = [m for m in methods if m not in hparams]
    if missing:
        raise ValueError(f"no (lr, exp_weight) for {missing}")
    check_precision(precision)
    resolve_device(device)  # a bad name or a missing GPU fails here, before any worker starts
    args = [(study, m, s, float(hparams[m][0]), float(hparams[m][1]), device, precision) for s in seeds for m in methods]
    t0 = time.perf_counter()

    def done(i, r, n):
        if n % max(1, len(args) // 10) == 0 or n == len(args):
            log(f"{study.env}: {n}/{len(args)} runs ({time.perf_counter() - t0:.0f} s); last {r['method']} "
                f"seed={r['seed']}: L1 {r['l1'][0]:.3f} -> {r['l1'][-1]:.3f} in {r['wall_s']:.1f} s")

    return run_in_workers(train_job, args, workers, 1, done, pool=pool)


def kw(**k) -> tuple:
    return tuple(sorted(k.items()))


SETUPS: dict[str, Study] = {
    # quick profile: 3-D grid of side 8 (512 states, up to 22 transitions), and sets of 8 of 12 elements
    "hypergrid": Study("hypergrid", kw(dim=3, side=8), steps=400, eval_every=40),
    "set": Study("set", kw(n_elements=12, set_size=8), steps=400, eval_every=40),
    # smoke: a few steps on tiny versions
    "hypergrid-smoke": Study("hypergrid", kw(dim=2, side=4), steps=20, eval_every=10),
    "set-smoke": Study("set", kw(n_elements=6, set_size=3), steps=20, eval_every=10),
    # full (GPU or a longer CPU run): the official set sizes are too large to enumerate; the largest that
    # still allows the exact L1 (sets of 12 of 18 elements, a 4-D grid of side 10), 256-unit MLPs
    "hypergrid-full": Study("hypergrid", kw(dim=4, side=10), steps=5000, hidden=256, eval_every=250),
    "set-full": Study("set", kw(n_elements=18, set_size=12), steps=5000, hidden=256, eval_every=250),
}


def config_dict(study: Study) -> dict:
    d = asdict(study)
    d["env_kwargs"] = dict(study.env_kwargs)
    return d
