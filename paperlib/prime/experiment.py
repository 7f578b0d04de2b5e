"""Runs of PRIME's arms over seeds, in parallel worker processes, and the measurements the
claims are computed from. The notebook calls these; the algorithm lives in ``trainer``."""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from ..nn.gpt import GPT, GPTConfig
from ..training import autocast, run_in_workers
from . import credit
from .tasks import ReasoningGymTask
from .trainer import RLConfig, train_rl


def run_job(sft_state: dict, gpt_cfg: dict, rl_cfg: dict, eval_problems: list, credit_problems: list | None,
            keep_models: bool, bank_problems: list | None = None) -> dict:
    """One arm and seed: train, evaluate, and score the credit probe (picklable in and out). The
    frozen arm returns its PRM's weights, the prime arm its bank of rollouts and PRM snapshots."""
    sft = GPT(GPTConfig(**gpt_cfg))
    sft.load_state_dict(sft_state)
    sft.eval()
    cfg = RLConfig(**rl_cfg)
    with autocast(cfg.device, cfg.precision):  # 32-true: nothing changes
        out = train_rl(sft, cfg, eval_problems, bank_problems=bank_problems)
    res = {"arm": cfg.arm, "seed": cfg.seed, "history": out["history"], "evals": out["evals"], "wall_s": out["wall_s"],
           "offline_prm": out["offline_prm"], "bank": out["bank"]}
    if cfg.arm == "prime_frozen":
        res["frozen_prm_state"] = out["prm"].state_dict()
    if credit_problems:
        res["credit"] = credit.localisation_rates(credit_problems, sft, prm=out["prm"] if cfg.arm == "prime" else None,
                                                  policy=out["policy"])
    if keep_models:
        res["policy_state"] = out["policy"].state_dict()
        res["prm_state"] = None if out["prm"] is None else out["prm"].state_dict()
    return res


def run_all(sft: GPT, jobs: list[RLConfig], eval_problems: list, credit_problems=None,
            workers: int = 2, threads_per_worker: int = 1, keep_models_of=(), log=print,
            bank_problems=None) -> list[dict]:
    """Every job (an ``RLConfig``) in ``workers`` processes; results in job order.
    ``keep_models_of``: (arm, seed) pairs whose trained weights are returned."""
    state = {k: v.cpu() for k, v in sft.state_dict().items()}
    gpt_cfg = asdict(sft.cfg)
    args = [(state, gpt_cfg, asdict(j), eval_problems, credit_problems, (j.arm, j.seed) in keep_models_of,
             bank_problems) for j in jobs]
    t0 = time.time()

    def done(i, r, n):
        log(f"{r['arm']} seed {r['seed']}: final train acc {np.mean(r['history']['train_acc'][-10:]):.3f}, "
            f"{r['wall_s']:.0f} s ({n}/{len(jobs)} runs, {time.time() - t0:.0f} s)")

    return run_in_workers(run_job, args, workers, threads_per_worker, done)


_LMS: dict = {}  # the pretrained LM of this process, loaded once (each run deep-copies it)


def pretrained_lm(name: str, device: str = "cpu", log=print):
    """The chat LM ``name`` (``paperlib.nn.hf.load_causal_lm``: "smollm2" offline, or a hub id) in float32
    on ``device``, loaded once per process. Float32 master weights: PRIME's learning rates (1e-6 and below)
    are lost in bfloat16 weights; bf16 comes from autocast (``lm_precision``)."""
    from ..nn.hf import load_causal_lm

    key = (name, str(device))
    if key not in _LMS:
        import torch

        _LMS[key] = load_causal_lm(name, device=device, dtype=torch.float32, log=log)
    return _LMS[key]


def autocast_for(device: str, precision: str):
    """The autocast context of a run: ``precision`` "bf16-mixed" (float32 weights, bfloat16 matmuls) or
    "32"; "auto" is bf16-mixed on CUDA, 32 elsewhere."""
    import contextlib

    import torch

    if precision == "auto":
        precision = "bf16-mixed" if torch.device(device).type == "cuda" else "32"
    if precision == "32":
        return contextlib.nullcontext()
    if precision != "bf16-mixed":
        raise ValueError(f"unknown precision {precision!r}; valid: auto, bf16-mixed, 32")
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def run_lm_job(lm_name: str, lm_task: str, task_config: dict, rl_cfg: dict, eval_problems: list,
               precision: str = "auto", bank_problems: list | None = None) -> dict:
    """One arm and seed on a pretrained chat LM (picklable in and out): the LM is policy init, PRM init
    and reference (no SFT, as the paper initialises all three from one model); the task is reasoning-gym's
    ``lm_task`` with generator ``task_config``. Returns as ``run_job`` (no credit probe: it reads the
    small GPT's worked-solution format), with the PRM's weights for the frozen arm."""
    cfg = RLConfig(**rl_cfg)
    lm = pretrained_lm(lm_name, cfg.device)
    task = ReasoningGymTask(lm, lm_task, **task_config)
    with autocast_for(cfg.device, precision):
        out = train_rl(lm, cfg, eval_problems, bank_problems=bank_problems, task=task)
    res = {"arm": cfg.arm, "seed": cfg.seed, "history": out["history"], "evals": out["evals"], "wall_s": out["wall_s"],
           "offline_prm": out["offline_prm"], "bank": out["bank"]}
    if cfg.arm == "prime_frozen":
        res["frozen_prm_state"] = out["prm"].state_dict()
    return res


