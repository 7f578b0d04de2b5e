"""The comp-sum paper's two studies as runs over seeds, each returning one row per (setting, seed).

- The class-count study (arXiv 2304.07288, Section 7, the comp-sum losses on CIFAR-10 vs CIFAR-100):
  :func:`run_mixture_study` trains one classifier per (number of classes, seed, tau, learning rate) on a
  Gaussian mixture whose Bayes accuracy is the same for every number of classes.
- The adversarial study (Section 7, ADV-COMP-SUM against TRADES and PGD adversarial training):
  :func:`run_adversarial_study` trains one classifier per (arm, seed), keeps the epoch with the best
  validation robust accuracy, and measures clean and robust test accuracy under a strong attack.

Every job seeds itself (data order, initialisation, attacks) from its own arguments and runs with one
torch thread, so a job gives the same numbers whichever worker process runs it and in whatever order:
that is what makes a rerun reproduce the committed per-seed numbers on a CPU. The claim statistics
computed from the rows are in :mod:`paperlib.compsum.claims`.
"""
from __future__ import annotations

import time
from dataclasses import replace, asdict, dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from ..data.synthetic import gaussian_mixture
from ..nn import MLP, SmallCNN, preact_resnet18
from ..training import TensorDataModule, make_trainer, run_in_workers, seed_everything
from .adversarial import clean_accuracy, robust_accuracy
from .module import CompSumClassifier
from .robustness import robust_examples

CE_TAU, MAE_TAU = 1.0, 2.0  # tau of the logistic loss (cross-entropy) and of the mean absolute error


# ---------------------------------------------------------------- class-count study (mixtures)

@dataclass(frozen=True)
class MixtureStudy:
    """A Gaussian-mixture classification problem per number of classes, and how each loss trains on it."""

    dim: int = 32  # input dimension
    bayes_accuracy: float = 0.8  # every class count is calibrated to this Bayes (nearest-mean) accuracy
    train_per_class: int = 100
    val_per_class: int = 100  # picks tau per seed
    test_per_class: int = 500
    hidden: tuple[int, ...] = ()  # () = a linear model, which contains the Bayes classifier of the mixture
    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "sgd"  # with Nesterov momentum 0.9, as the paper trains


@lru_cache(maxsize=4)
def mixture_data(n_classes: int, seed: int, study: MixtureStudy) -> dict:
    return gaussian_mixture(n_classes, study.dim, study.train_per_class, study.val_per_class,
                            study.test_per_class, bayes_accuracy=study.bayes_accuracy, seed=seed)


def mixture_job(n_classes: int, seed: int, tau: float, lr: float, study: MixtureStudy, trainer_cfg: dict) -> dict:
    """Train one linear (or MLP) classifier with the comp-sum loss l_tau on mixture (n_classes, seed)."""
    t0 = time.perf_counter()
    data = mixture_data(n_classes, seed, study)
    seed_everything(seed)  # before the network exists: its initialisation depends on the seed alone
    module = CompSumClassifier(MLP(study.dim, tuple(study.hidden), n_classes), method="comp_sum", tau=tau, lr=lr,
                               optimizer=study.optimizer)
    make_trainer(trainer_cfg, max_epochs=study.epochs).fit(
        module, datamodule=TensorDataModule(data["train"], None, batch_size=study.batch_size, seed=seed))
    net = module.net.eval()
    return {"classes": n_classes, "seed": seed, "tau": tau, "lr": lr, "bayes_acc": data["bayes_accuracy"],
            "val_acc": clean_accuracy(net, *data["val"]), "test_acc": clean_accuracy(net, *data["test"]),
            "train_loss_curve": module.history, "diverged": not all(np.isfinite(module.history)),
            "wall_s": time.perf_counter() - t0}


