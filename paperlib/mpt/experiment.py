"""The low-resource grid: per task, every (K, seed) cell with every method, in worker processes (one task a
job, so that a task's inputs, and its cached frozen features, are built once)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..lightning_modules import device_trainer
from ..training import autocast, resolve_device, run_in_workers  # noqa: F401 (resolve_device: the notebook imports it here)
from .cached import FrozenBottom, TopClassifier, TopPromptModel, bottom_features
from .method import (Classifier, TrainConfig, fill_classifier, macro_f1, predict_proba, pseudo_label, train)
from .prompts import OwnBertBackend, PromptModel, fill
from .tasks import TEMPLATES, VERBALIZERS

METHODS = ["ft", "manual", "soft", "mixed", "prompts", "self_training", "mpt"]


@dataclass
class CellConfig:
    max_len: int = 64  # tokens per filled input
    train_subset: int = 3000  # a task's train split is cut to this many examples (0: all), fixed per task
    pool_size: int = 1000  # unlabelled examples per cell, drawn from the rest of that subset (0: all of it)
    prompt: TrainConfig = field(default_factory=lambda: TrainConfig(steps=60, batch_size=16))
    ft: TrainConfig = field(default_factory=lambda: TrainConfig(steps=60, batch_size=16))
    final: TrainConfig = field(default_factory=lambda: TrainConfig(steps=100, batch_size=32))
    pseudo_per_k: int = 2  # pseudo-labels per class = this x K, the labeller's most confident (per-class top-k)
    pooling: str = "mean"  # own MLM's classifier: mean of the final states or "cls"
    n_top: int = 1  # own MLM: tune only the top n blocks over cached frozen features (0: tune the whole LM)
    tune_plm: bool = True  # full path: prompt models tune the LM with the template (False: the vectors only)
    templates: list[str] | None = None  # template names to use (None: all of the task's)
    device: str = "cpu"  # where every model and tensor lives: cpu | cuda | auto (cuda when present)
    precision: str = "32-true"  # or bf16-mixed: every cell's forward passes under autocast, its fits' Lightning precision (32-true: no change)

    @classmethod
    def from_dict(cls, d: dict) -> "CellConfig":
        d = dict(d)
        for k in ("prompt", "ft", "final"):
            if isinstance(d.get(k), dict):
                d[k] = TrainConfig(**d[k])
        return cls(**d)


def sample_low_resource(labels: np.ndarray, n_classes: int, k: int, seed: int, pool_size: int):
    """Indices of K labelled examples per class (fewer where a class has fewer) and of an unlabelled pool
    drawn from the rest; ``seed`` resamples both."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    lab = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k] for c in range(n_classes)])
    rest = np.setdiff1d(np.arange(len(labels)), lab)
    pool = rng.permutation(rest)[: pool_size or len(rest)]
    return lab.astype(int), pool.astype(int)


class TaskInputs:
    """Every input a task's methods see, built once: the classifier's and each template's, for the train subset
    and the test examples; frozen lower-block features when ``n_top`` > 0 (own MLM only)."""

    def __init__(self, backend, task: str, train, test, cfg: CellConfig, log=None):
        self.backend, self.task, self.cfg = backend, task, cfg
        self.device = resolve_device(cfg.device)
        backend.model.to(self.device)
        self.cached = cfg.n_top > 0 and isinstance(backend, OwnBertBackend)
        self.frozen = FrozenBottom(backend.model, cfg.n_top) if self.cached else None  # shared by the task's models
        self.templates = [t for t in TEMPLATES[task] if cfg.templates is None or t.name in cfg.templates]
        self.word_ids = [[backend.label_word_id(w) for w in ws] for ws in VERBALIZERS[task]]
        t0 = time.perf_counter()
        self.items = {"cls": self._build(lambda e: fill_classifier(backend, e.text, e.term, cfg.max_len), train, test)}
        for t in self.templates:
            self.items[t.name] = self._build(lambda e, t=t: fill(t, e.text, e.term, backend, cfg.max_len), train, test)
        self.build_s = time.perf_counter() - t0
        n = len(self.items) * (len(train) + len(test))
        self.build_examples_per_s = n / max(self.build_s, 1e-9)

    def _build(self, filler, train, test):
        out = []
        for split in (train, test):
            f = [filler(e) for e in split]
            out.append(bottom_features(self.backend, f, self.cfg.n_top) if self.cached else f)
        return out

    def classifier(self, n_classes: int):
        if self.cached:
            return TopClassifier(self.backend, self.cfg.n_top, n_classes, self.cfg.pooling, self.frozen).to(self.device)
        return Classifier(self.backend.copy(), n_classes, self.cfg.max_len).to(self.device)

    def prompt_model(self, template, seed: int):
        if self.cached:
            return TopPromptModel(self.backend, self.cfg.n_top, template.n_soft, self.word_ids, seed,
                                  self.frozen).to(self.device)
        b = self.backend.copy() if self.cfg.tune_plm else self.backend
        return PromptModel(b, template, VERBALIZERS[self.task], self.cfg.max_len, self.cfg.tune_plm, seed).to(self.device)


