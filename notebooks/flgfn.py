# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Better Training of GFlowNets with Local Credit and Incomplete Trajectories
# Ling Pan, Nikolay Malkin, Dinghuai Zhang, Yoshua Bengio, ICML 2023
# ([arXiv:2302.01687](https://arxiv.org/abs/2302.01687)); official code
# [ling-pan/FL-GFN](https://github.com/ling-pan/FL-GFN) (read at b777e17: `set/gflownet.py`).
#
# A GFlowNet learns to sample objects $x$ with probability $R(x)/Z$, $R(x)=e^{-\mathcal E(x)}$. When the energy
# is **additive** along the trajectory, every intermediate state $s$ already carries the energy $\mathcal E(s)$
# accrued so far. The paper's **forward-looking** (FL) reparameterisation writes the state flow as
# $F(s)=\tilde F(s)\,e^{-\mathcal E(s)}$ and trains $\tilde F$ with **FL-DB**, which gives every transition its own
# credit and needs no terminal reward, so that it can learn from **incomplete trajectories**.
#
# | the paper | here | claims |
# |---|---|---|
# | Section 5: FL-DB against DB and TB, error / modes against training (set generation; grid) | **Figure `l1_curves`**: exact L1 to $R/Z$ against trajectories sampled, per method, on a 3-D hypergrid with a product reward and on sets of 8 of 12 elements with per-element energies | C1 |
# | Section 3 and its experiment: learning from incomplete trajectories | the `fl-db-incomplete` curve (half of the trajectories cut before their end) | C2 |
# | (our extra) SubTB(0.9) | the `subtb` curve | K1 |
#
# Every method trains the same network for the same gradient steps on the same number of sampled
# trajectories; learning rates and exploration weights were fixed on a tuning seed, and the number of evaluation
# seeds by a power computation on pilot seeds (`scripts/flgfn_pilot.py`, `reproductions/flgfn/pilot.json`).

# %% tags=["parameters"]
seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]  # evaluation seeds (12, the pilot's power rule; the pilot used 100-103)
workers = 2  # worker processes with one torch thread each (runs repeat bit for bit on a CPU)
device = "cpu"  # torch device of every run: cpu | cuda[:N] | auto (cuda when present)
precision = "32-true"  # the losses' forward pass: 32-true | bf16-mixed | 16-mixed (autocast; the L1 stays float64)
setup = "quick"  # sizes and budgets: quick | smoke | full (experiment.SETUPS: "<env>", "<env>-smoke", "<env>-full")
envs = ["hypergrid", "set"]  # environments (both are needed by the claims)
steps = 0  # gradient steps per run for every method; 0 keeps the setup's (quick: 400)
hypergrid_lr = [0.003, 0.003, 0.003, 0.003, 0.003]  # Adam rate per method (db, fl-db, fl-db-incomplete, tb, subtb), fixed on the tuning seed
hypergrid_exp = [0.0, 0.0, 0.0, 0.0, 0.0]  # exploration weight per method (uniform-action mixing), likewise
set_lr = [0.003, 0.003, 0.003, 0.001, 0.003]  # as hypergrid_lr, for set generation
set_exp = [0.5, 0.5, 0.5, 0.5, 0.5]  # as hypergrid_exp, for set generation

# %%
import dataclasses
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from paperlib.flgfn import claims as fc
from paperlib.flgfn import experiment as ex
from paperlib.flgfn.sampler import METHODS
from paperlib.repro.record import Run
from paperlib.training import check_precision, resolve_device, worker_pool

run = Run("flgfn", globals())  # records the parameters cell's values
device = str(resolve_device(device))  # "auto" -> cuda or cpu
check_precision(precision)
if setup not in ("quick", "smoke", "full"):
    raise ValueError(f"setup must be quick, smoke or full, got {setup!r}")
for name, v in (("hypergrid_lr", hypergrid_lr), ("hypergrid_exp", hypergrid_exp), ("set_lr", set_lr),
                ("set_exp", set_exp)):
    if len(v) != len(METHODS):
        raise ValueError(f"{name}: one value per method {METHODS}, got {len(v)}")
