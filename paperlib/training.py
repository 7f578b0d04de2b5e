"""Lightning glue shared by every paper: seeding, a trainer built from plain settings, fast in-memory data.

The trainer settings are plain values (``accelerator``, ``devices``, ``strategy``, ``precision``,
``deterministic``) that notebooks take from their parameters, so that the same notebook runs on a
2-core laptop (``cpu``, 1 device) and on GPUs (``auto``, several devices, a DDP strategy) by
changing parameters only. (A run *profile* is smoke, quick or full: a set of notebook parameters.)
"""
from __future__ import annotations

import logging
import os
import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

import lightning as L
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler


def seed_everything(seed: int) -> torch.Generator:
    """The one place where a run is seeded, and made deterministic: Python, NumPy, torch (CPU and CUDA).

    Returns a ``torch.Generator`` seeded the same way, for code that wants its own stream.

    What it does: seeds ``random``, NumPy's global state and torch's CPU and CUDA generators; turns
    on torch's deterministic algorithms (``warn_only``: an op that has no deterministic version
    still runs, with a warning, rather than failing the run); turns off cuDNN's autotuner (which may
    pick a different kernel on every run) and asks cuDNN for deterministic kernels; sets
    ``CUBLAS_WORKSPACE_CONFIG`` so cuBLAS is deterministic on CUDA >= 10.2. Lightning trainers made
    by :func:`make_trainer` keep the same setting.

    What is deterministic, then: on CPU, a rerun with the same code, library versions, machine type
    and *torch thread count* gives bitwise the same numbers (data order comes from seeded
    generators: :func:`batch_loader`, :class:`TensorDataModule`; DataLoaders use no worker
    processes; :func:`run_in_workers` returns results in argument order and each task seeds itself).
    Under ``paperlib reproduce`` the kernel also runs with ``PYTHONHASHSEED=0``, so the iteration
    order of sets of strings repeats; an interactive kernel has a random hash seed.

    What is not: a different thread count (parallel reductions add in another order), another CPU
    type or another torch/MKL/oneDNN build can move results in the last bits, and training can
    amplify that; on GPUs, ops listed as nondeterministic in ``torch.use_deterministic_algorithms``
    (they warn) and multi-device reductions. Comparisons across such changes need a stated tolerance
    (``tests/golden/<paper>.json``, ``paperlib verify``).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    # https://docs.nvidia.com/cuda/cublas/index.html#results-reproducibility (must precede cuBLAS' first use)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """A notebook's ``device`` parameter as a torch device. ``auto``: CUDA when present, else the CPU (what full
    profiles set, so that ``paperlib check`` runs their path on a CPU-only machine); ``cuda`` without a GPU is an
    error that says so."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch sees no CUDA GPU (use 'auto' or 'cpu')")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device must be cpu, cuda[:N] or auto, got {name!r}")
    return torch.device(name)


def trainer_settings(device: str = "cpu", precision: str = "32-true", devices: Any = 1,
                     strategy: str = "auto") -> dict:
    """The :func:`make_trainer` settings of a notebook's ``device`` / ``precision`` parameters: Lightning's
    accelerator for the device (``auto`` resolves as :func:`resolve_device`), its precision string."""
    dev = resolve_device(device)
    check_precision(precision)
    return {"accelerator": "gpu" if dev.type == "cuda" else "cpu", "devices": devices, "strategy": strategy,
            "precision": precision}


PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} (Lightning's names), got {precision!r}")
    return precision


def autocast(device, precision: str = "32-true"):
    """The forward-pass context of a hand-written loop for a Lightning precision string: ``bf16-mixed`` /
    ``16-mixed`` autocast to bfloat16 / float16 on ``device``, ``32-true`` changes nothing (so CPU runs keep
    their numbers). ``bf16-true`` is a model cast, not an autocast: the loop casts the model itself."""
    import contextlib

    check_precision(precision)
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if precision == "bf16-mixed":
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device_type=dev.type, dtype=torch.float16)
    return contextlib.nullcontext()