def run_mixture_study(study: MixtureStudy, class_counts: Sequence[int], seeds: Sequence[int],
                      taus: Sequence[float], lrs: Callable[[int, float], Sequence[float]], trainer_cfg: dict,
                      workers: int = 2, log: Callable[[str], None] = print, pool=None) -> list[dict]:
    """One row per (class count, seed, tau, learning rate in ``lrs(class_count, tau)``), run in ``workers``
    processes of one thread (or in ``pool``, a :func:`paperlib.training.worker_pool`)."""
    args = [(C, s, float(tau), float(lr), study, trainer_cfg) for C in class_counts for s in seeds for tau in taus
            for lr in lrs(C, tau)]
    t0 = time.perf_counter()

    def done(i, r, n):
        if n % max(1, len(args) // 8) == 0 or n == len(args):
            log(f"mixtures: {n}/{len(args)} fits ({time.perf_counter() - t0:.0f} s); last C={r['classes']} "
                f"seed={r['seed']} tau={r['tau']} lr={r['lr']}: test acc {r['test_acc']:.3f}")

    return run_in_workers(mixture_job, args, workers, 1, done, pool=pool)


# ---------------------------------------------------------------- adversarial study

@dataclass(frozen=True)
class AdversarialStudy:
    """Data, network, training and evaluation shared by every arm of the adversarial study."""

    dataset: str = "fashion_mnist"  # fashion_mnist | cifar10 | cifar100
    model: str = "mlp"  # mlp | cnn | preact_resnet18
    hidden: tuple[int, ...] = (256, 256)  # MLP hidden widths
    n_train: int = 10_000  # a seeded subset of the training split
    n_val: int = 1_000  # held out of the training split (model selection, early stopping)
    n_test: int = 2_000  # the first n_test test images
    epochs: int = 5
    batch_size: int = 128
    optimizer: str = "adam"  # adam | sgd (momentum 0.9, Nesterov)
    weight_decay: float = 0.0
    cosine: bool = False  # cosine learning-rate schedule to zero over the epochs
    augment: bool = False  # random crop (4-pixel padding) and horizontal flip
    epsilon: float = 0.1  # L-inf radius for training and evaluation
    train_attack_steps: int = 5
    train_step_size: float = 0.025
    val_attack_steps: int = 10  # PGD on the margin loss, each epoch, on the validation images
    val_step_size: float = 0.025
    early_stopping: bool = True  # keep the epoch with the best validation robust accuracy
    eval_suite: str = "apgd-ce+apgd-t"  # a suite of paperlib.compsum.robustness (the full profile: autoattack)
    eval_steps: int = 20  # iterations of each APGD (AutoAttack: 100); on two trained MLPs 15 and 25 broke the same examples within 0.1 points
    eval_batch_size: int = 1000
    adv_tau: float = 1.0  # tau of ADV-COMP-SUM's comp-sum part (the paper's ADV-COMP-SUM uses the logistic loss)
    sanity_n: int = 500  # test images of the sanity checks (full AutoAttack on one model)
    sanity_steps: int = 100  # APGD/FAB iterations of that full AutoAttack (AutoAttack's own: 100)
    square_queries: int = 5000  # queries of AutoAttack's Square attack (AutoAttack's own: 5,000)


@dataclass(frozen=True)
class Arm:
    """One trained configuration: a method with its regularisation weight and learning rate."""

    name: str  # e.g. "trades beta=6"
    method: str  # pgd | trades | adv_comp_sum | comp_sum
    lr: float
    nu: float | None = None
    beta: float | None = None
    family: str = field(default="")

    def __post_init__(self):
        if not self.family:
            object.__setattr__(self, "family", {"adv_comp_sum": "adv-comp-sum", "comp_sum": "ce"}.get(self.method,
                                                                                                       self.method))


def arms(nus: Iterable[float], betas: Iterable[float], lrs: Mapping[str, float], pgd: bool = True,
         ce: bool = False) -> list[Arm]:
    """PGD training, TRADES at each beta and ADV-COMP-SUM at each nu; ``lrs`` by method."""
    out = [Arm("ce", "comp_sum", lrs["comp_sum"])] if ce else []
    out += [Arm("pgd", "pgd", lrs["pgd"])] if pgd else []
    out += [Arm(f"trades beta={b:g}", "trades", lrs["trades"], beta=float(b)) for b in betas]
    out += [Arm(f"adv-comp-sum nu={nu:g}", "adv_comp_sum", lrs["adv_comp_sum"], nu=float(nu)) for nu in nus]
    return out


DATASETS = ("fashion_mnist", "cifar10", "cifar100")


@lru_cache(maxsize=1)
def load_images(dataset: str) -> dict:
    """The dataset as tensors (read once per process). CIFAR downloads only when missing and online."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    if dataset == "fashion_mnist":
        from ..data.fashion_mnist import load_fashion_mnist
        return load_fashion_mnist()
    if dataset in ("cifar10", "cifar100"):
        from ..data import cifar
        return getattr(cifar, f"load_{dataset}")(download=True)


def adversarial_splits(study: AdversarialStudy, seed: int, images: dict | None = None) -> dict:
    """train / val (disjoint, drawn from the training split by a generator seeded with 10,000 + seed) and
    test (the first ``n_test`` test images, the same for every seed)."""
    images = images if images is not None else load_images(study.dataset)
    x_pool, y_pool = images["train"]
    if study.n_train + study.n_val > len(x_pool):
        raise ValueError(f"n_train + n_val = {study.n_train + study.n_val} exceeds the {len(x_pool)} training images")
    perm = torch.randperm(len(x_pool), generator=torch.Generator().manual_seed(10_000 + seed))
    tr, va = perm[:study.n_train], perm[study.n_train:study.n_train + study.n_val]
    x_test, y_test = images["test"]
    return {"train": (x_pool[tr], y_pool[tr]), "val": (x_pool[va], y_pool[va]),
            "test": (x_test[:study.n_test], y_test[:study.n_test]), "n_classes": int(y_pool.max()) + 1}


def make_net(study: AdversarialStudy, in_shape: tuple[int, ...], n_classes: int) -> torch.nn.Module:
    if study.model == "mlp":
        return MLP(int(np.prod(in_shape)), tuple(study.hidden), n_classes)
    if study.model == "cnn":
        return SmallCNN(in_shape[0], n_classes)
    if study.model == "preact_resnet18":
        from ..data.cifar import MEAN_STD
        mean, std = MEAN_STD.get(study.dataset, (None, None))
        return preact_resnet18(n_classes, in_shape[0], mean=mean, std=std)
    raise ValueError(f"model must be mlp, cnn or preact_resnet18, got {study.model!r}")


def train_arm(arm: Arm, seed: int, study: AdversarialStudy, splits: dict, trainer_cfg: dict) -> CompSumClassifier:
    """Seed, build the network, train ``arm`` through Lightning, restore the best validation epoch."""
    seed_everything(seed)  # before the network exists: its initialisation depends on the seed alone
    x_train = splits["train"][0]
    module = CompSumClassifier(
        make_net(study, tuple(x_train.shape[1:]), splits["n_classes"]), method=arm.method, tau=study.adv_tau,
        nu=arm.nu or 0.0, beta=arm.beta if arm.beta is not None else 6.0, epsilon=study.epsilon,
        step_size=study.train_step_size, attack_steps=study.train_attack_steps, lr=arm.lr,
        weight_decay=study.weight_decay, max_epochs=study.epochs if study.cosine else None,
        optimizer=study.optimizer, augment=study.augment, val_attack_steps=study.val_attack_steps,
        val_step_size=study.val_step_size, keep_best=study.early_stopping, val_seed=seed)
    dm = TensorDataModule(splits["train"], splits["val"], batch_size=study.batch_size, seed=seed)
    # inference_mode=False: the validation attack needs input gradients inside Lightning's validation loop.
    make_trainer(trainer_cfg, max_epochs=study.epochs, inference_mode=False).fit(module, datamodule=dm)
    return module.restore_best()


def _device(trainer_cfg: dict) -> torch.device:
    return torch.device("cuda" if trainer_cfg.get("accelerator", "cpu") != "cpu" and torch.cuda.is_available()
                        else "cpu")


def adversarial_job(arm: Arm, seed: int, study: AdversarialStudy, trainer_cfg: dict, sanity: bool = False) -> dict:
    """Train one arm on one seed and measure it: validation numbers at the kept epoch, clean and robust
    test accuracy (robust under ``study.eval_suite``), and with ``sanity`` the robustness sanity checks."""
    t0 = time.perf_counter()
    splits = adversarial_splits(study, seed)
    module = train_arm(arm, seed, study, splits, trainer_cfg)
    device = _device(trainer_cfg)
    net = module.net.to(device).eval()
    x_test, y_test = splits["test"]
    kept = module.best_epoch or study.epochs
    val = module.val_history[kept - 1] if module.val_history else {"val_acc": float("nan"), "val_robust": float("nan")}
    t_eval = time.perf_counter()
    robust = robust_examples(net, x_test, y_test, study.epsilon, study.eval_suite, steps=study.eval_steps,
                             square_queries=study.square_queries,
                             n_classes=splits["n_classes"], seed=seed, batch_size=study.eval_batch_size)
    row = {"arm": arm.name, "family": arm.family, "method": arm.method, "seed": seed, "nu": arm.nu, "beta": arm.beta,
           "lr": arm.lr, "best_epoch": kept, "val_clean": val["val_acc"], "val_robust": val["val_robust"],
           "test_clean": clean_accuracy(net, x_test.to(device), y_test.to(device)),
           "test_robust": int(robust.sum()) / len(robust), "train_loss_curve": module.history,
           "val_curve": module.val_history, "eval_s": time.perf_counter() - t_eval}
    if sanity:
        row["sanity"] = robustness_sanity(net, splits, study, seed, robust)
    row["wall_s"] = time.perf_counter() - t0
    return row


def robustness_sanity(net: torch.nn.Module, splits: dict, study: AdversarialStudy, seed: int,
                      robust: torch.Tensor) -> dict:
    """Numbers that must hold if robust accuracy is real (the notebook asserts them):

    - at epsilon = 0 robust accuracy equals clean accuracy;
    - on the first ``sanity_n`` test images, the full AutoAttack (standard: 100-iteration APGD-CE and
      APGD-T, FAB-T, Square with 5,000 queries) is no weaker than the evaluation suite, and the evaluation
      suite is no weaker than the single-start PGD-20 used before (a stronger attack never raises robust
      accuracy, up to the attacks' own randomness).
    """
    x, y = splits["test"]
    n = min(study.sanity_n, len(x))
    kw = dict(n_classes=splits["n_classes"], seed=seed, batch_size=study.eval_batch_size,
              square_queries=study.square_queries)
    eps0 = robust_examples(net, x, y, 0.0, study.eval_suite, steps=study.eval_steps, **kw)
    device = next(net.parameters()).device
    clean = clean_accuracy(net, x.to(device), y.to(device))
    autoattack = robust_examples(net, x[:n], y[:n], study.epsilon, "autoattack", steps=study.sanity_steps, **kw)
    pgd20 = robust_accuracy(net, x[:n].to(device), y[:n].to(device), study.epsilon, study.epsilon / 10, 20,
                            generator=torch.Generator(device=device).manual_seed(seed))
    frac = lambda mask: int(mask.sum()) / len(mask)
    return {"eps0_minus_clean": frac(eps0) - clean, "n": n, "suite_robust": frac(robust[:n]),
            "autoattack_robust": frac(autoattack), "pgd20_robust": pgd20, "robust_minus_clean": frac(robust) - clean}


def run_adversarial_study(study: AdversarialStudy, seeds: Sequence[int], arm_list: Sequence[Arm], trainer_cfg: dict,
                          workers: int = 2, sanity: tuple[str, int] | None = None,
                          log: Callable[[str], None] = print, pool=None) -> list[dict]:
    """One row per (seed, arm); ``sanity = (arm name, seed)`` adds the sanity checks to that row. Runs in
    ``workers`` processes of one thread (or in ``pool``, a :func:`paperlib.training.worker_pool`)."""
    args = [(arm, s, study, trainer_cfg, sanity == (arm.name, s)) for s in seeds for arm in arm_list]
    # The slow sanity job first, so it does not finish last on its own.
    order = sorted(range(len(args)), key=lambda i: not args[i][4])
    t0 = time.perf_counter()

    def done(i, r, n):
        log(f"{r['arm']:<22} seed={r['seed']}: clean {r['test_clean']:.3f} robust {r['test_robust']:.3f} "
            f"(val {r['val_clean']:.3f}/{r['val_robust']:.3f}, epoch {r['best_epoch']}) in {r['wall_s']:.0f} s "
            f"[{n}/{len(args)}, {time.perf_counter() - t0:.0f} s]")

    rows = run_in_workers(adversarial_job, [args[i] for i in order], workers, 1, done, pool=pool)
    back = [None] * len(args)
    for pos, i in enumerate(order):
        back[i] = rows[pos]
    return back


MIXTURE_SETUPS = {
    "quick": MixtureStudy(),
    "smoke": MixtureStudy(dim=16, train_per_class=20, val_per_class=10, test_per_class=20, epochs=2),
}

ADVERSARIAL_SETUPS = {
    # The quick profile: Fashion-MNIST, an MLP, Adam, PGD-5 inside training, APGD-CE + APGD-T to evaluate.
    "fmnist-mlp": AdversarialStudy(),
    "fmnist-mlp-smoke": AdversarialStudy(n_train=1024, n_val=256, n_test=256, train_attack_steps=2,
                                         val_attack_steps=2, eval_steps=5, sanity_n=64),
    # The paper's set-up (full profile): PreAct ResNet-18 on CIFAR, SGD (momentum 0.9) at 0.1 with a cosine
    # schedule and weight decay 5e-4, random crop and flip, PGD-10 (step 2/255) at 8/255 inside training,
    # early stopping on validation robust accuracy (PGD-40 on the margin loss over 1,000 held-out training
    # images, as Gowal et al. 2020), AutoAttack (standard) on the 10,000 test images.
    "paper": AdversarialStudy(dataset="cifar10", model="preact_resnet18", n_train=49_000, n_val=1_000,
                              n_test=10_000, epochs=100, batch_size=128, optimizer="sgd", weight_decay=5e-4,
                              cosine=True, augment=True, epsilon=8 / 255, train_attack_steps=10,
                              train_step_size=2 / 255, val_attack_steps=40, val_step_size=2 / 255,
                              eval_suite="autoattack", eval_steps=100, eval_batch_size=500, sanity_n=1_000),
}
# `paperlib check compsum --profile full`: the paper's set-up on its smallest slice (a few images, short attacks),
# only to show that the path runs; never a result.
# the full profile's path on its smallest slice: one optimisation step (one batch of 64) and one evaluation batch
ADVERSARIAL_SETUPS["paper-preflight"] = replace(ADVERSARIAL_SETUPS["paper"], n_train=64, n_val=16, n_test=16,
                                                batch_size=64, train_attack_steps=2, val_attack_steps=2,
                                                eval_steps=2, eval_batch_size=16, sanity_n=8, sanity_steps=2,
                                                square_queries=10)


def config_dict(study) -> dict:
    """A study's settings as plain values (for the record)."""
    return asdict(study)