hparams = {"hypergrid": dict(zip(METHODS, zip(hypergrid_lr, hypergrid_exp))),
           "set": dict(zip(METHODS, zip(set_lr, set_exp)))}
pool = worker_pool(workers) if workers > 1 else None
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


pilot_path = Path("../reproductions/flgfn/pilot.json")
pilot = json.loads(pilot_path.read_text()) if pilot_path.exists() else None
if pilot:
    assert not set(seeds) & set(pilot["seeds"]), "evaluation seeds must not be pilot seeds"
    print(f"pilot seeds {pilot['seeds']} (tuning {pilot['tuning_seeds']}); power at the pilot's seed sd:")
    for p in pilot["power"]:
        name = p["measurement"] + (f" - {p['minus']}" if p["minus"] else "")
        print(f"  {p['id']:<3} {name:<58} sd {p['pilot_sd']:.4f}  MDE with {len(seeds)} seeds "
              f"{p['mde_at'].get(str(len(seeds))) or float('nan'):.4f} (margin {p['margin']}; seeds for it: "
              f"{p['seeds_needed_for_margin']})")

# %% [markdown]
# ## 1. The environments and their additive energies (`paperlib.flgfn.envs`)
# - **Hypergrid** (`hypergrid`): start at the origin of a $D$-dimensional grid of side $H$, each move adds 1 to
#   one coordinate, stop anywhere. The reward is a product over coordinates, $R(x)=\prod_d r(x_d)$, with $r$ the
#   profile of Bengio et al.'s hypergrid along one axis, so $\mathcal E(s)=-\sum_d\log r(s_d)$ is additive and
#   known at every state; the modes sit near the corners.
# - **Set generation** (`set_generation`, the official `SetEnv`): add one of $N$ elements per step until the set
#   holds $k$; element $i$ costs energy $e_i\in(-1,1)$, $\mathcal E(s)=\sum_{i\in s}e_i$.
#
# Both are enumerated, so the sampler's terminal distribution $P_T$ is computed exactly
# (`sampler.terminal_distribution`: probability pushed from $s_0$ through $P_F$ in depth order) and compared with
# $R/Z$ in L1, $\sum_x|P_T(x)-R(x)/Z|\in[0,2]$ (`sampler.l1_error`).

# %%
studies = {}
for env_name in envs:
    key = env_name if setup == "quick" else f"{env_name}-{setup}"
    st = ex.SETUPS[key]
    studies[env_name] = dataclasses.replace(st, steps=steps) if steps else st
fig, axes = plt.subplots(1, len(envs), figsize=(4.6 * len(envs), 3.4), squeeze=False)
env_rows = []
for ax, env_name in zip(axes.flat, envs):
    env = studies[env_name].make_env()
    target = env.target_distribution().numpy()
    run.metric(f"{env_name}/n_states", env.n_states)
    run.metric(f"{env_name}/n_terminal", int(env.can_stop.sum()))
    if env_name == "hypergrid" and env.info["dim"] >= 2:
        coords = env.info["coords"]
        side = env.info["side"]
        marg = np.zeros((side, side))
        np.add.at(marg, (coords[:, 0], coords[:, 1]), target)
        im = ax.imshow(marg.T, origin="lower", cmap="viridis")
        fig.colorbar(im, ax=ax, fraction=0.046)
        ax.set_title(f"{env.name}: R/Z summed over dims > 2", fontsize=9)
        env_rows += [{"env": env_name, "x0": i, "x1": j, "p": marg[i, j]} for i in range(side) for j in range(side)]
    else:
        p = np.sort(target[env.can_stop.numpy()])[::-1]
        ax.plot(p, ".", ms=3)
        ax.set_yscale("log")
        ax.set_xlabel("terminal sets, by target probability")
        ax.set_title(f"{env.name}: R/Z of its {len(p)} sets", fontsize=9)
        env_rows += [{"env": env_name, "rank": i, "p": float(v)} for i, v in enumerate(p)]