def quiet_lightning() -> None:
    """Silence Lightning's banners and tips: an executed notebook should hold results, not logs."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*TPU available.*")
    warnings.filterwarnings("ignore", message=".*The number of training batches.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*Total length of .* across ranks is zero.*")
    warnings.filterwarnings("ignore", message=".*val_dataloader.* but have no .validation_step.*")


@dataclass
class TrainerConfig:
    """Trainer settings. ``devices`` may be an int or ``"auto"``. ``deterministic``: torch's
    deterministic algorithms where they exist (ops without one warn), as :func:`seed_everything`."""

    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    precision: str = "32-true"
    deterministic: bool = True
    max_epochs: int = 1
    progress_bar: bool = False
    extra: dict = field(default_factory=dict)


def make_trainer(cfg: TrainerConfig | dict | None = None, **overrides: Any) -> L.Trainer:
    """A ``lightning.Trainer`` from trainer settings, quiet and without checkpoints.

    ``overrides`` go straight to ``lightning.Trainer`` (e.g. ``max_epochs``, ``callbacks``).
    """
    if cfg is None:
        cfg = TrainerConfig()
    elif isinstance(cfg, dict):
        known = {k: v for k, v in cfg.items() if k in TrainerConfig.__dataclass_fields__}
        unknown = sorted(set(cfg) - set(known))
        if unknown:
            raise ValueError(f"unknown trainer setting(s) {unknown}; valid: {sorted(TrainerConfig.__dataclass_fields__)}")
        cfg = TrainerConfig(**known)
    quiet_lightning()
    kwargs: dict[str, Any] = dict(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        precision=cfg.precision,
        # "warn": deterministic algorithms with warn_only, as seed_everything (True would make ops
        # without a deterministic version fail, and would change the global setting for later code)
        deterministic="warn" if cfg.deterministic else False,
        max_epochs=cfg.max_epochs,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        num_sanity_val_steps=0,
    )
    kwargs.update(cfg.extra)
    kwargs.update(overrides)
    return L.Trainer(**kwargs)


class IndexBatchDataset(Dataset):
    """Tensors indexed a whole batch at a time (one gather per batch instead of one per example).

    With a ``BatchSampler`` as the DataLoader's sampler and ``batch_size=None``, each item is a
    list of indices and the dataset returns the stacked batch directly: this removes the
    per-example collate cost that dominates small models on a CPU.
    """

    def __init__(self, *tensors: torch.Tensor):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("IndexBatchDataset needs tensors of equal length")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index):
        index = torch.as_tensor(index)
        return tuple(t[index] for t in self.tensors)


def batch_loader(*tensors: torch.Tensor, batch_size: int, shuffle: bool, seed: int = 0,
                 drop_last: bool = False) -> DataLoader:
    """A DataLoader over in-memory tensors that yields whole batches, reproducibly shuffled."""
    ds = IndexBatchDataset(*tensors)
    base = RandomSampler(ds, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(ds)
    return DataLoader(ds, sampler=BatchSampler(base, batch_size=batch_size, drop_last=drop_last), batch_size=None)


class TensorDataModule(L.LightningDataModule):
    """In-memory (x, y) splits as a DataModule.

    ``batch_size`` is the *global* batch: under a multi-device strategy each device gets
    ``batch_size // world_size`` so results do not depend on the number of devices.
    """

    def __init__(self, train: Sequence[torch.Tensor], val: Sequence[torch.Tensor] | None = None,
                 test: Sequence[torch.Tensor] | None = None, batch_size: int = 128,
                 eval_batch_size: int = 1024, seed: int = 0):
        super().__init__()
        self.splits = {"train": train, "val": val, "test": test}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed

    def _per_device(self, batch: int) -> int:
        world = self.trainer.world_size if self.trainer is not None else 1
        if batch % world:
            raise ValueError(f"global batch {batch} is not divisible by {world} devices")
        return batch // world

    def _loader(self, split: str, batch: int, shuffle: bool) -> DataLoader:
        tensors = self.splits[split]
        if tensors is None:
            raise ValueError(f"no {split} split was given to TensorDataModule")
        if self.trainer is not None and self.trainer.world_size > 1:
            # Under DDP each rank takes its own strided shard of the (seeded) permutation.
            rank, world = self.trainer.global_rank, self.trainer.world_size
            g = torch.Generator().manual_seed(self.seed + self.trainer.current_epoch)
            order = torch.randperm(len(tensors[0]), generator=g) if shuffle else torch.arange(len(tensors[0]))
            order = order[rank::world]
            tensors = [t[order] for t in tensors]
            shuffle = False
        return batch_loader(*tensors, batch_size=self._per_device(batch), shuffle=shuffle, seed=self.seed)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self):
        # No validation split: an empty list tells Lightning to skip validation.
        return [] if self.splits["val"] is None else self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)


class NextTokenModule(L.LightningModule):
    """Teacher-forced next-token cross-entropy of a causal LM on chosen positions (e.g. the response
    tokens of prompt + response rows), AdamW with a one-cycle learning rate.

    Batches are ``(tokens (B, T), loss_mask (B, T - 1))``: position t of ``loss_mask`` says whether
    token t + 1 is scored. The model is called as ``model(tokens, pad_mask)`` and returns logits.
    """

    def __init__(self, model: torch.nn.Module, lr: float, pad_id: int = 0, weight_decay: float = 0.01,
                 pct_start: float = 0.05):
        super().__init__()
        self.model = model
        self.lr, self.pad_id, self.weight_decay, self.pct_start = lr, pad_id, weight_decay, pct_start
        self.losses: list[float] = []

    def training_step(self, batch, _):
        tokens, loss_mask = batch
        T = int(loss_mask.sum(0).nonzero().max()) + 2  # trim the batch to its longest row
        tokens, loss_mask = tokens[:, :T], loss_mask[:, :T - 1]
        logits = self.model(tokens[:, :-1], tokens[:, :-1] != self.pad_id)
        loss = torch.nn.functional.cross_entropy(logits[loss_mask], tokens[:, 1:][loss_mask])
        self.losses.append(float(loss.detach()))
        return loss

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        total = self.trainer.estimated_stepping_batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=total, pct_start=self.pct_start)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def worker_pool(workers: int = 2, threads_per_worker: int = 1):
    """A pool of ``workers`` spawned processes with ``threads_per_worker`` torch threads each, to pass to
    several :func:`run_in_workers` calls (each process then starts and imports torch once); close it with
    ``shutdown()`` or use it as a context manager."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_set_threads,
                               initargs=(threads_per_worker,))


