"""A-LoL's runs over tasks, methods and seeds in worker processes (the notebook calls these)."""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from ..nn.gpt import GPT, GPTConfig
from ..training import run_in_workers
from .reference import ReferenceConfig, train_reference
from .tasks import get_task
from .trainer import OfflineConfig, distinct_n, greedy_outputs, sampled_outputs, train_offline


def evaluate_policy(model, task, problems, seed: int, samples: int) -> dict:
    """Greedy and sampled test rewards of ``model`` on ``problems``: the greedy output of each prompt,
    and ``samples`` temperature-1 samples of each (the paper reports sampled generations); the
    diversity measures read the samples (distinct-n over all of them) and the greedy outputs."""
    outs = greedy_outputs(model, task, problems)
    rep = [p for p in problems for _ in range(samples)]
    sampled = sampled_outputs(model, task, rep, seed=seed)
    words = task.name != "arithmetic"
    return {"test_reward": float(np.mean([task.reward(p, o) for p, o in zip(problems, outs)])),
            "sample_reward": float(np.mean([task.reward(p, o) for p, o in zip(rep, sampled)])),
            "distinct2": distinct_n(sampled, 2, words), "distinct3": distinct_n(sampled, 3, words),
            "distinct2_greedy": distinct_n(outs, 2, words), "outputs": outs}


def run_job(task_name: str, ref_state: dict, gpt_cfg: dict, data, advantages, dev_problems, test_problems,
            cfg: dict, samples: int = 4) -> dict:
    task = get_task(task_name)
    ref = GPT(GPTConfig(**gpt_cfg))
    ref.load_state_dict(ref_state)
    ref.eval()
    c = OfflineConfig(**cfg)
    out = train_offline(ref, task, data, c, dev_problems, advantages)
    sel = evaluate_policy(out["policy"], task, test_problems, 1000 + c.seed, samples)
    final = greedy_outputs(out["final_policy"], task, test_problems)
    moved = max(float((p1 - p0).detach().abs().max()) for p0, p1 in zip(ref.parameters(), out["final_policy"].parameters()))
    return {"method": c.method, "seed": c.seed, **{k: v for k, v in sel.items() if k != "outputs"},
            "final_test_reward": float(np.mean([task.reward(p, o) for p, o in zip(test_problems, final)])),
            "weights_moved": moved, "history": out["history"],
            "data_used": out["data_used"], "steps": out["steps"], "best_step": out["best_step"],
            "wall_s": out["wall_s"], "example_outputs": sel["outputs"][:3], "outputs": sel["outputs"]}


def run_all(jobs: list[tuple], workers: int = 2, threads_per_worker: int = 1, log=print, samples: int = 4) -> list[dict]:
    """``jobs``: (split name, task, ref GPT, OfflineData, advantages, dev problems, test problems,
    OfflineConfig). Results in job order, each with its split name."""
    t0 = time.time()
    args = [(split, (task.name, {k: v.cpu() for k, v in ref.state_dict().items()}, asdict(ref.cfg), data, adv, dev,
                     test, asdict(c), samples))
            for split, task, ref, data, adv, dev, test, c in jobs]

    def done(i, r, n):
        r["split"] = args[i][0]
        log(f"{r['split']}: {r['method']} seed {r['seed']}: test reward {r['test_reward']:.3f}, "
            f"{r['wall_s']:.0f} s ({n}/{len(jobs)}, {time.time() - t0:.0f} s)")

    return run_in_workers(run_job, [a for _, a in args], workers, threads_per_worker, done)


def _reference_job(task_name: str, data, cfg: dict, data_key: str) -> tuple:
    task = get_task(task_name)
    model, info = train_reference(task, data, ReferenceConfig(**cfg), data_key, log=lambda *_: None)
    return {k: v.cpu() for k, v in model.state_dict().items()}, asdict(model.cfg), info


def train_references(specs: list[tuple], workers: int = 2, threads_per_worker: int = 1, log=print) -> dict:
    """pi_ref of each split, trained (or loaded from the code-versioned cache) in worker processes.
    ``specs``: (split name, task name, OfflineData, ReferenceConfig, data key). Returns
    {split: (GPT in eval mode, info)}."""
    t0 = time.time()

    def done(i, r, n):
        info = r[2]
        how = "loaded from cache" if info.get("cached") else f"trained in {info['train_s']:.0f} s"
        log(f"pi_ref ({specs[i][0]}) {how} ({n}/{len(specs)}, {time.time() - t0:.0f} s)")

    out = run_in_workers(_reference_job, [(t, d, asdict(c), k) for _, t, d, c, k in specs], workers,
                         threads_per_worker, done)
    refs = {}
    for (name, *_), (state, gcfg, info) in zip(specs, out):
        model = GPT(GPTConfig(**gcfg))
        model.load_state_dict(state)
        refs[name] = (model.eval(), info)
    return refs
