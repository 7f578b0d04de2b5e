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
# The **comp-sum** family (Section 2):
# $\ell_\tau(h,x,y)=\Phi_\tau\big(\sum_{y'\neq y}e^{h(x,y')-h(x,y)}\big)$ with
# $\Phi_\tau(u)=\frac{(1+u)^{1-\tau}-1}{1-\tau}$ ($\tau\neq1$), $\log(1+u)$ ($\tau=1$); equivalently
# $\ell_\tau=\frac{1-p_y^{\tau-1}}{\tau-1}$. $\tau=0$: sum-exponential, $\tau=1$: logistic (cross-entropy),
# $\tau\in(1,2)$: generalised cross-entropy, $\tau=2$: mean absolute error.
#
# The **smooth adversarial comp-sum** loss (Section 6, ADV-COMP-SUM):
# $\ell_\tau(h,x,y)+\nu\sup_{\|x'-x\|_\infty\le\gamma}\|h(x')-h(x)\|_2$, the sup found by PGD.
#
# This notebook reproduces, scaled down to a laptop:
# 1. **C1** (the class-count study): clean accuracy against $\tau$ on Gaussian mixtures with 10 and 100
#    classes calibrated to the same Bayes accuracy, so that a growing MAE gap measures the loss, not the data.
# 2. **C2/C3** (adversarial robustness): ADV-COMP-SUM against TRADES and PGD adversarial training on
#    Fashion-MNIST, settings chosen on a validation split by robust accuracy (the paper selects by validation
#    robust accuracy), compared as clean/robust trade-offs.

# %% tags=["parameters"]
seeds = [0, 1, 2, 3]  # each seed redraws the mixture / the training subset and the initialisation
threads = 2  # torch CPU threads
accelerator = "cpu"  # Lightning accelerator: cpu | auto | gpu
devices = 1  # Lightning devices (global batch is kept fixed across device counts)
strategy = "auto"  # Lightning strategy, e.g. ddp_notebook for several GPUs inside a notebook
precision = "32-true"  # Lightning precision
# class-count study (C1)
taus = [0.0, 0.5, 1.0, 1.5, 2.0]  # comp-sum parameters swept
class_counts = [10, 100]  # numbers of classes compared
mix_dim = 32  # input dimension of the Gaussian mixtures
mix_bayes_accuracy = 0.8  # both class counts are calibrated to this Bayes (nearest-mean) accuracy
mix_train_per_class = 100  # training examples per class
mix_eval_per_class = 50  # validation and test examples per class (each)
mix_hidden = []  # MLP hidden widths ([] = linear model, which contains the Bayes classifier here)
mix_epochs = 20  # epochs over the mixture training set
mix_optimizer = "sgd"  # the paper trains with SGD + Nesterov momentum; Adam would rescale away MAE's small gradients
mix_lrs = [0.001, 0.01, 0.1, 1.0]  # decade grid, wide enough for every loss; each gets its best rate on validation
# adversarial study (C2, C3)
dataset = "fashion_mnist"  # fashion_mnist (offline) | cifar10 (full profile, downloads when online)
model = "mlp"  # mlp | cnn
hidden = [256, 256]  # MLP hidden widths
n_train = 10000  # training images (a seeded subset of the training split)
n_val = 1000  # validation images for model selection (held out of the training split)
n_test = 2000  # test images (a fixed subset of the test split)
epochs = 5  # training epochs for every adversarial method
batch_size = 128  # global batch size
lr = 0.001  # Adam learning rate
epsilon = 0.1  # L-inf radius gamma for training and evaluation
train_attack_steps = 5  # PGD steps inside training (all methods)
train_step_size = 0.025  # PGD step size inside training
eval_attack_steps = 20  # PGD steps for robust accuracy
eval_step_size = 0.01  # PGD step size for robust accuracy
adv_tau = 1.0  # tau of the comp-sum part of ADV-COMP-SUM
nus = [0.25, 0.5, 1.0, 2.0]  # ADV-COMP-SUM regularisation weights swept (geometric grid)
betas = [1.0, 3.0, 6.0, 9.0]  # TRADES weights swept (6 is TRADES' default), same size as the nu grid

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.compsum import CompSumClassifier, clean_accuracy, robust_accuracy
from paperlib.data.fashion_mnist import load_cifar10, load_fashion_mnist
from paperlib.data.synthetic import gaussian_mixture
from paperlib.nn import MLP, SmallCNN
from paperlib.repro.record import Run
from paperlib.training import TensorDataModule, make_trainer, seed_everything