def run_cell(inputs: TaskInputs, k: int, seed: int, y_train: np.ndarray, y_test: np.ndarray,
             pseudo_grid=()) -> dict:
    """Every method on one (task, K, seed) cell. ``pseudo_grid`` (tuning runs only, on validation data): other
    values of ``pseudo_per_k`` whose final models (self-training and MPT) are also trained on the same labellers'
    probabilities, their macro-F1 in ``out["pseudo_grid"][value]``; the cell's own results are unchanged."""
    cfg, task = inputs.cfg, inputs.task
    t0 = time.perf_counter()
    C = len(VERBALIZERS[task])
    lab_idx, pool_idx = sample_low_resource(y_train, C, k, seed, cfg.pool_size)
    y_lab, y_pool = y_train[lab_idx], y_train[pool_idx]
    out = {"task": task, "k": k, "seed": seed, "n_labelled": len(lab_idx), "n_pool": len(pool_idx), "f1": {},
           "timing": {}, "pseudo": {}}

    def seeded(c: TrainConfig) -> TrainConfig:
        return TrainConfig(**{**asdict(c), "seed": seed})

    def pick(name, idx):
        tr = inputs.items[name][0]
        return [tr[i] for i in idx]

    def test_items(name):
        return inputs.items[name][1]

    def fit(model, name, idx, labels, c, key):
        tm = time.perf_counter()
        info = train(model, pick(name, idx), labels, seeded(c), device_trainer(inputs.device, cfg.precision))
        out["timing"][f"{key}/train_examples_per_s"] = info["examples_per_s"]
        out["timing"][f"{key}/s"] = time.perf_counter() - tm
        return model

    def final_model(key, idx, lab):
        torch.manual_seed(seed)  # every final model starts from the same head, whatever ran before it
        model = fit(inputs.classifier(C), "cls", np.concatenate([lab_idx, pool_idx[idx]]),
                    np.concatenate([y_lab, lab]), cfg.final, key)
        out["pseudo"][key] = {"n": int(len(idx)),
                              "accuracy": float((y_pool[idx] == lab).mean()) if len(idx) else None,
                              "per_class": np.bincount(lab, minlength=C).tolist()}
        return predict_proba(model, test_items("cls"))

    torch.manual_seed(seed)
    # Baseline: fine-tuning with a classification head on the K labelled examples; self-training from it
    ft = fit(inputs.classifier(C), "cls", lab_idx, y_lab, cfg.ft, "ft")
    p_test = {"ft": predict_proba(ft, test_items("cls"))}
    ts = time.perf_counter()
    p_pool_ft = predict_proba(ft, pick("cls", pool_idx))
    out["timing"]["score_examples_per_s"] = len(pool_idx) / (time.perf_counter() - ts)
    per_class = cfg.pseudo_per_k * k
    idx, lab = pseudo_label(p_pool_ft, per_class)
    p_test["self_training"] = final_model("self_training", idx, lab)

    # MPT stage 1: one prompt model per template (manual, soft, mixed)
    pool_probs, kinds = {}, {}
    for t in inputs.templates:
        model = fit(inputs.prompt_model(t, seed), t.name, lab_idx, y_lab, cfg.prompt, f"prompt/{t.name}")
        p_test[f"template/{t.name}"] = predict_proba(model, test_items(t.name))
        pool_probs[t.name] = predict_proba(model, pick(t.name, pool_idx))
        kinds[t.name] = t.kind
    for kind in ("manual", "soft", "mixed"):
        names = [n for n in kinds if kinds[n] == kind]
        if names:
            p_test[kind] = np.mean([p_test[f"template/{n}"] for n in names], 0)
    p_test["prompts"] = np.mean([p_test[f"template/{n}"] for n in kinds], 0)

    # MPT stage 2: the templates' averaged probabilities pseudo-label the pool; stage 3: fine-tune on both
    ens = np.mean(list(pool_probs.values()), 0)
    out["pseudo"]["prompts_pool_f1"] = macro_f1(y_pool, ens.argmax(1), C)
    out["pseudo"]["ft_pool_f1"] = macro_f1(y_pool, p_pool_ft.argmax(1), C)
    idx, lab = pseudo_label(ens, per_class)
    p_test["mpt"] = final_model("mpt", idx, lab)

    for name, p in p_test.items():
        out["f1"][name] = macro_f1(y_test, p.argmax(1), C)
    out["pseudo_grid"] = {}
    for ppk in pseudo_grid:
        if ppk < 0:
            raise ValueError(f"pseudo_grid values must be >= 0, got {ppk}")
        row = {}
        for m, probs in (("self_training", p_pool_ft), ("mpt", ens)):
            if ppk == cfg.pseudo_per_k:
                row[m] = out["f1"][m]
            else:
                i, lab_ = pseudo_label(probs, ppk * k)
                row[m] = macro_f1(y_test, final_model(f"{m}@{ppk}", i, lab_).argmax(1), C)
        out["pseudo_grid"][ppk] = row
    out["pred"] = {m: p_test[m].argmax(1).astype(int).tolist() for m in ("ft", "self_training", "mpt")}
    out["wall_s"] = time.perf_counter() - t0
    return out


