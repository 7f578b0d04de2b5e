"""One LightningModule for every training objective compared in arXiv 2304.07288 (Sections 5 and 6)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import lightning as L

from .adversarial import adv_comp_sum_loss, pgd_training_loss, trades_loss
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
    ``optimizer``: "adam", or "sgd" with Nesterov momentum (the paper's optimiser, Appendix on experiments),
    with ``lr`` / ``weight_decay``; with ``max_epochs`` the learning rate follows a cosine schedule
    to zero over that many epochs, otherwise it is constant. ``history`` holds the mean training loss of
    each epoch, for plotting without a logger.
    """

    def __init__(self, net: nn.Module, method: str = "comp_sum", tau: float = 1.0, nu: float = 0.0,
                 beta: float = 6.0, epsilon: float = 0.1, step_size: float = 0.025, attack_steps: int = 5,
                 lr: float = 1e-3, weight_decay: float = 0.0, max_epochs: int | None = None,
                 optimizer: str = "adam", momentum: float = 0.9):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self.history: list[float] = []
        self._epoch_losses: list[torch.Tensor] = []

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
        loss = self.objective(x, y)
        # Logged once per epoch (on_train_epoch_end): a self.log call per step costs ~0.7 ms, as much as a
        # whole training step of the small models here (benchmarks/lightning_overhead.py).
        self._epoch_losses.append(loss.detach())
        return loss

    def on_train_epoch_end(self) -> None:
        if self._epoch_losses:
            mean = torch.stack(self._epoch_losses).mean()
            self.history.append(mean.item())
            self.log("train/loss", mean, sync_dist=True)
        self._epoch_losses = []

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        # Cross-entropy rather than the method's own loss, so validation curves compare across methods.
        self.log("val/loss", F.cross_entropy(logits, y), on_epoch=True, batch_size=len(x))
        self.log("val/acc", (logits.argmax(1) == y).float().mean(), on_epoch=True, batch_size=len(x))

    def configure_optimizers(self):
        hp = self.hparams
        if hp.optimizer == "sgd":
            # Plain SGD keeps each loss's own gradient scale, which is what separates the comp-sum losses
            # (e.g. MAE's gradient vanishes as p_y -> 0); Adam's per-coordinate rescaling would hide it.
            opt = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum, nesterov=hp.momentum > 0,
                                  weight_decay=hp.weight_decay)
        else:
            opt = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if not self.hparams.max_epochs:
            return opt
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.hparams.max_epochs)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
