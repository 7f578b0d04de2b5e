# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Cross-Entropy Loss Functions: Theoretical Analysis and Applications
# Mao, Mohri & Zhong, ICML 2023 ([arXiv:2304.07288](https://arxiv.org/abs/2304.07288)). No official code.
#
# This notebook redraws, scaled down to a 2-core CPU, the two experiments of the paper:
#
# | the paper | here | claims |
# |---|---|---|
# | Experiments, the table of test accuracies of the comp-sum losses ($\tau$ = 0, 0.5, 1, 1.5, 2) on CIFAR-10 and CIFAR-100 | **Figure `tau_sweep`**: test error against $\tau$ on Gaussian mixtures with 10, 30 and 100 classes, all of Bayes accuracy 0.80 | C1 |
# | Experiments, the adversarial-robustness table (clean and AutoAttack accuracy of PGD training, TRADES and ADV-COMP-SUM) | **Figure `tradeoff`**: clean against robust test accuracy of every method and setting; **figure `matched`**: robust accuracy at matched clean accuracy, per seed | C2, C3, C4 |
#
# Every free choice (learning rates, the $\nu$ and $\beta$ grids) was fixed by a pilot on seeds that are not
# evaluation seeds (`scripts/compsum_pilot.py`, `reproductions/compsum/pilot.json`), which also set the number of
# seeds by a power computation. The runs live in `paperlib/compsum/experiment.py`, the per-seed claim statistics in
# `paperlib/compsum/claims.py`, the verdicts' criteria in `reproductions/compsum/claims.yaml`.

# %% tags=["parameters"]
seeds = [0, 1, 2, 3, 4, 5, 6, 7]  # evaluation seeds (8 from the pilot's power computation; the pilot used 100-103)
workers = 2  # worker processes with one torch thread each, so that CPU runs repeat bit for bit
accelerator = "cpu"  # Lightning accelerator: cpu | auto | gpu
devices = 1  # Lightning devices (the global batch stays fixed across device counts)
strategy = "auto"  # Lightning strategy, e.g. ddp_notebook for several GPUs inside a notebook
precision = "32-true"  # Lightning precision
# class-count study (C1)
class_counts = [10, 30, 100]  # numbers of classes; every mixture is calibrated to Bayes accuracy 0.80
taus = [0.0, 0.5, 1.0, 1.5, 2.0]  # comp-sum losses: 0 sum-exponential, 1 cross-entropy, 2 mean absolute error
mix_lrs = [[0.001, 0.01, 0.01, 0.1, 0.1], [0.001, 0.01, 0.01, 0.1, 1.0], [0.001, 0.01, 0.01, 0.1, 1.0]]  # SGD rate per class count (rows) and tau (columns), fixed on the pilot
mix_setup = "quick"  # sizes and training of the mixtures: quick | smoke (experiment.MIXTURE_SETUPS)
# adversarial study (C2, C3, C4)
adv_setup = "fmnist-mlp"  # fmnist-mlp | fmnist-mlp-smoke | paper (PreAct ResNet-18, SGD, crop and flip, AutoAttack)
dataset = "fashion_mnist"  # fashion_mnist (offline) | cifar10 | cifar100 (downloaded when online)
epochs = 5  # training epochs of every method; the epoch with the best validation robust accuracy is kept
pgd_lr = 0.001  # learning rate of PGD training (Adam in fmnist-mlp, fixed on the pilot; SGD 0.1 in paper)
trades_lr = 0.003  # learning rate of TRADES, likewise
adv_lr = 0.003  # learning rate of ADV-COMP-SUM, likewise
epsilon = 0.1  # L-inf radius of training and evaluation (the paper on CIFAR uses 8/255)
nus = [0.5, 1.0, 2.0]  # ADV-COMP-SUM weights, a 3-point grid fixed on the pilot (which also tried 0.25 and 4)
betas = [1.0, 3.0, 6.0]  # TRADES weights, a 3-point grid fixed on the pilot (which also tried 9, 12 and 18)

# %%
import dataclasses
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.compsum import claims as cc
from paperlib.compsum import experiment as ex
from paperlib.compsum.losses import comp_sum_loss
from paperlib.repro.record import Run
from paperlib.training import worker_pool