torch.set_num_threads(threads)
run = Run("compsum", globals())  # records the parameters cell's values as run
trainer_cfg = dict(accelerator=accelerator, devices=devices, strategy=strategy, precision=precision)
eval_device = torch.device("cuda" if accelerator != "cpu" and torch.cuda.is_available() else "cpu")
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


def fit(build_net, train, val, seed, max_epochs, batch, **method):
    """Seed, build a network with ``build_net()``, train it with one objective through Lightning."""
    seed_everything(seed)  # before the network exists, so its initialisation depends on the seed alone
    module = CompSumClassifier(build_net(), **method)
    dm = TensorDataModule(train, val, batch_size=batch, seed=seed)  # val=None: no validation loop
    make_trainer(trainer_cfg, max_epochs=max_epochs).fit(module, datamodule=dm)
    return module.to(eval_device).eval()


# %% [markdown]
# ## 1. Comp-sum losses against the number of classes (C1)
# Isotropic Gaussian classes $N(\mu_c, I)$; the means' scale is calibrated by bisection so that the Bayes
# (nearest-mean) accuracy is the same for 10 and 100 classes. Each $\tau$ trains the same network with the
# same optimiser and budget; $\tau$ is chosen on validation, accuracy is reported on test.

# %%
mix_rows = []
for C in class_counts:
    for seed in seeds:
        data = gaussian_mixture(C, mix_dim, mix_train_per_class, mix_eval_per_class, mix_eval_per_class,
                                bayes_accuracy=mix_bayes_accuracy, seed=seed)
        val, test = [[t_.to(eval_device) for t_ in data[k]] for k in ("val", "test")]
        for tau in taus:
            t = time.perf_counter()
            tries = []
            for lr_ in mix_lrs:  # the same grid for every loss; the rate is picked on validation
                m = fit(lambda: MLP(mix_dim, tuple(mix_hidden), C), data["train"], None, seed, mix_epochs, batch_size,
                        method="comp_sum", tau=tau, lr=lr_, optimizer=mix_optimizer)
                tries.append((clean_accuracy(m, *val), lr_, m))
            val_acc, best_lr, m = max(tries, key=lambda r: r[0])
            row = {"classes": C, "seed": seed, "tau": tau, "bayes_acc": data["bayes_accuracy"], "lr": best_lr,
                   "val_acc": val_acc, "test_acc": clean_accuracy(m, *test), "train_loss_curve": m.history,
                   "diverged_lrs": [lr_ for a, lr_, mm in tries if not np.isfinite(mm.history[-1])]}
            mix_rows.append(row)
            log(f"mixture C={C} seed={seed} tau={tau}: test acc {row['test_acc']:.3f} at lr {best_lr} "
                f"(Bayes {row['bayes_acc']:.3f}; diverged at lr {row['diverged_lrs']}) in {time.perf_counter() - t:.1f} s")


# %%
def acc(C, tau, seed, split="test_acc"):
    return next(r[split] for r in mix_rows if r["classes"] == C and r["tau"] == tau and r["seed"] == seed)


for C in class_counts:
    best_tau = max(taus, key=lambda tau: np.mean([acc(C, tau, s, "val_acc") for s in seeds]))
    run.metric(f"c{C}/best_tau_by_val", best_tau)
    run.metric(f"c{C}/bayes_accuracy", float(np.mean([r["bayes_acc"] for r in mix_rows if r["classes"] == C])))
    for tau in taus:
        run.metric(f"c{C}/test_acc/tau={tau}", float(np.mean([acc(C, tau, s) for s in seeds])))
    if 1.0 in taus:
        run.measure(f"best_minus_ce_acc_c{C}", [acc(C, best_tau, s) - acc(C, 1.0, s) for s in seeds])
    if 1.0 in taus and 2.0 in taus:
        run.measure(f"ce_minus_mae_acc_c{C}", [acc(C, 1.0, s) - acc(C, 2.0, s) for s in seeds])
if {1.0, 2.0} <= set(taus) and {10, 100} <= set(class_counts):
    run.measure("mae_gap_growth", [(acc(100, 1.0, s) - acc(100, 2.0, s)) - (acc(10, 1.0, s) - acc(10, 2.0, s))
                                   for s in seeds])

fig, ax = plt.subplots(figsize=(5.5, 3.6))
err_rows = []
for C in class_counts:
    errs = np.array([[1 - acc(C, tau, s) for s in seeds] for tau in taus])
    ax.errorbar(taus, errs.mean(1), yerr=errs.std(1), marker="o", capsize=3, label=f"{C} classes")
    bayes = 1 - run.metrics[f"c{C}/bayes_accuracy"]
    ax.axhline(bayes, ls=":", color=ax.lines[-1].get_color(), lw=1)
    err_rows += [{"classes": C, "tau": tau, "test_error_mean": e.mean(), "test_error_std": e.std(),
                  "bayes_error": bayes} for tau, e in zip(taus, errs)]
