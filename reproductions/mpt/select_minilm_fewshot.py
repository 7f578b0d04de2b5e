"""Few-shot dev macro-F1 of MiniLM-L6 (``plm=minilm``) against the committed in-domain MLM, on a slice that fits
one short locked job on 2 CPU cores. Writes selection_minilm_fewshot.json. Committed before it ran.

The slice (stated before running; the same for both LMs):
* tasks SciCite and SciERC (the two of select_lm_k.py's smoke slice; ACL-ARC and CSAbstruct left out for time),
* K = 8, tuning seed 0 only (never the evaluation seeds 100-107),
* dev subsets of 200 per task (select_lm_k.py uses 400), an unlabelled pool of 300 (quick: 600),
* otherwise the quick profile's cell (60 steps, lr 1e-3, soft lr 1e-2, pseudo_per_k 2, n_top 1), no pseudo-label grid,
* methods reported: prompts (the ensemble), ft, mpt, self_training (and the single templates).

What it decides: nothing about the quick profile (select_lm_k.py's committed rule chose its LM; MiniLM's cost on
2 cores puts the quick grid out of reach, selection_minilm.json). It measures whether a stronger LM changes the
few-shot picture; one seed and two tasks are a hint, not a verdict (no interval is claimed). It also times the
MiniLM cell, for the projection of the quick grid (96 cells) on 2 CPU cores.

    flock /tmp/paperlib-heavy.lock timeout 900 python reproductions/mpt/select_minilm_fewshot.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from paperlib.data.academic import load_split  # noqa: E402
from paperlib.mpt.experiment import CellConfig, run_grid, task_subsets  # noqa: E402
from paperlib.mpt.method import TrainConfig  # noqa: E402
from paperlib.mpt.plm import COMMITTED_INLM, load_inlm_checkpoint, load_minilm  # noqa: E402
from select_lm_k import QUICK  # noqa: E402

TASKS = ["scicite", "scierc"]
KS, SEEDS = [8], [0]
DEV, POOL = 200, 300
METHODS = ("ft", "manual", "soft", "mixed", "prompts", "self_training", "mpt")


def main() -> None:
    torch.manual_seed(0)
    t00 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t00:5.0f} s] {msg}", flush=True)

    data = {t: task_subsets(load_split(t, "train"), load_split(t, "dev"), QUICK["train_subset"], DEV, t) for t in TASKS}
    q = QUICK
    cfg = CellConfig(max_len=q["max_len"], train_subset=q["train_subset"], pool_size=POOL,
                     prompt=TrainConfig(steps=q["steps"], batch_size=16, lr=q["lr"], soft_lr=q["soft_lr"]),
                     ft=TrainConfig(steps=q["steps"], batch_size=16, lr=q["lr"]),
                     final=TrainConfig(steps=q["steps"], batch_size=32, lr=q["lr"]), pseudo_per_k=2, n_top=1)
    res = {"script": "reproductions/mpt/select_minilm_fewshot.py",
           "slice": {"tasks": TASKS, "ks": KS, "seeds": SEEDS, "dev_size": DEV, "pool_size": POOL,
                     "steps": q["steps"], "workers": 2, "threads_per_worker": 1}}
    for name, load in (("inlm", lambda: load_inlm_checkpoint(COMMITTED_INLM, log)), ("minilm", lambda: load_minilm(log=log))):
        backend, _ = load()
        t1 = time.perf_counter()
        out = run_grid(backend, data, KS, SEEDS, cfg, workers=2, threads_per_worker=1, log=log)
        wall = time.perf_counter() - t1
        cells = [c for r in out for c in r["cells"]]
        res[name] = {"few_shot": {f"{c['task']}/K={c['k']}/seed={c['seed']}": c["f1"] for c in cells},
                     "few_shot_mean": {m: float(np.mean([c["f1"][m] for c in cells])) for m in METHODS},
                     "grid_wall_s": wall, "cells": len(cells)}
        log(f"{name}: " + ", ".join(f"{m} {v:.3f}" for m, v in res[name]["few_shot_mean"].items()) + f"; {wall:.0f} s")
        (HERE / "selection_minilm_fewshot.json").write_text(json.dumps(res, indent=1) + "\n")
    # 2 cells ran at once on 2 workers: wall per cell-pair; the quick grid is 96 cells = 48 such pairs, but K=16/32
    # cells train the same step counts (fixed steps), so the per-cell cost carries over up to scoring
    for name in ("inlm", "minilm"):
        res[name]["projected_quick_grid_h_2cores"] = res[name]["grid_wall_s"] * 48 / 3600
    res["projection_note"] = ("a projection: this slice's wall time (2 cells on 2 workers, pool 300, dev 200) times "
                              "48 pairs of cells; the quick run's pool 600 and dev 400 make it an underestimate")
    res["wall_s"] = time.perf_counter() - t00
    (HERE / "selection_minilm_fewshot.json").write_text(json.dumps(res, indent=1) + "\n")
    log(json.dumps({n: res[n]["projected_quick_grid_h_2cores"] for n in ("inlm", "minilm")}))


if __name__ == "__main__":
    main()