run = Run("compsum", globals())  # records the parameters cell's values
trainer_cfg = dict(accelerator=accelerator, devices=devices, strategy=strategy, precision=precision)
if accelerator != "cpu":
    workers = 1  # one process drives the GPU(s); Lightning's strategy spreads the work
# One pool for both studies: each worker starts and imports torch once.
pool = worker_pool(workers) if workers > 1 else None
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


pilot_path = Path("../reproductions/compsum/pilot.json")
pilot = json.loads(pilot_path.read_text()) if pilot_path.exists() else None
if pilot:
    assert not set(seeds) & set(pilot["seeds"]), "evaluation seeds must not be pilot seeds"
    print(f"pilot seeds {pilot['seeds']}; power of each condition at the pilot's seed sd:")
    for p in pilot["power"]:
        name = p["measurement"] + (f" - {p['minus']}" if p["minus"] else "")
        print(f"  {p['id']:<3} {name:<40} sd {p['pilot_sd']:.4f}  MDE with {len(seeds)} seeds "
              f"{p['mde_at'].get(str(len(seeds)), float('nan')) or float('nan'):.4f}  (margin {p['margin']}; seeds "
              f"to detect it: {p['seeds_needed_for_margin']})")

# %% [markdown]
# ## 1. The comp-sum losses (Section "comp-sum losses", Eq. (1))
# $$\ell_\tau(h,x,y)=\Phi_\tau\Big(\sum_{y'\neq y}e^{h(x,y')-h(x,y)}\Big),\qquad
# \Phi_\tau(u)=\begin{cases}\frac{(1+u)^{1-\tau}-1}{1-\tau} & \tau\neq1\\ \log(1+u) & \tau=1\end{cases}$$
# Since $1+u=1/p_y$ with $p_y$ the softmax probability of the true class, $\ell_\tau=\frac{1-p_y^{\tau-1}}{\tau-1}$:
# $\tau=0$ the sum-exponential loss, $\tau=1$ the logistic loss (cross-entropy), $\tau\in(1,2)$ generalised
# cross-entropy, $\tau=2$ the mean absolute error $1-p_y$. Implemented by `paperlib.compsum.losses.comp_sum_loss`
# (from `log_softmax`, finite for any logits when $\tau\ge1$). The paper's H-consistency bounds for
# $\tau\in(1,2]$ carry a factor $n^{\tau-1}$ in the number of classes $n$: the losses with $\tau>1$ should fall
# behind cross-entropy more as $n$ grows. The figure shows each loss against $p_y$ (its gradient in the logit of
# the true class is proportional to $p_y^{\tau-1}$, which starts at $1/n$ for MAE).

# %%
p = torch.linspace(0.005, 1, 400)
fig, ax = plt.subplots(figsize=(5, 3.2))
loss_rows = []
for tau in taus:
    # logits whose softmax gives p_y = p on the true class 0 of two classes
    logits = torch.stack([torch.log(p), torch.log1p(-p + 1e-12)], 1)
    vals = comp_sum_loss(logits, torch.zeros(len(p), dtype=torch.long), tau, reduction="none")
    ax.plot(p, vals, label=f"tau={tau:g}")
    loss_rows += [{"tau": tau, "p_y": float(a), "loss": float(b)} for a, b in zip(p[::20], vals[::20])]
ax.set_ylim(0, 5)
ax.set_xlabel("$p_y$, the model's probability of the true class")
ax.set_ylabel(r"$\ell_\tau$")
ax.set_title("The comp-sum losses")
ax.legend(fontsize=8)
run.figure(fig, "losses", loss_rows)
plt.show()

# %% [markdown]
# ## 2. Comp-sum losses against the number of classes (C1)
# The paper trains each loss on CIFAR-10 and CIFAR-100. Here: isotropic Gaussian classes $N(\mu_c, I)$ in 32
# dimensions (`paperlib.data.synthetic.gaussian_mixture`), the means' scale calibrated so that the Bayes
# (nearest-mean) accuracy is 0.80 at 10, 30 and 100 classes alike, so that a growing gap measures the loss and
# not the data. Each loss trains the same linear model (it contains the Bayes classifier) with SGD and Nesterov
# momentum at its own learning rate (fixed on the pilot); per seed, the best $\tau$ is picked on validation
# (`claims.best_tau_per_seed`) and every accuracy is on test (`claims.mixture_measurements`).

