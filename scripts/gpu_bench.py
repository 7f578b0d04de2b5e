"""A few real optimisation steps of each paper's full-profile model on a GPU: steps/s, peak GPU memory, and the
projected time of the whole full profile (called by scripts/gpu_check.sh; ``--device cpu --steps 1`` runs the same
code on a CPU, which the tests use).

Each benchmark builds the full profile's model at its size (profiles.yaml ``full``) with the same code the notebook
uses, times ``--steps`` steps after one warm-up step, and multiplies the time per step by the number of such steps
the full profile runs (``work``: spelled out next to each formula, from profiles.yaml and the notebook's defaults).
The projection counts the training steps only (evaluation, attacks at test time and data preparation come on top),
so it is a lower bound; a profile's ``resources.hours`` should be set from it with that margin.

    python scripts/gpu_bench.py [--papers compsum prime ...] [--steps 5] [--device cuda] [--out results.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(step, steps: int, dev) -> float:
    """Seconds per step of ``step()`` over ``steps`` calls, after one warm-up call."""
    step()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(dev)
    return (time.perf_counter() - t0) / steps


def bench_compsum(dev, steps, precision):
    """PGD-10 adversarial training step of PreAct ResNet-18 on a CIFAR batch of 128 (the paper's set-up)."""
    from paperlib.compsum.adversarial import pgd_attack
    from paperlib.nn.preact_resnet import preact_resnet18

    model = preact_resnet18(10).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x, y = torch.rand(128, 3, 32, 32, device=dev), torch.randint(0, 10, (128,), device=dev)

    def step():
        with _autocast(dev, precision):
            xa = pgd_attack(model, x, y, 8 / 255, 2 / 255, 10)
            loss = torch.nn.functional.cross_entropy(model(xa), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    work = 3 * 9 * 100 * (50_000 // 128 + 1)  # seeds x arms x epochs x steps per epoch (profiles.yaml full)
    return _timed(step, steps, dev), work, "3 seeds x 9 arms x 100 epochs x 391 PGD-10 steps"


def bench_prime(dev, steps, precision):
    """One PRIME RL step (64 prompts x 4 rollouts of up to 128 tokens, 4 PRM + 4 policy mini-batches) of the full
    profile's 6 x 256 GPT, untrained (it never stops early: the longest rollouts)."""
    from paperlib.nn.gpt import GPT
    from paperlib.prime.sft import SFTConfig
    from paperlib.prime.trainer import RLConfig, train_rl
    from paperlib.training import autocast

    sft = GPT(SFTConfig(n_layer=6, n_head=8, n_embd=256, block_size=128).gpt_config()).eval()
    cfg = RLConfig(arm="prime", steps=steps + 1, batch_prompts=64, n_samples=4, acc_low=0.0, acc_high=1.0,
                   max_fill_rounds=1, max_new_tokens=128, device=str(dev), precision=precision)
    with autocast(dev, precision):
        out = train_rl(sft, cfg)
    sec = out["history"]["sec"][1:]
    return sum(sec) / len(sec), 5 * 4 * 400, "5 seeds x 4 arms x 400 RL steps (SFT and evaluation on top)"


def bench_alol(dev, steps, precision):
    """An offline-training step (batch 16, 96 tokens) of the full profile's 6 x 128 GPT."""
    from paperlib.nn.gpt import GPT, GPTConfig

    model = GPT(GPTConfig(vocab_size=64, block_size=128, n_layer=6, n_head=4, n_embd=128)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
    tok = torch.randint(1, 64, (16, 96), device=dev)

    def step():
        with _autocast(dev, precision):
            logits = model(tok[:, :-1], tok[:, :-1] != 0)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 64).float(), tok[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    work = 5 * 22 * 1200 + 4 * 1_200_000 // 64  # seeds x method runs x steps + 4 references of 1.2M rows at batch 64
    return _timed(step, steps, dev), work, "5 seeds x 22 method runs x 1,200 steps + 4 references (1.2M rows, batch 64)"


def bench_mpt(dev, steps, precision):
    """A whole-LM tuning step of a BERT-base MLM of SciBERT's size (12 x 768, 31,090 words; random weights: the
    same cost), batch 16 x 128 tokens."""
    from transformers import BertConfig, BertForMaskedLM

    model = BertForMaskedLM(BertConfig(vocab_size=31_090)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    ids = torch.randint(5, 31_090, (16, 128), device=dev)

    def step():
        with _autocast(dev, precision):
            loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    per_cell = 250 + 4 * 250 + 2 * 1000  # FT + 4 prompt models + MPT's and self-training's final tuning
    work = 4 * 3 * 5 * per_cell  # tasks x K x seeds
    return _timed(step, steps, dev), work, "4 tasks x 3 K x 5 seeds x (250 + 4 x 250 + 2 x 1,000) steps"


def bench_rnafm(dev, steps, precision):
    """A pretraining step of the paper-scale RNA-FM (12 x 640) on 65,536 tokens (crop 1,022), bf16 autocast."""
    from paperlib.rnafm.mlm import mask_tokens, mlm_loss
    from paperlib.rnafm.model import RNAFM, RNAFMConfig, encode

    model = RNAFM(RNAFMConfig()).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    g = torch.Generator().manual_seed(0)
    seqs = ["".join("ACGU"[i] for i in torch.randint(0, 4, (1022,), generator=g).tolist()) for _ in range(64)]
    toks = encode(seqs)
    inputs, targets = mask_tokens(toks, g)
    inputs, targets = inputs.to(dev), targets.to(dev)

    def step():
        with _autocast(dev, precision):
            loss = mlm_loss(model, inputs, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    work = 100_000_000 // (64 * 1022)  # the paper scale's 100M tokens at 64 x 1,022 tokens a step
    return _timed(step, steps, dev), work, "pretraining: 100M tokens / 65k tokens a step (probes on top)"


def _autocast(dev, precision):
    from paperlib.training import autocast

    return autocast(dev, precision)


BENCHES = {"compsum": bench_compsum, "prime": bench_prime, "alol": bench_alol, "mpt": bench_mpt, "rnafm": bench_rnafm}
CPU_ONLY = {"funbat": "runs on CPU cores (profiles.yaml resources: gpus 0); `paperlib check funbat` covers it"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", nargs="*", default=[*BENCHES, *CPU_ONLY])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precision", default="bf16-mixed", help="32-true | bf16-mixed (the full profiles')")
    ap.add_argument("--out", help="write the rows as JSON here")
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("gpu_bench: no CUDA GPU visible to torch (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    rows, failed = [], []
    print(f"{'paper':8s} {'s/step':>8s} {'steps/s':>8s} {'peak GiB':>8s} {'projected h':>11s}  work", flush=True)
    for p in a.papers:
        if p in CPU_ONLY:
            print(f"{p:8s} {'-':>8s} {'-':>8s} {'-':>8s} {'-':>11s}  {CPU_ONLY[p]}", flush=True)
            continue
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        try:
            sec, work, what = BENCHES[p](dev, a.steps, a.precision)
        except Exception as err:  # report every paper, then fail
            failed.append(p)
            print(f"{p:8s} FAILED: {type(err).__name__}: {err}", flush=True)
            continue
        peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
        row = {"paper": p, "sec_per_step": sec, "steps_per_s": 1 / sec, "peak_gib": peak, "work_steps": work,
               "projected_hours": sec * work / 3600, "work": what, "device": str(dev), "precision": a.precision,
               "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}
        rows.append(row)
        print(f"{p:8s} {sec:8.3f} {1 / sec:8.2f} {peak:8.2f} {row['projected_hours']:11.1f}  {what}", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
