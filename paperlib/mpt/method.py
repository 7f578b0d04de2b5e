"""Mix Prompt Tuning (Liu et al. 2023, arXiv:2305.03287) and its baselines, on any prompt backend.

MPT, Sec. 3 of the paper, in three stages:
  1. prompt tuning: one prompt model per template (manual, soft and mixed templates), each trained on the K
     labelled examples per class with cross-entropy over its verbalizer's class scores (PET-style: the LM
     is tuned with the template; soft vectors are learned jointly);
  2. pseudo-labelling: the prompt models' class probabilities are averaged (the multi-perspective ensemble)
     and each class keeps its most confident unlabelled examples with the arg-max label (per-class top-k,
     :func:`pseudo_label`);
  3. the PLM with a classification head is fine-tuned on the labelled + pseudo-labelled examples.

Baselines: fine-tuning with a classification head on the K labelled examples; prompt models of one kind;
self-training (stage 2 with the fine-tuned classifier as the labeller, then stage 3).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .prompts import Filled, PromptModel, Template, pad_filled


@dataclass
class TrainConfig:
    steps: int = 100  # optimizer steps
    batch_size: int = 16
    lr: float = 3e-4  # LM (and classification head) learning rate, AdamW
    soft_lr: float = 3e-3  # soft prompt vectors (P-tuning uses a larger step for the prompt)
    weight_decay: float = 0.01
    warmup: float = 0.1  # fraction of steps with a linear warm-up, then linear decay
    seed: int = 0


def fill_classifier(backend, text: str, term: str, max_len: int) -> Filled:
    """[CLS] (term :) text [SEP] for a masked LM, (term :) text for a causal LM; the text is what gets cut."""
    b = backend
    room = max_len - len(b.prefix_ids) - len(b.suffix_ids)
    t = (b.tokenize(term) + b.tokenize(":"))[: room // 2] if term else []
    ids = b.prefix_ids + t + b.tokenize(text)[: room - len(t)] + b.suffix_ids
    return Filled(ids, [], 0 if b.kind == "masked" else len(ids) - 1)


class Classifier(nn.Module):
    """The PLM with a linear classification head on the [CLS] state (masked LM) or the last token's state
    (causal LM): the fine-tuning baseline and MPT's final model."""

    def __init__(self, backend, n_classes: int, max_len: int = 64):
        super().__init__()
        self.backend, self.max_len = backend, max_len
        self.lm = backend.model
        self.head = nn.Linear(backend.dim, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def fill(self, text: str, term: str = "") -> Filled:
        return fill_classifier(self.backend, text, term, self.max_len)

    def forward(self, filled: list[Filled]) -> torch.Tensor:
        dev = self.head.weight.device
        ids, pad = pad_filled(filled, self.backend.pad_id, dev)
        _, h = self.backend.forward(self.backend.embed(ids), pad, torch.tensor([f.slot for f in filled], device=dev))
        return self.head(h)


def train(model: nn.Module, filled: list[Filled], labels, cfg: TrainConfig, trainer_cfg: dict | None = None) -> dict:
    """Cross-entropy on ``model(filled)`` for ``cfg.steps`` AdamW steps over shuffled epochs of the data (linear
    warm-up then decay, gradient norm clipped to 1), through the shared Lightning trainer
    (:mod:`paperlib.lightning_modules`). ``trainer_cfg``: its settings (the cell's device and precision); None: the
    model's device in float32. The shuffles are drawn on the CPU, so a seed gives the same batches anywhere.
    (A Lightning fit costs 40-100 ms more than the hand-written loop it replaced: about 2% of the quick profile's
    ~670 fits, ``benchmarks/mpt_lightning_overhead.py``.)"""
    from ..lightning_modules import LoopModule, Opaque, device_trainer, fit_loop, generated_loader

    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    dev = next(p.device for p in model.parameters())
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    soft = [p for n, p in model.named_parameters() if n == "soft" and p.requires_grad]
    rest = [p for n, p in model.named_parameters() if n != "soft" and p.requires_grad]
    if not soft and not rest:  # a manual template over a frozen LM: nothing to learn, zero-shot
        model.eval()
        return {"loss": [], "wall_s": 0.0, "examples_per_s": None}
    if cfg.steps < 1:
        model.eval()
        return {"loss": [], "wall_s": 0.0, "examples_per_s": 0.0}
    groups = ([{"params": rest, "lr": cfg.lr}] if rest else []) + ([{"params": soft, "lr": cfg.soft_lr, "weight_decay": 0.0}] if soft else [])
    warm = max(1, int(cfg.warmup * cfg.steps))

    def batches():
        order = []
        for _ in range(cfg.steps):
            if len(order) < cfg.batch_size:
                order += torch.randperm(len(filled), generator=g).tolist()
            b, order = order[: cfg.batch_size], order[cfg.batch_size:]
            yield Opaque([filled[i] for i in b]), y[b]  # the model pads and moves its inputs itself

    def make_optimizer(_):
        opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
        return opt, torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (cfg.steps - s) / max(1, cfg.steps - warm))))

    seen = [0]

    def after_step(_, batch, __):
        seen[0] += len(batch[1])

    module = LoopModule(model, lambda m, b: F.cross_entropy(m(b[0].value), b[1]), make_optimizer, clip_norm=1.0,
                        clip_params=lambda: [p for grp in groups for p in grp["params"]], after_step=after_step)
    t0 = time.perf_counter()
    fit_loop(module, generated_loader(batches, cfg.steps), trainer_cfg or device_trainer(dev), max_epochs=1,
             max_steps=cfg.steps)
    model.eval()
    wall = time.perf_counter() - t0
    return {"loss": module.losses, "wall_s": wall, "examples_per_s": seen[0] / max(wall, 1e-9)}


