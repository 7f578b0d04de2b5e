"""SmolLM2-135M-Instruct through paperlib.nn.hf on this machine: load time (from the GGUF, then from
the paperlib cache), sampling throughput with the KV cache (new tokens/s) on chat-formatted
reasoning-gym prompts, per-token log-prob throughput (no-grad forward, and forward + backward as a
policy update does), and the greedy accuracy of those rollouts under the verifier (a first look at the
starting accuracy an RL run would see; a handful of prompts, not an evaluation).

    .venv/bin/python benchmarks/lm_adapter.py [--threads 2] [--batch 8] [--new 96] [--device cpu]

Printed output of a run on the project's 2-core CPU: benchmarks/results/lm_adapter.txt.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

from paperlib.data import reasoning as R
from paperlib.nn.hf import load_causal_lm


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8, help="prompts per batch")
    ap.add_argument("--new", type=int, default=96, help="max new tokens per response")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-cold", action="store_true", help="do not time the load from the GGUF")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} threads, {platform.processor() or platform.machine()}, "
          f"device {a.device}")

    if not a.skip_cold:
        t0 = time.perf_counter()
        load_causal_lm("smollm2", device=a.device, use_cache=False, log=lambda *_: None)
        print(f"load from GGUF (dequantise + write cache): {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    lm = load_causal_lm("smollm2", device=a.device, log=lambda *_: None)
    print(f"load from the paperlib cache: {time.perf_counter() - t0:.1f} s; {lm.num_params() / 1e6:.1f} M params, "
          f"dtype {next(lm.parameters()).dtype}, eos {lm.eos_id}, pad {lm.pad_id}")

    for name, cfg in (("chain_sum", dict(min_terms=3, max_terms=4, min_digits=1, max_digits=2)),
                      ("gsm_symbolic", {})):
        task = R.ReasoningTask(lm, name, max_new_tokens=a.new)
        problems = R.make_problems(name, a.batch, seed=0, **cfg)
        x, xm, P = task.encode_batch([p.prompt for p in problems])
        for greedy in (True, False):
            sync(a.device)
            t0 = time.perf_counter()
            tokens, mask = lm.generate(x, xm, a.new, greedy=greedy, generator=torch.Generator().manual_seed(0),
                                       banned_ids=(task.BOS,))
            sync(a.device)
            dt = time.perf_counter() - t0
            n_new = int(mask[:, P:].sum())
            acc = sum(task.reward(p, task.decode(tokens[i, P:])) for i, p in enumerate(problems)) / len(problems)
            print(f"{name}: {'greedy ' if greedy else 'sampled'} batch {a.batch} x prompt {P} tok: {n_new} new tokens "
                  f"in {dt:.1f} s = {n_new / dt:.1f} tok/s (longest {tokens.shape[1] - P}); verifier accuracy {acc:.2f}")
        print(f"  e.g. {problems[0].question[:70]!r} -> {task.decode(tokens[0, P:])[:160]!r}")
        # per-token log-probs of the sampled rollouts
        n_resp = int(mask[:, P:].sum())
        n_all = int(mask.sum())
        with torch.no_grad():
            sync(a.device)
            t0 = time.perf_counter()
            lm.response_log_probs(tokens, mask, P)
            sync(a.device)
            dt = time.perf_counter() - t0
        print(f"  log-probs, no grad: {n_resp} response tokens ({n_all} with prompts) in {dt:.2f} s = "
              f"{n_resp / dt:.0f} response tok/s")
        lm.train()
        sync(a.device)
        t0 = time.perf_counter()
        lp = lm.response_log_probs(tokens, mask, P)
        (-(lp * mask[:, P:]).sum() / n_resp).backward()
        sync(a.device)
        dt = time.perf_counter() - t0
        lm.zero_grad(set_to_none=True)
        lm.eval()
        print(f"  log-probs, forward + backward: {dt:.2f} s = {n_resp / dt:.0f} response tok/s")


if __name__ == "__main__":
    main()