ax.set_xlabel(r"$\tau$ (0 sum-exp, 1 cross-entropy, 2 MAE)")
ax.set_ylabel("test error")
ax.set_title("Comp-sum losses: test error against tau\n(dotted: Bayes error)")
ax.legend()
run.figure(fig, "tau_sweep", err_rows)
plt.show()

# %% [markdown]
# ## 2. Adversarial robustness: ADV-COMP-SUM against TRADES and PGD training (C2, C3)
# Every method trains the same network for the same epochs with the same inner PGD (L-inf, radius
# `epsilon`). Robust accuracy is PGD-`eval_attack_steps` on cross-entropy, counting an example as broken if
# any iterate misclassifies it. Settings (nu, beta) are chosen by mean validation robust accuracy.

# %%
if dataset == "fashion_mnist":
    images = load_fashion_mnist()
elif dataset == "cifar10":
    images = load_cifar10(download=True)
else:
    raise ValueError(f"dataset must be fashion_mnist or cifar10, got {dataset!r}")
x_pool, y_pool = images["train"]
x_test, y_test = [t[:n_test].to(eval_device) for t in images["test"]]
in_shape = tuple(x_pool.shape[1:])
n_classes = int(y_pool.max()) + 1


def make_net():
    if model == "mlp":
        return MLP(int(np.prod(in_shape)), tuple(hidden), n_classes)
    if model == "cnn":
        return SmallCNN(in_shape[0], n_classes)
    raise ValueError(f"model must be mlp or cnn, got {model!r}")


attack = dict(epsilon=epsilon, step_size=train_step_size, attack_steps=train_attack_steps)
configs = ([("ce", {"method": "comp_sum", "tau": 1.0})]
           + [("pgd", {"method": "pgd", **attack})]
           + [(f"trades beta={b}", {"method": "trades", "beta": b, **attack}) for b in betas]
           + [(f"adv-comp-sum nu={nu}", {"method": "adv_comp_sum", "tau": adv_tau, "nu": nu, **attack})
              for nu in nus])
adv_rows, curves = [], {}
for seed in seeds:
    g = torch.Generator().manual_seed(10_000 + seed)
    perm = torch.randperm(len(x_pool), generator=g)
    tr, va = perm[:n_train], perm[n_train:n_train + n_val]
    train, val = (x_pool[tr], y_pool[tr]), (x_pool[va].to(eval_device), y_pool[va].to(eval_device))
    for name, method in configs:
        t = time.perf_counter()
        m = fit(make_net, train, (val[0].cpu(), val[1].cpu()), seed, epochs, batch_size, lr=lr, **method)
        ev = dict(epsilon=epsilon, step_size=eval_step_size, steps=eval_attack_steps)
        row = {"config": name, "method": method["method"], "seed": seed,
               "nu": method.get("nu"), "beta": method.get("beta"),
               "val_clean": clean_accuracy(m, *val), "val_robust": robust_accuracy(
                   m, *val, generator=torch.Generator(device=eval_device).manual_seed(seed), **ev),
               "test_clean": clean_accuracy(m, x_test, y_test), "test_robust": robust_accuracy(
                   m, x_test, y_test, generator=torch.Generator(device=eval_device).manual_seed(seed), **ev)}
        adv_rows.append(row)
        curves[(name, seed)] = m.history
        log(f"{name:<22} seed={seed}: clean {row['test_clean']:.3f} robust {row['test_robust']:.3f} "
            f"(val {row['val_clean']:.3f}/{row['val_robust']:.3f}) in {time.perf_counter() - t:.1f} s")
        if name == "pgd" and seed == seeds[0]:
            # Robustness numbers must be real: epsilon = 0 is clean accuracy, a stronger attack never helps.
            zero = robust_accuracy(m, x_test, y_test, epsilon=0.0, step_size=eval_step_size, steps=eval_attack_steps)
            strong = robust_accuracy(m, x_test, y_test, epsilon=epsilon, step_size=eval_step_size,
                                     steps=2 * eval_attack_steps,
                                     generator=torch.Generator(device=eval_device).manual_seed(seed))
            run.metric("sanity/pgd_eps0_minus_clean", zero - row["test_clean"])
            run.metric("sanity/pgd_strong_minus_robust", strong - row["test_robust"])
            assert abs(zero - row["test_clean"]) < 1e-9, "epsilon = 0 must give clean accuracy"
            assert strong <= row["test_robust"] + 1e-9, "a stronger attack raised robust accuracy"