@torch.no_grad()
def predict_proba(model: nn.Module, filled: list[Filled], batch_size: int = 128) -> np.ndarray:
    """Class probabilities (N, C), in length-sorted batches (less padding), returned in input order."""
    model.eval()
    order = sorted(range(len(filled)), key=lambda i: len(filled[i]))
    out = [None] * len(filled)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        p = torch.softmax(model([filled[i] for i in idx]).float(), -1).cpu().numpy()
        for i, row in zip(idx, p):
            out[i] = row
    return np.stack(out)


def pseudo_label(probs: np.ndarray, per_class: int, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-class top-k by the labeller's confidence: each unlabelled example is assigned its arg-max class, and of
    the examples assigned class c the ``per_class`` most confident keep their label (all of them where fewer are
    assigned c). The paper's text available here (abstract and Sec. 3: "a large number of pseudo labels are
    assigned to the unlabeled examples") states no selection rule; a fixed confidence threshold collapses as K
    grows (prompt models trained on more examples for the same number of steps are less confident: at K = 32 a
    0.6 threshold kept 0-4 pseudo-labels on ACL-ARC and SciERC), while a per-class count keeps the set's size and
    class balance fixed by design. ``threshold`` (default 0: off) additionally drops examples below it.
    Returns (indices, labels), ordered by class and then by falling confidence."""
    probs = np.asarray(probs)
    if per_class < 0:
        raise ValueError(f"per_class must be >= 0, got {per_class}")
    label, conf = probs.argmax(1), probs.max(1)
    keep_idx, keep_lab = [], []
    for c in range(probs.shape[1]):
        cand = np.flatnonzero((label == c) & (conf >= threshold))
        cand = cand[np.argsort(-conf[cand], kind="stable")][:per_class]
        keep_idx.append(cand)
        keep_lab.append(np.full(len(cand), c))
    return np.concatenate(keep_idx).astype(int), np.concatenate(keep_lab).astype(int)


def train_prompt_model(backend, template: Template, verbalizer, examples, labels, cfg: TrainConfig,
                       max_len: int = 64, tune_plm: bool = True) -> tuple[PromptModel, dict]:
    """Stage 1 for one template, on a private copy of the LM when the LM is tuned."""
    model = PromptModel(backend.copy() if tune_plm else backend, template, verbalizer, max_len, tune_plm, cfg.seed)
    info = train(model, [model.fill(e.text, e.term) for e in examples], labels, cfg)
    return model, info


def train_classifier(backend, n_classes: int, examples, labels, cfg: TrainConfig,
                     max_len: int = 64) -> tuple[Classifier, dict]:
    """Fine-tuning with a classification head (stage 3 and the fine-tuning baseline), on a copy of the LM."""
    model = Classifier(backend.copy(), n_classes, max_len)
    info = train(model, [model.fill(e.text, e.term) for e in examples], labels, cfg)
    return model, info


def prompt_probs(model: PromptModel, examples, batch_size: int = 128) -> np.ndarray:
    return predict_proba(model, [model.fill(e.text, e.term) for e in examples], batch_size)


def classifier_probs(model: Classifier, examples, batch_size: int = 128) -> np.ndarray:
    return predict_proba(model, [model.fill(e.text, e.term) for e in examples], batch_size)


def macro_f1(y_true, y_pred, n_classes: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=list(range(n_classes)), average="macro", zero_division=0))
