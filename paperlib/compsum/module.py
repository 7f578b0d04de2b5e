"""One LightningModule for every training objective compared in arXiv 2304.07288 (Sections 5 to 7)."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

import lightning as L

from ..data.cifar import crop_flip
from .adversarial import adv_comp_sum_loss, pgd_robust_examples, pgd_training_loss, trades_loss
from .losses import comp_sum_loss

METHODS = ("comp_sum", "adv_comp_sum", "trades", "pgd")
OPTIMIZERS = ("adam", "sgd")


class CompSumClassifier(L.LightningModule):
    """A classifier ``net`` trained with one objective:

    - "comp_sum": the comp-sum loss l_tau (Eq. (1)); tau = 1 is plain cross-entropy training.
    - "adv_comp_sum": l_tau + nu * sup ||h(x') - h(x)||_2 (smooth adversarial comp-sum, Section 6).
    - "trades": CE + beta * KL(h(x) || h(x')) (TRADES).
    - "pgd": CE on PGD examples (Madry et al.).

    The inner attack is L-inf PGD of radius ``epsilon``, ``attack_steps`` steps of ``step_size``.
    ``optimizer``: "adam", or "sgd" with (Nesterov) momentum, with ``lr`` / ``weight_decay``; with
    ``max_epochs`` the learning rate follows a cosine schedule to zero over that many epochs, otherwise it
    is constant. ``augment``: random crop (4-pixel padding) and horizontal flip of each training batch.

    Validation (when the trainer is given validation data) measures clean accuracy and, with
    ``val_attack_steps`` > 0, robust accuracy under PGD on the margin loss (radius ``epsilon``, step
    ``val_step_size``), as Gowal et al. (2020) select checkpoints; with ``keep_best`` the weights of the
    epoch with the best validation robust accuracy are kept and :meth:`restore_best` puts them back
    (early stopping on validation robust accuracy, as the paper's experiments do).
    ``history`` holds the mean training loss of each epoch and ``val_history`` each epoch's validation
    numbers, for plotting without a logger.
    """

    def __init__(self, net: nn.Module, method: str = "comp_sum", tau: float = 1.0, nu: float = 0.0,
                 beta: float = 6.0, epsilon: float = 0.1, step_size: float = 0.025, attack_steps: int = 5,
                 lr: float = 1e-3, weight_decay: float = 0.0, max_epochs: int | None = None,
                 optimizer: str = "adam", momentum: float = 0.9, nesterov: bool = True, augment: bool = False,
                 val_attack_steps: int = 0, val_step_size: float = 0.01, keep_best: bool = False,
                 val_seed: int = 0):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self.history: list[float] = []
        self.val_history: list[dict] = []
        self.best_state: dict | None = None
        self.best_epoch: int | None = None
        self._best_key: float | None = None
        self._rng_after_training: torch.Tensor | None = None
        self._epoch_losses: list[torch.Tensor] = []
        self._val_counts: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def objective(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hp = self.hparams
        attack = dict(epsilon=hp.epsilon, step_size=hp.step_size, steps=hp.attack_steps)
        if hp.method == "comp_sum":
            return comp_sum_loss(self.net(x), y, hp.tau)
        if hp.method == "adv_comp_sum":
            return adv_comp_sum_loss(self.net, x, y, hp.tau, hp.nu, **attack)
        if hp.method == "trades":
            return trades_loss(self.net, x, y, hp.beta, **attack)
        return pgd_training_loss(self.net, x, y, **attack)

    def training_step(self, batch, batch_idx):
        x, y = batch
        if self.hparams.augment:
            x = crop_flip(x)
        loss = self.objective(x, y)
        # Logged once per epoch (on_train_epoch_end): a self.log call per step costs ~0.7 ms, as much as a
        # whole training step of the small models here (benchmarks/lightning_overhead.py).
        self._epoch_losses.append(loss.detach())
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self._rng_after_training = torch.get_rng_state()

    def on_validation_end(self) -> None:
        # Creating the validation DataLoader's iterator draws a seed from torch's global generator, which
        # the training attacks' random starts also use: put the stream back, so that validating (early
        # stopping) selects among the epochs of the very run that trains without validation.
        if self._rng_after_training is not None:
            torch.set_rng_state(self._rng_after_training)

    def on_train_epoch_end(self) -> None:
        if self._epoch_losses:
            mean = torch.stack(self._epoch_losses).mean()
            self.history.append(mean.item())
            self.log("train/loss", mean, sync_dist=True)
        self._epoch_losses = []

    def validation_step(self, batch, batch_idx):
        x, y = batch
        hp = self.hparams
        with torch.no_grad():
            correct = (self.net(x).argmax(1) == y).sum()
        robust = correct.new_zeros(())
        if hp.val_attack_steps > 0:
            # A generator per epoch and batch: the validation attack never draws from the training stream.
            g = torch.Generator(device=x.device).manual_seed(hp.val_seed + 1000 * self.current_epoch + batch_idx)
            robust = pgd_robust_examples(self.net, x, y, hp.epsilon, hp.val_step_size, hp.val_attack_steps, g,
                                         objective="margin").sum()
        self._val_counts.append(torch.stack([correct, robust, correct.new_tensor(len(y))]).float())

    def on_validation_epoch_end(self) -> None:
        if not self._val_counts:
            return
        counts = torch.stack(self._val_counts).sum(0)
        self._val_counts = []
        if self.trainer is not None and self.trainer.world_size > 1:
            counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        acc, robust = (counts[0] / counts[2]).item(), (counts[1] / counts[2]).item()
        self.log("val/acc", acc)
        self.log("val/robust", robust)
        self.val_history.append({"epoch": self.current_epoch + 1, "val_acc": acc, "val_robust": robust})
        key = robust if self.hparams.val_attack_steps > 0 else acc  # robust accuracy when it is measured
        if self.hparams.keep_best and (self._best_key is None or key > self._best_key):  # ties keep the earlier
            self._best_key, self.best_epoch = key, self.current_epoch + 1
            self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def restore_best(self) -> "CompSumClassifier":
        """Put back the weights of the best validation epoch (a no-op without ``keep_best`` or validation)."""
        if self.best_state is not None:
            self.net.load_state_dict(copy.deepcopy(self.best_state))
        return self

    def configure_optimizers(self):
        hp = self.hparams
        if hp.optimizer == "sgd":
            # Plain SGD keeps each loss's own gradient scale, which is what separates the comp-sum losses
            # (e.g. MAE's gradient vanishes as p_y -> 0); Adam's per-coordinate rescaling would hide it.
            opt = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum,
                                  nesterov=hp.nesterov and hp.momentum > 0, weight_decay=hp.weight_decay)
        else:
            opt = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if not self.hparams.max_epochs:
            return opt
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.hparams.max_epochs)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