run.figure(fig, "targets", env_rows)
plt.show()

# %% [markdown]
# ## 2. The objectives (`paperlib.flgfn.losses`) and the forward-looking flow
# With $P_F$, $P_B$ and one log-flow output of one MLP (`sampler.GFlowNet`, as the official code), per transition:
#
# - **DB** (`db_residual`): $\log F(s)+\log P_F(s'|s)-\log F(s')-\log P_B(s|s')$, and at the end
#   $\log F(x)+\log P_F(\top|x)-\log R(x)$: the reward enters only at the last transition.
# - **FL-DB** (`fl_db_residual`, Section 3): the network's output is read as $\log\tilde F(s)$, and
#   $$\log\tilde F(s)+\log P_F(s'|s)-\log\tilde F(s')-\log P_B(s|s')+\big(\mathcal E(s')-\mathcal E(s)\big),\qquad
#   \log\tilde F(x)+\log P_F(\top|x)$$
#   Substituting $\log\tilde F=\log F+\mathcal E$ gives DB back exactly (a unit test), so the two share their
#   optimum; FL-DB's energy term makes each transition's credit local and needs no terminal reward.
# - **TB** (`tb_residual`): $\log Z+\sum\log P_F-\log R(x)-\sum\log P_B$ per trajectory; **SubTB($\lambda$)**
#   (`subtb_loss`): every sub-trajectory's balance, weighted by $\lambda^{\rm length}$.
# - **Incomplete trajectories** (`sampler.truncate`): half of the trajectories keep only their first $k$ moves,
#   $k$ uniform below their length, so neither their terminal state nor its reward is seen; FL-DB trains on
#   what remains.
#
# Sampling mixes $P_F$ with a uniform choice among valid actions (the official `exp_weight`).

# %%
rows = {}
for env_name in envs:
    study = studies[env_name]
    log(f"{env_name}: {len(seeds)} seeds x {len(METHODS)} methods, {study.steps} steps of {study.batch_size} "
        f"trajectories each")
    rows[env_name] = run.per_seed(env_name, seeds, lambda todo, s=study, e=env_name: ex.run_study(
        s, todo, METHODS, hparams[e], workers, log, pool=pool, device=device, precision=precision), log)
    for name, values in fc.measurements(rows[env_name], env_name, METHODS, seeds).items():
        run.measure(name, values)
    for m in METHODS:
        rs = [r for r in rows[env_name] if r["method"] == m]
        run.metric(f"{env_name}/{m}/l1_final", float(np.mean([r["l1"][-1] for r in rs])))
        run.metric(f"{env_name}/{m}/l1_auc", float(np.mean([fc.l1_auc(r) for r in rs])))
        run.metric(f"{env_name}/{m}/transitions_used", float(np.mean([r["transitions_used"] for r in rs])))
        run.metric(f"{env_name}/{m}/wall_s", float(np.mean([r["wall_s"] for r in rs])))
    run.metric(f"{env_name}/diverged", [(r["method"], r["seed"]) for r in rows[env_name] if r["diverged"]])
    run.metric(f"{env_name}/study", ex.config_dict(study))
if pool is not None:
    pool.shutdown()
# every arm the same budget of trajectories and gradient steps
for env_name in envs:
    assert len({(r["trajectories"], r["steps"][-1]) for r in rows[env_name]}) == 1, "unequal budgets"

# %% [markdown]
# ## 3. Distribution error against trajectories sampled (C1, C2)
# Mean over seeds (band: one standard deviation) of the exact L1 between each sampler and $R/Z$.

