"""A-LoL's runs over tasks, methods and seeds in worker processes (the notebook calls these)."""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from ..nn.gpt import GPT, GPTConfig
from ..training import run_in_workers
from .tasks import get_task
from .trainer import OfflineConfig, distinct_n, greedy_outputs, sampled_outputs, train_offline


def run_job(task_name: str, ref_state: dict, gpt_cfg: dict, data, advantages, dev_problems, test_problems,
            cfg: dict) -> dict:
    task = get_task(task_name)
    ref = GPT(GPTConfig(**gpt_cfg))
    ref.load_state_dict(ref_state)
    ref.eval()
    c = OfflineConfig(**cfg)
    out = train_offline(ref, task, data, c, dev_problems, advantages)
    outs = greedy_outputs(out["policy"], task, test_problems)
    rewards = [task.reward(p, o) for p, o in zip(test_problems, outs)]
    words = task_name != "arithmetic"
    # diversity of the policy: one temperature-1 sample per test prompt (the review task has only 8 distinct
    # prompts, so greedy outputs can differ at most 8 ways); greedy diversity is kept alongside
    samples = sampled_outputs(out["policy"], task, test_problems, seed=1000 + c.seed)
    return {"method": c.method, "seed": c.seed, "test_reward": float(np.mean(rewards)),
            "sample_reward": float(np.mean([task.reward(p, o) for p, o in zip(test_problems, samples)])),
            "distinct2": distinct_n(samples, 2, words), "distinct3": distinct_n(samples, 3, words),
            "distinct2_greedy": distinct_n(outs, 2, words), "history": out["history"],
            "data_used": out["data_used"], "steps": out["steps"], "best_step": out["best_step"],
            "wall_s": out["wall_s"], "example_outputs": outs[:3], "outputs": outs}


def run_all(jobs: list[tuple], workers: int = 2, threads_per_worker: int = 1, log=print) -> list[dict]:
    """``jobs``: (split name, task, ref GPT, OfflineData, advantages, dev problems, test problems,
    OfflineConfig). Results in job order, each with its split name."""
    t0 = time.time()
    args = [(split, (task.name, {k: v.cpu() for k, v in ref.state_dict().items()}, asdict(ref.cfg), data, adv, dev,
                     test, asdict(c)))
            for split, task, ref, data, adv, dev, test, c in jobs]

    def done(i, r, n):
        r["split"] = args[i][0]
        log(f"{r['split']}: {r['method']} seed {r['seed']}: test reward {r['test_reward']:.3f}, "
            f"{r['wall_s']:.0f} s ({n}/{len(jobs)}, {time.time() - t0:.0f} s)")

    return run_in_workers(run_job, [a for _, a in args], workers, threads_per_worker, done)