# %%
mix_study = ex.MIXTURE_SETUPS[mix_setup]
lr_of = {(C, tau): lr_ for C, row in zip(class_counts, mix_lrs) for tau, lr_ in zip(taus, row)}
assert len(mix_lrs) == len(class_counts) and all(len(r) == len(taus) for r in mix_lrs), "mix_lrs: one row per class count, one rate per tau"
# run.per_seed keeps each seed's rows apart (paperlib.repro.seeds): a resumed run or a `--split seeds` merge reads them
mix_rows = run.per_seed("mixtures", seeds, lambda todo: ex.run_mixture_study(
    mix_study, class_counts, todo, taus, lambda C, tau: [lr_of[(C, tau)]], trainer_cfg, workers, log, pool=pool), log)
for name, values in cc.mixture_measurements(mix_rows, class_counts, taus, seeds).items():
    run.measure(name, values)
for C in class_counts:
    for tau in taus:
        run.metric(f"c{C}/test_acc/tau={tau:g}", float(np.mean(cc.mixture_acc(mix_rows, C, tau, seeds))))
    run.metric(f"c{C}/picked_taus", cc.best_tau_per_seed(mix_rows, C, taus, seeds))
    run.metric(f"c{C}/bayes_accuracy", float(np.mean(run.measurements[f"bayes_acc_c{C}"])))
run.metric("mixture/diverged_runs", [(r["classes"], r["tau"], r["seed"]) for r in mix_rows if r["diverged"]])

fig, ax = plt.subplots(figsize=(5.5, 3.6))
err_rows = []
for C in class_counts:
    errs = np.array([[1 - a for a in cc.mixture_acc(mix_rows, C, tau, seeds)] for tau in taus])
    line = ax.errorbar(taus, errs.mean(1), yerr=errs.std(1), marker="o", capsize=3, label=f"{C} classes")
    bayes = 1 - run.metrics[f"c{C}/bayes_accuracy"]
    ax.axhline(bayes, ls=":", color=line[0].get_color(), lw=1)
    err_rows += [{"classes": C, "tau": tau, "test_error_mean": e.mean(), "test_error_std": e.std(),
                  "bayes_error": bayes} for tau, e in zip(taus, errs)]
ax.set_xlabel(r"$\tau$ (0 sum-exp, 1 cross-entropy, 2 MAE)")
ax.set_ylabel("test error")
ax.set_title(f"Comp-sum losses: test error against tau ({len(seeds)} seeds)\n(dotted: Bayes error)")
ax.legend()
run.figure(fig, "tau_sweep", err_rows)
plt.show()

# %% [markdown]
# ## 3. Adversarial robustness: ADV-COMP-SUM against TRADES and PGD training (C2, C3, C4)
# The **smooth adversarial comp-sum loss** (section on adversarial robustness), minimised by ADV-COMP-SUM:
# $$\ell_\tau(h,x,y)+\nu\sup_{\|x'-x\|_\infty\le\gamma}\|h(x')-h(x)\|_2,$$
# with $\tau=1$, the sup found by PGD (`paperlib.compsum.adversarial.adv_comp_sum_loss`). The baselines are
# TRADES, $\mathrm{CE}(h(x),y)+\beta\,\mathrm{KL}(h(x)\,\|\,h(x'))$ (`trades_loss`, as the official code), and
# PGD adversarial training, $\mathrm{CE}(h(x_{\rm PGD}),y)$ (`pgd_training_loss`). Every method trains the same
# network for the same epochs with the same inner attack; each epoch the validation robust accuracy (PGD on the
# margin loss) is measured and the best epoch kept (early stopping, as the paper). Robust test accuracy is the
# per-example worst case over the attacks of `adv_setup`'s suite (`paperlib.compsum.robustness.robust_examples`:
# AutoAttack in `paper`, its APGD-CE and APGD-T in `fmnist-mlp`). $\nu$ and $\beta$ are picked per seed on
# validation robust accuracy (`claims.selected_on_validation`); the trade-off curves are compared at matched clean
# accuracy (`claims.matched_clean_robust`).