def run_in_workers(fn, args: Sequence[tuple], workers: int = 2, threads_per_worker: int = 1, on_done=None,
                   pool=None) -> list:
    """``fn(*a)`` for every ``a`` in ``args``, in ``workers`` spawned processes (safe inside a Jupyter
    kernel and with torch's threads; ``fn`` must be importable), each with ``threads_per_worker``
    torch threads. Results come back in ``args`` order; ``on_done(index, result, n_finished)`` is
    called as each one finishes (progress). ``workers <= 1`` runs them here, one after another.
    ``pool``: a :func:`worker_pool` to use instead of starting one."""
    from concurrent.futures import as_completed

    results: list = [None] * len(args)
    if workers <= 1 and pool is None:
        _set_threads(threads_per_worker)
        for i, a in enumerate(args):
            results[i] = fn(*a)
            if on_done:
                on_done(i, results[i], i + 1)
        return results
    ex = pool if pool is not None else worker_pool(workers, threads_per_worker)
    try:
        futs = {ex.submit(fn, *a): i for i, a in enumerate(args)}
        for n, f in enumerate(as_completed(futs), 1):
            i = futs[f]
            results[i] = f.result()
            if on_done:
                on_done(i, results[i], n)
    finally:
        if pool is None:
            ex.shutdown()
    return results
