"""Hand-written supervised loops as LightningModules: the same batches, optimiser, schedule and clipping, run by
:func:`paperlib.training.make_trainer`, so that a profile's accelerator, devices, precision and strategy reach them.

A loop converted here keeps its numbers on the CPU (``tests/test_lightning_loops.py`` trains each one with the old
hand-written update and through Lightning and compares the weights), which takes three things:

* batches come from the loop's own generator (:class:`GeneratedBatches`): the loop's random draws (shuffles, masks,
  crops) happen in the same order; Lightning fetching one batch ahead moves none of them, since the generator
  draws from its own streams only;
* the DataLoader gets a private ``torch.Generator``: a DataLoader otherwise draws its base seed from torch's global
  generator every time it is iterated, which would move the dropout masks of the steps that follow;
* clipping is :meth:`LoopModule.configure_gradient_clipping` on the parameters in the loop's order
  (Lightning's own clipping walks the optimiser's parameter groups, whose order may differ, and the total norm's
  sum then differs in the last bits).

Lightning keeps the modes it finds, so :meth:`LoopModule.on_fit_start` puts the model in training mode, as the
loops did before their first step. Under a multi-device strategy every rank would draw the same batch stream (a
generated stream is not sharded): the result is one device's, at the cost of the others; sharding it by rank, with the
global batch fixed, is for the loops that need several devices.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset


class Opaque:
    """A batch part that Lightning must not walk into (it deep-copies dataclasses when it moves a batch to the
    device): lists of :class:`paperlib.mpt.prompts.Filled` or cached features, moved by the model itself."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class GeneratedBatches(IterableDataset):
    """The batches ``make_iter()`` yields, one full pass per iteration (Lightning iterates once per epoch);
    ``length``: how many a pass yields, when known."""

    def __init__(self, make_iter: Callable[[], Iterator], length: int | None = None):
        self.make_iter, self.length = make_iter, length

    def __iter__(self):
        return iter(self.make_iter())

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("this batch stream has no length")
        return self.length


def generated_loader(make_iter: Callable[[], Iterator], length: int | None = None) -> DataLoader:
    """A DataLoader over ready-made batches, with a private generator (see the module docstring)."""
    return DataLoader(GeneratedBatches(make_iter, length), batch_size=None, generator=torch.Generator())


class LoopModule(L.LightningModule):
    """One supervised loop: ``loss_fn(model, batch) -> loss``; ``make_optimizer(model) -> (optimizer, scheduler or
    None)`` (a scheduler steps once per optimiser step); ``clip_norm``: clip the gradient norm of ``clip_params()``
    (default: ``model.parameters()``) to it before each step. ``after_step(module, batch, loss)`` runs after each
    optimiser step (logging, budgets: set ``module.trainer.should_stop``), ``after_epoch(module)`` after each epoch. ``losses``: every step's loss;
    ``epoch_losses``: the same per epoch."""

    def __init__(self, model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
                 make_optimizer: Callable[[torch.nn.Module], tuple], clip_norm: float | None = None,
                 clip_params: Callable[[], Iterable[torch.Tensor]] | None = None,
                 after_step: Callable[["LoopModule", Any, float], None] | None = None,
                 after_epoch: Callable[["LoopModule"], None] | None = None):
        super().__init__()
        self.model = model
        self.loss_fn, self.make_optimizer, self.clip_norm = loss_fn, make_optimizer, clip_norm
        self.clip_params, self.after_step, self.after_epoch = clip_params, after_step, after_epoch
        self.losses: list[float] = []
        self.epoch_losses: list[list[float]] = []

    def on_fit_start(self) -> None:
        # the hand-written loops called model.train() before their first step; Lightning keeps the modes it finds
        self.model.train()

    def on_train_epoch_start(self) -> None:
        self.epoch_losses.append([])

    def training_step(self, batch, batch_idx):
        loss = self.loss_fn(self.model, batch)
        value = float(loss.detach())
        self.losses.append(value)
        self.epoch_losses[-1].append(value)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.after_step is not None:
            self.after_step(self, batch, self.losses[-1])

    def on_train_epoch_end(self) -> None:
        if self.after_epoch is not None:
            self.after_epoch(self)

    def configure_optimizers(self):
        opt, sched = self.make_optimizer(self.model)
        if sched is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        if self.clip_norm is not None:
            params = self.clip_params() if self.clip_params is not None else self.model.parameters()
            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)


def device_trainer(device, precision: str = "32-true") -> dict:
    """Trainer settings for one given torch device (``cuda:N`` -> that GPU) and a Lightning precision: what a loop
    uses when it is handed a model or tensors already on their device and no trainer settings."""
    device = torch.device(device)
    if device.type == "cuda":
        return {"accelerator": "gpu", "devices": [device.index if device.index is not None else 0],
                "precision": precision}
    return {"accelerator": "cpu", "devices": 1, "precision": precision}


def fit_loop(module: LoopModule, loader: DataLoader, trainer_cfg: dict | None = None, **overrides) -> LoopModule:
    """``module`` fit on ``loader`` by :func:`paperlib.training.make_trainer` (``trainer_cfg``: its settings, None:
    one CPU device in float32; ``overrides``: ``max_epochs``, ``max_steps``, ...)."""
    import warnings

    from .training import make_trainer

    # a GeneratedBatches has a length and no worker processes, so the length is exact
    warnings.filterwarnings("ignore", message=".*IterableDataset. has .__len__. defined.*")
    make_trainer(trainer_cfg, **overrides).fit(module, train_dataloaders=loader)
    return module