# %%
if dataset not in ex.DATASETS:
    raise ValueError(f"dataset must be one of {', '.join(ex.DATASETS)}, got {dataset!r}")
study = dataclasses.replace(ex.ADVERSARIAL_SETUPS[adv_setup], dataset=dataset, epochs=epochs, epsilon=epsilon)
if study.model == "mlp" and dataset != "fashion_mnist":
    raise ValueError(f"adv_setup {adv_setup!r} is the Fashion-MNIST MLP; use adv_setup paper for {dataset}")
arm_list = ex.arms(nus, betas, {"pgd": pgd_lr, "trades": trades_lr, "adv_comp_sum": adv_lr})
sanity_arm = ("pgd", seeds[0])
adv_rows = run.per_seed("adversarial", seeds, lambda todo: ex.run_adversarial_study(
    study, todo, arm_list, trainer_cfg, workers, sanity=sanity_arm, log=log, pool=pool), log)
if pool is not None:
    pool.shutdown()

# Robustness numbers must be real: checked on the PGD-trained model of the first seed.
sanity = next(r["sanity"] for r in adv_rows if (r["arm"], r["seed"]) == sanity_arm)
for k, v in sanity.items():
    run.metric(f"sanity/{k}", v)
print("sanity checks:", sanity)
assert sanity["eps0_minus_clean"] == 0, "at epsilon 0 the attacks must leave clean accuracy unchanged"
assert all(r["test_robust"] <= r["test_clean"] for r in adv_rows), "robust accuracy above clean accuracy"
assert sanity["autoattack_robust"] <= sanity["suite_robust"] + 0.01, "full AutoAttack weaker than its parts"
assert sanity["suite_robust"] <= sanity["pgd20_robust"] + 0.01, "the evaluation suite is weaker than PGD-20"

measurements, picked = cc.adversarial_measurements(adv_rows, seeds)
for name, values in measurements.items():
    run.measure(name, values)
run.metric("picked_on_validation", picked)
for a in arm_list:
    for key in ("test_clean", "test_robust", "val_clean", "val_robust", "best_epoch"):
        run.metric(f"{dataset}/{a.name}/{key}", float(np.mean([r[key] for r in adv_rows if r["arm"] == a.name])))

# %%
fig, ax = plt.subplots(figsize=(6, 4.2))
trade_rows = []
for family, color in (("adv-comp-sum", "C0"), ("trades", "C1"), ("pgd", "C2")):
    names = [a.name for a in arm_list if a.family == family]
    xs = [np.mean([r["test_clean"] for r in adv_rows if r["arm"] == n]) for n in names]
    ys = [np.mean([r["test_robust"] for r in adv_rows if r["arm"] == n]) for n in names]
    ax.plot(xs, ys, "o-" if len(names) > 1 else "s", color=color, label=family)
    for n, x_, y_ in zip(names, xs, ys):
        ax.annotate(n.split(" ")[-1] if "=" in n else "", (x_, y_), textcoords="offset points",
                    xytext=(3, -11 if family == "trades" else 5), fontsize=8)
        trade_rows.append({"arm": n, "test_clean_mean": x_, "test_robust_mean": y_,
                           "test_clean_std": np.std([r["test_clean"] for r in adv_rows if r["arm"] == n]),
                           "test_robust_std": np.std([r["test_robust"] for r in adv_rows if r["arm"] == n])})
ax.set_xlabel("clean test accuracy")
ax.set_ylabel(f"robust test accuracy ({study.eval_suite}, eps {epsilon:.3g})")
ax.set_title(f"Clean/robust trade-off on {dataset} (mean of {len(seeds)} seeds)")
ax.legend(fontsize=8)
run.figure(fig, "tradeoff", trade_rows)
plt.show()

# %% [markdown]
# Per seed: the two methods' trade-off curves and the clean-accuracy range both cover (shaded), where C3 compares
# them; the markers are the settings picked on validation (C2).