def task_subsets(train, test, train_subset: int, test_size: int, task: str):
    """The task's fixed train subset and test subset (the same for every K and seed)."""
    g = np.random.default_rng(sum(map(ord, task)))  # a fixed seed per task

    def cut(xs, n):
        return xs if not n or n >= len(xs) else [xs[i] for i in np.sort(g.permutation(len(xs))[:n])]

    return cut(train, train_subset), cut(test, test_size)


def run_task(backend, task: str, train, test, ks, seeds, cfg: dict, pseudo_grid=()) -> dict:
    """Every (K, seed) cell of one task (a worker job)."""
    cfg = CellConfig.from_dict(cfg)
    t0 = time.perf_counter()
    inputs = TaskInputs(backend, task, train, test, cfg)
    y_train = np.array([e.label for e in train])
    y_test = np.array([e.label for e in test])
    with autocast(inputs.device, cfg.precision):
        cells = [run_cell(inputs, k, s, y_train, y_test, pseudo_grid) for k in ks for s in seeds]
    return {"task": task, "cells": cells, "build_s": inputs.build_s,
            "build_examples_per_s": inputs.build_examples_per_s, "wall_s": time.perf_counter() - t0,
            "y_test": y_test.tolist()}


def run_grid(backend, data: dict, ks, seeds, cfg: CellConfig, workers: int = 2, threads_per_worker: int = 1,
             log=print, pseudo_grid=()) -> list[dict]:
    """``data``: task -> (train subset, test subset). One job per task, biggest test set first."""
    t0 = time.perf_counter()
    tasks = sorted(data, key=lambda t: -len(data[t][1]))
    jobs = [(backend, t, data[t][0], data[t][1], list(ks), list(seeds), asdict(cfg), tuple(pseudo_grid))
            for t in tasks]

    def done(i, r, n):
        f = {m: np.mean([c["f1"][m] for c in r["cells"]]) for m in ("ft", "prompts", "self_training", "mpt")}
        log(f"{r['task']}: {len(r['cells'])} cells in {r['wall_s']:.0f} s (inputs {r['build_s']:.0f} s); mean macro-F1 "
            + ", ".join(f"{m} {v:.3f}" for m, v in f.items()) + f" ({n}/{len(jobs)}, {time.perf_counter() - t0:.0f} s)")

    return run_in_workers(run_task, jobs, workers, threads_per_worker, done)

