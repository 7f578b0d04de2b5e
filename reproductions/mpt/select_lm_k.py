"""Choose the quick profile's in-domain MLM and the pseudo-label rule's k, by rules stated before measuring, on
validation data (the dev splits) and a tuning seed (0; the evaluation seeds are 100-107). Writes selection.json.

The rules (committed with this script before the candidate LM was measured):

* **LM.** The candidate (``pretrain_inlm.py --epochs 6``: the committed recipe, 1.5x longer) replaces the current
  checkpoint (4 epochs) if and only if (1) its held-out MLM loss (3,000 dev-split sentences, fixed masking,
  ``pretrain_inlm.heldout_mlm_loss``) is lower, and (2) its few-shot dev macro-F1 of the prompt ensemble
  (``prompts``: the mean of the four tuned prompt models, MPT's labeller, i.e. what the LM must carry), averaged
  over the 4 tasks and K in {8, 32} at seed 0, is at least the current's. Reported beside them, not deciding:
  zero-shot dev macro-F1 of each manual template (the untuned LM) and few-shot dev macro-F1 of FT and MPT.
* **k** (per-class top-k, k = ``pseudo_per_k`` x K). With the chosen LM, ``pseudo_per_k`` in {1, 2, 4} maximising
  the dev macro-F1 averaged over the two methods that use the rule (MPT and self-training, equally), the 4 tasks
  and K in {8, 32} at seed 0; a tie goes to the smaller value. Each value's final models are trained on the same
  labellers' probabilities in the same cell (``run_cell(pseudo_grid=...)``).

Everything else is the quick profile's (train subset 2,000, pool 600, 60 steps per model, top block tuned, soft
vectors at the input); the dev subset is 400 examples per task (all of ACL-ARC's where fewer), fixed per task.

    flock /tmp/paperlib-heavy.lock python reproductions/mpt/select_lm_k.py --candidate /tmp/mpt-inlm6
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from paperlib.data.academic import LABELS, TASKS, load_split  # noqa: E402
from paperlib.mpt.experiment import CellConfig, run_grid, task_subsets  # noqa: E402
from paperlib.mpt.method import TrainConfig, macro_f1, predict_proba  # noqa: E402
from paperlib.mpt.plm import COMMITTED_INLM, load_inlm_checkpoint  # noqa: E402
from paperlib.mpt.prompts import PromptModel  # noqa: E402
from paperlib.mpt.tasks import TEMPLATES, VERBALIZERS  # noqa: E402
from pretrain_inlm import heldout_mlm_loss  # noqa: E402

KS = [8, 32]
SEEDS = [0]  # a tuning seed, disjoint from the evaluation seeds 100-107
GRID = (1, 2, 4)  # pseudo_per_k values
QUICK = dict(max_len=64, train_subset=2000, pool_size=600, dev_size=400, steps=60, lr=1e-3, soft_lr=1e-2)


def measure(folder: Path, data: dict, dev_sentences: list[str], workers: int, log) -> dict:
    backend, info = load_inlm_checkpoint(folder, log)
    res = {"folder": str(folder), "epochs": info["config"]["epochs"], "manifest_heldout_loss": info.get("heldout_loss")}
    res["heldout_loss"] = heldout_mlm_loss(backend.model, backend.vocab, dev_sentences, QUICK["max_len"])
    log(f"{folder}: held-out MLM loss {res['heldout_loss']:.4f} (manifest {res['manifest_heldout_loss']})")
    res["zero_shot"] = {}
    for t, (_, dev) in data.items():
        y = np.array([e.label for e in dev])
        for tpl in [x for x in TEMPLATES[t] if x.kind == "manual"]:
            pm = PromptModel(backend, tpl, VERBALIZERS[t], QUICK["max_len"], tune_plm=False)
            p = predict_proba(pm, [pm.fill(e.text, e.term) for e in dev])
            res["zero_shot"][f"{t}/{tpl.name}"] = macro_f1(y, p.argmax(1), len(LABELS[t]))
    backend.model.requires_grad_(True)
    res["zero_shot_mean"] = float(np.mean(list(res["zero_shot"].values())))
    log(f"zero-shot dev macro-F1, mean of {len(res['zero_shot'])}: {res['zero_shot_mean']:.4f}")
    q = QUICK
    cfg = CellConfig(max_len=q["max_len"], train_subset=q["train_subset"], pool_size=q["pool_size"],
                     prompt=TrainConfig(steps=q["steps"], batch_size=16, lr=q["lr"], soft_lr=q["soft_lr"]),
                     ft=TrainConfig(steps=q["steps"], batch_size=16, lr=q["lr"]),
                     final=TrainConfig(steps=q["steps"], batch_size=32, lr=q["lr"]), pseudo_per_k=2, n_top=1)
    out = run_grid(backend, data, KS, SEEDS, cfg, workers=workers, threads_per_worker=1, log=log, pseudo_grid=GRID)
    cells = [c for r in out for c in r["cells"]]
    res["few_shot"] = {f"{c['task']}/K={c['k']}/seed={c['seed']}": c["f1"] for c in cells}
    res["few_shot_mean"] = {m: float(np.mean([c["f1"][m] for c in cells]))
                            for m in ("ft", "manual", "soft", "mixed", "prompts", "self_training", "mpt")}
    res["pseudo_grid"] = {f"{c['task']}/K={c['k']}/seed={c['seed']}": {str(v): row for v, row in c["pseudo_grid"].items()}
                          for c in cells}
    res["pseudo_grid_mean"] = {str(v): {m: float(np.mean([c["pseudo_grid"][v][m] for c in cells]))
                                        for m in ("self_training", "mpt")} for v in GRID}
    res["pseudo_n_mean"] = {str(v): float(np.mean([c["pseudo"]["mpt" if v == 2 else f"mpt@{v}"]["n"] for c in cells]))
                            for v in GRID}
    log("few-shot dev macro-F1: " + ", ".join(f"{m} {v:.4f}" for m, v in res["few_shot_mean"].items()))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidate", type=Path, default=None,
                    help="folder of the candidate checkpoint (none: only k is chosen, on the current LM)")
    ap.add_argument("--apply", action="store_true",
                    help="apply the decisions: copy a chosen candidate into reproductions/mpt/inlm and set the "
                         "notebook's inlm_epochs and pseudo_per_k defaults")
    ap.add_argument("--current", type=Path, default=COMMITTED_INLM)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "selection.json")
    ap.add_argument("--smoke", action="store_true", help="a seconds-long check of the script (2 tasks, 2 steps)")
    a = ap.parse_args()
    tasks = TASKS
    if a.smoke:
        QUICK.update(train_subset=150, pool_size=40, dev_size=40, steps=2)
        tasks = ["scicite", "scierc"]
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t0:5.0f} s] {msg}", flush=True)

    data = {t: task_subsets(load_split(t, "train"), load_split(t, "dev"), QUICK["train_subset"], QUICK["dev_size"], t)
            for t in tasks}
    dev_sentences = list(dict.fromkeys(e.text for t in TASKS for e in load_split(t, "dev")))[:3000]
    if a.smoke:
        dev_sentences = dev_sentences[:100]
    res = {"smoke": a.smoke, "rules": __doc__.split("The rules")[1].split("Everything else")[0].strip(), "ks": KS, "seeds": SEEDS,
           "grid": list(GRID), "dev_sizes": {t: len(d[1]) for t, d in data.items()}, "quick": QUICK}
    res["current"] = measure(a.current, data, dev_sentences, a.workers, log)
    cur = res["current"]
    if a.candidate is None:
        chosen = "current"
        res["lm_decision"] = {"chosen": chosen, "note": "no candidate measured"}
    else:
        res["candidate"] = cand = measure(a.candidate, data, dev_sentences, a.workers, log)
        lower_loss = cand["heldout_loss"] < cur["heldout_loss"]
        not_worse = cand["few_shot_mean"]["prompts"] >= cur["few_shot_mean"]["prompts"]
        chosen = "candidate" if lower_loss and not_worse else "current"
        res["lm_decision"] = {"chosen": chosen, "candidate_lower_heldout_loss": lower_loss,
                              "candidate_prompts_f1_not_lower": not_worse}
    g = res[chosen]["pseudo_grid_mean"]
    score = {v: (g[str(v)]["mpt"] + g[str(v)]["self_training"]) / 2 for v in GRID}
    best = max(GRID, key=lambda v: (score[v], -v))
    res["k_decision"] = {"scores": {str(v): s for v, s in score.items()}, "pseudo_per_k": best}
    res["wall_s"] = time.perf_counter() - t0
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    log(f"LM: {chosen} " + (f"(held-out loss {cur['heldout_loss']:.4f} -> {cand['heldout_loss']:.4f}; prompts dev "
                            f"macro-F1 {cur['few_shot_mean']['prompts']:.4f} -> {cand['few_shot_mean']['prompts']:.4f})"
                            if a.candidate else "") + f"; pseudo_per_k {best} (scores {score}); written {a.out}")
    if a.apply:
        apply(a.candidate if chosen == "candidate" else None, res[chosen]["epochs"], best, log)


def apply(candidate: Path | None, epochs: float, pseudo_per_k: int, log) -> None:
    """The decisions into the repository: the chosen checkpoint in reproductions/mpt/inlm (its files as written by
    pretrain_inlm.py, SHA-256 sums in its MANIFEST.json) and the notebook's parameter defaults that must match."""
    import re
    import shutil

    if candidate is not None:
        for f in ("model.pt", "vocab.json", "MANIFEST.json"):
            shutil.copyfile(candidate / f, COMMITTED_INLM / f)
        log(f"copied {candidate} into {COMMITTED_INLM}")
    nb = HERE.parents[1] / "notebooks" / "mpt.py"
    src = nb.read_text()
    for name, value in (("inlm_epochs", float(epochs)), ("pseudo_per_k", int(pseudo_per_k))):
        src, n = re.subn(rf"^{name} = [^ ]+(  #.*)?$",
                         lambda m: f"{name} = {value}" + (m.group(1) or ""), src, count=1, flags=re.M)
        if n != 1:
            raise ValueError(f"no `{name} = ...` line in {nb}")
    nb.write_text(src)
    log(f"{nb}: inlm_epochs = {float(epochs)}, pseudo_per_k = {int(pseudo_per_k)}")


if __name__ == "__main__":
    main()