# %%
n_cols = min(4, len(seeds))
n_rows_ = int(np.ceil(len(seeds) / n_cols))
fig, axes = plt.subplots(n_rows_, n_cols, figsize=(3.2 * n_cols, 2.8 * n_rows_), squeeze=False, sharey=True)
matched_rows = []
for i, s in enumerate(seeds):
    ax = axes.flat[i]
    for family, color, tag in (("adv-comp-sum", "C0", "adv"), ("trades", "C1", "trades")):
        pts = sorted(((r["test_clean"], r["test_robust"]) for r in adv_rows if r["family"] == family and r["seed"] == s))
        ax.plot(*zip(*pts), "o-", color=color, ms=3, label=family)
        sel = picked[f"picked_{tag}"][i]
        chosen = next(r for r in adv_rows if r["arm"] == sel and r["seed"] == s)
        ax.plot(chosen["test_clean"], chosen["test_robust"], "*", color=color, ms=11)
    lo, hi = picked["matched_range"][i]
    if hi >= lo:
        ax.axvspan(lo, hi, color="0.9", zorder=0)
    ax.set_title(f"seed {s}: {measurements['robust_adv_matched'][i] - measurements['robust_trades_matched'][i]:+.3f}",
                 fontsize=9)
    matched_rows.append({"seed": s, "clean_lo": lo, "clean_hi": hi, "robust_adv_matched": measurements["robust_adv_matched"][i],
                         "robust_trades_matched": measurements["robust_trades_matched"][i]})
for ax in axes.flat[len(seeds):]:
    ax.axis("off")
axes.flat[0].legend(fontsize=7)
fig.supxlabel("clean test accuracy")
fig.supylabel("robust test accuracy")
fig.suptitle("ADV-COMP-SUM minus TRADES robust accuracy at matched clean accuracy (title), per seed", fontsize=10)
fig.tight_layout()
run.figure(fig, "matched", matched_rows)
plt.show()

# %% [markdown]
# Training curves: the mixtures' training loss (first seed), and each adversarial method's validation robust
# accuracy per epoch (first seed), from which early stopping keeps the best epoch (marked).

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
curve_rows = []
for C in class_counts:
    for tau in taus:
        r = next(r for r in mix_rows if r["classes"] == C and r["tau"] == tau and r["seed"] == seeds[0])
        axes[0].plot(range(1, len(r["train_loss_curve"]) + 1), r["train_loss_curve"],
                     ls=["-", "--", ":"][class_counts.index(C) % 3], label=f"C={C} tau={tau:g}")
        curve_rows += [{"study": "mixture", "run": f"C={C} tau={tau:g}", "epoch": i + 1, "value": v}
                       for i, v in enumerate(r["train_loss_curve"])]
axes[0].set_yscale("log")
axes[0].set_ylabel("mean training loss")
axes[0].set_title("mixtures (solid 10, dashed 30, dotted 100 classes)", fontsize=9)
for a in arm_list:
    r = next(r for r in adv_rows if r["arm"] == a.name and r["seed"] == seeds[0])
    ep = [v["epoch"] for v in r["val_curve"]]
    rob = [v["val_robust"] for v in r["val_curve"]]
    line = axes[1].plot(ep, rob, marker=".", label=a.name)
    axes[1].plot(r["best_epoch"], rob[ep.index(r["best_epoch"])], "o", mfc="none", color=line[0].get_color(), ms=9)
    curve_rows += [{"study": dataset, "run": a.name, "epoch": e, "value": v} for e, v in zip(ep, rob)]
axes[1].set_ylabel("validation robust accuracy (PGD, margin loss)")
axes[1].set_title(f"{dataset}: early stopping keeps the circled epoch", fontsize=9)
for ax in axes:
    ax.set_xlabel("epoch")
    ax.legend(fontsize=6, ncol=2)
run.figure(fig, "training_curves", curve_rows)
plt.show()

# %% [markdown]
# ## Claims
# Verdicts from `reproductions/compsum/claims.yaml`, computed from the per-seed measurements recorded above
# (paired by seed; `paperlib.repro.claims`): **reproduced**, **contradicted** (an effect of the size that
# matters is ruled out), **inconclusive** (with the effect these seeds could detect), or **not assessed**.

# %%
run.check_claims()
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