# %%
colors = {"db": "C0", "fl-db": "C3", "fl-db-incomplete": "C1", "tb": "C2", "subtb": "C4"}
fig, axes = plt.subplots(1, len(envs), figsize=(5.2 * len(envs), 3.8), squeeze=False)
curve_rows = []
for ax, env_name in zip(axes.flat, envs):
    bs = studies[env_name].batch_size
    for m in METHODS:
        st_, mean, sd = fc.mean_curves(rows[env_name], env_name, m)
        x = np.asarray(st_) * bs
        ax.plot(x, mean, color=colors[m], label=m, ls="--" if m == "fl-db-incomplete" else "-")
        ax.fill_between(x, mean - sd, mean + sd, color=colors[m], alpha=0.15)
        curve_rows += [{"env": env_name, "method": m, "trajectories": int(a), "l1_mean": b, "l1_std": c}
                       for a, b, c in zip(x, mean, sd)]
    ax.set_xlabel("trajectories sampled")
    ax.set_ylabel(r"L1$(P_T, R/Z)$")
    ax.set_title(f"{studies[env_name].make_env().name} ({len(seeds)} seeds)", fontsize=10)
    ax.legend(fontsize=8)
run.figure(fig, "l1_curves", curve_rows)
plt.show()

# %% [markdown]
# Per seed, the paired differences the claims test: FL-DB's mean L1 over training minus each baseline's
# (below zero: FL-DB lower and faster), and DB's final L1 minus FL-DB's on incomplete trajectories.

# %%
pairs = [("fl_db_auc", "db_auc"), ("fl_db_auc", "tb_auc"), ("fl_db_auc", "subtb_auc"),
         ("fl_db_incomplete_auc", "fl_db_auc"), ("db_final", "fl_db_incomplete_final")]
fig, axes = plt.subplots(1, len(envs), figsize=(5.2 * len(envs), 3.4), squeeze=False, sharey=True)
diff_rows = []
for ax, env_name in zip(axes.flat, envs):
    for k, (a, b) in enumerate(pairs):
        d = np.subtract(run.measurements[f"{env_name}_{a}"], run.measurements[f"{env_name}_{b}"])
        ax.plot(np.full(len(d), k) + np.linspace(-0.15, 0.15, len(d)), d, "o", ms=4)
        ax.errorbar(k + 0.3, d.mean(), yerr=d.std(ddof=1) if len(d) > 1 else 0, fmt="k_", capsize=3)
        diff_rows += [{"env": env_name, "difference": f"{a} - {b}", "seed": s, "value": v} for s, v in zip(seeds, d)]
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xticks(range(len(pairs)), [f"{a}\n- {b}" for a, b in pairs], fontsize=6)
    ax.set_title(env_name, fontsize=10)
axes.flat[0].set_ylabel("paired difference in L1")
fig.tight_layout()
run.figure(fig, "paired_differences", diff_rows)
plt.show()

# %% [markdown]
# Training losses (first seed), to show that every objective is being minimised.

# %%
fig, axes = plt.subplots(1, len(envs), figsize=(5.2 * len(envs), 3.2), squeeze=False)
loss_rows = []
for ax, env_name in zip(axes.flat, envs):
    for m in METHODS:
        r = next(r for r in rows[env_name] if r["method"] == m and r["seed"] == seeds[0])
        x = np.arange(len(r["loss_curve"])) * max(1, studies[env_name].eval_every // 5)
        ax.plot(x, r["loss_curve"], color=colors[m], label=m, lw=0.8)
        loss_rows += [{"env": env_name, "method": m, "step": int(a), "loss": b} for a, b in zip(x, r["loss_curve"])]
    ax.set_yscale("log")
    ax.set_xlabel("gradient step")
    ax.set_ylabel("training loss")
    ax.set_title(env_name, fontsize=10)
    ax.legend(fontsize=7)
run.figure(fig, "losses", loss_rows)
plt.show()

# %% [markdown]
# ## Claims
# Verdicts from `reproductions/flgfn/claims.yaml`, computed from the per-seed measurements above (paired by seed;
# `paperlib.repro.claims`): **reproduced**, **contradicted** (an effect of the size that matters is ruled out),
# **inconclusive** (with the effect these seeds could detect), or **not assessed** (a positive control failed).

# %%
run.check_claims()
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