def run_all_lm(lm_name: str, lm_task: str, task_config: dict, jobs: list[RLConfig], eval_problems: list,
               precision: str = "auto", workers: int = 1, threads_per_worker: int = 1, log=print,
               bank_problems=None) -> list[dict]:
    """``run_lm_job`` for every job, in ``workers`` processes (1: here, one after another); job order."""
    args = [(lm_name, lm_task, task_config, asdict(j), eval_problems, precision, bank_problems) for j in jobs]
    t0 = time.time()

    def done(i, r, n):
        log(f"{r['arm']} seed {r['seed']}: final train acc {np.mean(r['history']['train_acc'][-10:]):.3f}, "
            f"{r['wall_s']:.0f} s, {len(r['history']['step']) / r['wall_s']:.3f} steps/s ({n}/{len(jobs)} runs, "
            f"{time.time() - t0:.0f} s)")

    return run_in_workers(run_lm_job, args, workers, threads_per_worker, done)


def smoothed(x, window: int) -> np.ndarray:
    """Trailing mean over ``window`` steps (shorter at the start)."""
    x = np.asarray(x, float)
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def steps_to_reach(curve, target: float, window: int) -> int | None:
    """First step count t (1-based) at which the trailing mean of ``curve`` reaches ``target``."""
    s = smoothed(curve, window)
    hit = np.nonzero(s >= target)[0]
    return int(hit[0]) + 1 if len(hit) else None


def sample_efficiency_ratio(prime_acc, rloo_acc, window: int) -> tuple[float, bool]:
    """(Superseded by ``first_hit_ratio``.) Steps PRIME needs to reach RLOO's final training accuracy
    divided by RLOO's whole number of steps T; not reached: (1 + 1/T, False)."""
    T = len(rloo_acc)
    target = float(np.mean(rloo_acc[-window:]))
    t = steps_to_reach(prime_acc, target, window)
    return ((t / T, True) if t is not None else (1.0 + 1.0 / T, False))


def first_hit_ratio(arm_acc, rloo_acc, window: int) -> dict:
    """C1's sample efficiency with the same statistic for both arms: the reference accuracy is RLOO's
    final training accuracy (mean of its last ``window`` steps, same seed); each arm's first-hit time
    is the first step at which its trailing ``window``-step mean reaches the reference; the ratio is
    the arm's first-hit time over RLOO's (RLOO always reaches it, at step T at the latest). An arm
    that never reaches it is censored at T + 1 (more steps than the run had).
    Returns {ratio, t_arm, t_rloo, reference, reached}."""
    T = len(rloo_acc)
    if len(arm_acc) != T or T < window or window < 1:
        raise ValueError(f"need two curves of the same length >= window ({len(arm_acc)}, {T}, window {window})")
    ref = float(np.mean(np.asarray(rloo_acc, float)[-window:]))
    t_rloo = steps_to_reach(rloo_acc, ref - 1e-12, window)
    t_arm = steps_to_reach(arm_acc, ref - 1e-12, window)
    reached = t_arm is not None
    t_arm = t_arm if reached else T + 1
    return {"ratio": t_arm / t_rloo, "t_arm": t_arm, "t_rloo": t_rloo, "reference": ref, "reached": reached}


def area_under_curve(acc) -> float:
    """Area under a per-step accuracy curve, per step (the mean accuracy over training)."""
    x = np.asarray(acc, float)
    if not len(x):
        raise ValueError("empty accuracy curve")
    return float(x.mean())


def bank_pairwise_accuracy(prm_state: dict, ref: GPT, bank_parts: list[dict], n_samples: int) -> list[float]:
    """A PRM's pairwise accuracy (the official ``dpo_acc`` of the summed q) on each part of a fixed
    bank of rollouts (``trainer.draw_bank``); ``prm_state`` are the PRM's weights, ``ref`` the SFT model
    (or the pretrained LM)."""
    import copy

    import torch

    from ..nn.gpt import response_log_probs
    from .prm import implicit_process_reward, pairwise_accuracy

    prm = copy.deepcopy(ref)
    prm.load_state_dict(prm_state)
    prm.eval()
    out = []
    with torch.no_grad():
        for part in bank_parts:
            t, m, P = part["tokens"], part["mask"], part["prompt_len"]
            rm = m[:, P:].float()
            q = implicit_process_reward(response_log_probs(prm, t, m, P), response_log_probs(ref, t, m, P), rm)
            out.append(pairwise_accuracy(q, part["acc"], rm, n_samples))
    return out


def early_late_change(x, frac: float = 0.25) -> float:
    """Mean of the last ``frac`` of a per-step series minus the mean of its first ``frac`` (NaNs skipped)."""
    x = np.asarray(x, float)
    k = max(1, int(len(x) * frac))
    early, late = x[:k][~np.isnan(x[:k])], x[-k:][~np.isnan(x[-k:])]
    return float(late.mean() - early.mean()) if len(early) and len(late) else float("nan")