assert all(r["test_robust"] <= r["test_clean"] + 1e-9 for r in adv_rows), "robust > clean accuracy"


# %%
def by(name, key):
    return [next(r[key] for r in adv_rows if r["config"] == name and r["seed"] == s) for s in seeds]


def chosen(prefix):
    """The setting with the best mean validation robust accuracy (never test)."""
    names = [n for n, _ in configs if n.startswith(prefix)]
    return max(names, key=lambda n: np.mean(by(n, "val_robust")))


adv_choice, trades_choice = chosen("adv-comp-sum"), chosen("trades")
run.metric("chosen/adv_comp_sum", adv_choice)
run.metric("chosen/trades", trades_choice)
for name, _ in configs:
    for key in ("test_clean", "test_robust", "val_clean", "val_robust"):
        run.metric(f"fm/{name}/{key}", float(np.mean(by(name, key))))
diff = lambda a, b, key: [x - y for x, y in zip(by(a, key), by(b, key))]
run.measure("robust_adv_minus_trades", diff(adv_choice, trades_choice, "test_robust"))
run.measure("clean_adv_minus_trades", diff(adv_choice, trades_choice, "test_clean"))
run.measure("robust_adv_minus_pgd", diff(adv_choice, "pgd", "test_robust"))
log(f"chosen on validation: {adv_choice} and {trades_choice}")

fig, ax = plt.subplots(figsize=(5.8, 4.2))
trade_rows = []
for family, color in (("adv-comp-sum", "C0"), ("trades", "C1"), ("pgd", "C2"), ("ce", "C7")):
    names = [n for n, _ in configs if n.startswith(family)]
    xs = [np.mean(by(n, "test_clean")) for n in names]
    ys = [np.mean(by(n, "test_robust")) for n in names]
    ax.plot(xs, ys, "o-" if len(names) > 1 else "s", color=color, label=family)
    for n, x_, y_ in zip(names, xs, ys):
        tag = n.split(" ")[-1] if "=" in n else ""
        star = n in (adv_choice, trades_choice)
        below = family == "trades"  # labels of the two frontiers on opposite sides, so they do not overlap
        ax.annotate(tag + (" *" if star else ""), (x_, y_), textcoords="offset points",
                    xytext=(2, -12 if below else 5), fontsize=8)
        trade_rows.append({"config": n, "test_clean_mean": x_, "test_robust_mean": y_,
                           "test_clean_std": np.std(by(n, "test_clean")),
                           "test_robust_std": np.std(by(n, "test_robust")), "chosen_on_val": star})
ax.set_xlabel("clean test accuracy")
ax.set_ylabel(f"robust test accuracy (PGD-{eval_attack_steps}, eps={epsilon})")
ax.set_title(f"Clean/robust trade-off on {dataset} (mean of {len(seeds)} seeds; * chosen on val)")
ax.legend(fontsize=8)
run.figure(fig, "tradeoff", trade_rows)
plt.show()

# %% [markdown]
# Training curves (mean training objective per epoch, first seed). The objectives differ in scale, so each
# method's curve shows its own loss, not a comparison between them.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
curve_rows = []
for C in class_counts:
    for tau in taus:
        r = next(r for r in mix_rows if r["classes"] == C and r["tau"] == tau and r["seed"] == seeds[0])
        axes[0].plot(range(1, len(r["train_loss_curve"]) + 1), r["train_loss_curve"],
                     ls="-" if C == class_counts[0] else "--", label=f"C={C} tau={tau}")
        curve_rows += [{"study": "mixture", "run": f"C={C} tau={tau}", "epoch": i + 1, "train_loss": v}
                       for i, v in enumerate(r["train_loss_curve"])]
axes[0].set_yscale("log")
axes[0].set_title("mixtures (solid: fewer classes)")
for name, _ in configs:
    h = curves[(name, seeds[0])]
    axes[1].plot(range(1, len(h) + 1), h, marker=".", label=name)
    curve_rows += [{"study": dataset, "run": name, "epoch": i + 1, "train_loss": v} for i, v in enumerate(h)]
axes[1].set_title(f"{dataset}: training objective")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.legend(fontsize=6, ncol=2)
run.figure(fig, "training_curves", curve_rows)
plt.show()

# %% [markdown]
# ## Claims
# Verdicts from `reproductions/compsum/claims.yaml`, computed from the per-seed measurements above.

# %%
run.check_claims()
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
