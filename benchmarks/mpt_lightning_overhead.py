"""What MPT's many small fits would cost through the shared Lightning trainer, against its hand-written loop.

MPT's quick profile makes about 670 fits (96 cells x 7 models: FT, 4 prompt models, 2 final models) of 60 steps
each on the committed 4 x 128 in-domain MLM, its top block tuned over cached features. This script times one fit of
each kind the quick profile makes, with the hand-written loop :func:`paperlib.mpt.method.train` had and with
``train`` as it is now, through the shared Lightning trainer (same batches, optimiser, schedule, clipping; it checks
that the weights come out bitwise equal), and projects the extra wall time onto the quick profile's committed run
(the fits are what Lightning changes; data, scoring and pretraining are not timed).

    .venv/bin/python benchmarks/mpt_lightning_overhead.py [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np
import torch

from paperlib.mpt.cached import FrozenBottom, TopClassifier, TopPromptModel, bottom_features
from paperlib.mpt.method import TrainConfig, train
from paperlib.mpt.prompts import Filled
from paperlib.nn.bert import BertConfig, BertMLM

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=None)
def _reference_loops():
    """``tests/test_lightning_loops.py``, which keeps the hand-written loops the Lightning ones replaced (the
    exactness reference); loaded by path, since tests/ is not a package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lightning_loops_reference", ROOT / "tests" / "test_lightning_loops.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def train_hand_written(model, filled, labels, cfg: TrainConfig) -> dict:
    """The hand-written loop :func:`paperlib.mpt.method.train` had before it went through Lightning."""
    return _reference_loops()._old_mpt_train(model, filled, labels, cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    lm = BertMLM(BertConfig(16000, 64, 4, 4, 128, 0.1)).eval()  # the committed in-domain MLM's shape

    class Backend:  # the parts of OwnBertBackend that cached.py reads
        model, pad_id = lm, 0

    backend = Backend()
    frozen = FrozenBottom(lm, 1)
    rs = np.random.default_rng(0)
    n, C = 48, 3  # K = 16 per class, 3 classes (SciCite)
    plain = [Filled([2] + rs.integers(10, 16000, int(t)).tolist() + [4, 3], [], int(t) + 1)
             for t in rs.integers(20, 55, n)]
    soft = [Filled([2, 0, 0, 0, 0] + f.ids[1:-3] + [0, 0, 0, 0, 4, 3], [1, 2, 3, 4, len(f.ids) + 1, len(f.ids) + 2,
                                                                        len(f.ids) + 3, len(f.ids) + 4],
                   len(f.ids) + 5) for f in plain]
    items_plain = bottom_features(backend, plain, 1)
    items_soft = bottom_features(backend, soft, 1)
    labels = rs.integers(0, C, n)
    kinds = {
        "ft (classifier, cached)": (lambda: TopClassifier(backend, 1, C, "mean", frozen), items_plain, 16, 2),
        "final (classifier, batch 32)": (lambda: TopClassifier(backend, 1, C, "mean", frozen), items_plain, 32, 2),
        "manual prompt (cached)": (lambda: TopPromptModel(backend, 1, 0, [[5], [6], [7]], 0, frozen), items_plain, 16, 2),
        "soft prompt (live bottom)": (lambda: TopPromptModel(backend, 1, 8, [[5], [6], [7]], 0, frozen), items_soft, 16, 2),
    }
    per_cell = {"ft (classifier, cached)": 1, "final (classifier, batch 32)": 2, "manual prompt (cached)": 2,
                "soft prompt (live bottom)": 2}
    print(f"one fit of 60 steps per kind, {a.threads} thread(s), best of {a.repeats}; hand-written vs Lightning")
    extra_cell, plain_cell = 0.0, 0.0
    for name, (make, items, bs, _) in kinds.items():
        cfg = TrainConfig(steps=60, batch_size=bs, lr=1e-3, soft_lr=1e-2, seed=3)
        t_old, t_new = [], []
        for _ in range(a.repeats):
            torch.manual_seed(1)
            m_old = make()
            t = time.perf_counter()
            r_old = train_hand_written(m_old, items, labels, cfg)
            t_old.append(time.perf_counter() - t)
            torch.manual_seed(1)
            m_new = make()
            t = time.perf_counter()
            r_new = train(m_new, items, labels, cfg)
            t_new.append(time.perf_counter() - t)
            assert r_new["loss"] == r_old["loss"], (name, r_old["loss"][:3], r_new["loss"][:3])
            assert all(torch.equal(u, v) for u, v in zip(m_old.state_dict().values(), m_new.state_dict().values()))
        o, w = min(t_old), min(t_new)
        extra_cell += per_cell[name] * (w - o)
        plain_cell += per_cell[name] * o
        print(f"{name:<30}: hand-written {o:5.2f} s, Lightning {w:5.2f} s, {w - o:+.3f} s a fit ({100 * (w / o - 1):+.0f}%);"
              " weights bitwise equal")
    committed = json.loads((ROOT / "reproductions/mpt/results/quick/results.json").read_text())
    wall, workers = committed["manifest"]["wall_s"], committed["params"].get("workers", 2)
    cells = len(committed["params"]["seeds"]) * len(committed["params"]["tasks"]) * len(committed["params"]["ks"])
    add = cells * extra_cell / workers
    print(f"a cell's 7 fits: hand-written {plain_cell:.1f} s, Lightning {plain_cell + extra_cell:.1f} s "
          f"({100 * extra_cell / plain_cell:+.0f}% of the fitting time)")
    print(f"projected onto the committed quick run ({wall:.0f} s, {cells} cells, {workers} workers): "
          f"+{add:.0f} s = {100 * add / wall:+.0f}% of its wall time")


if __name__ == "__main__":
    main()
