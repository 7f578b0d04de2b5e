"""Runs of PRIME's arms over seeds, in parallel worker processes, and the measurements the
claims are computed from. The notebook calls these; the algorithm lives in ``trainer``."""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from ..nn.gpt import GPT, GPTConfig
from ..training import run_in_workers
from . import credit
from .trainer import RLConfig, train_rl


def run_job(sft_state: dict, gpt_cfg: dict, rl_cfg: dict, eval_problems: list, credit_problems: list | None,
            keep_models: bool, bank_problems: list | None = None) -> dict:
    """One arm and seed: train, evaluate, and score the credit probe (picklable in and out). The
    frozen arm returns its PRM's weights, the prime arm its bank of rollouts and PRM snapshots."""
    sft = GPT(GPTConfig(**gpt_cfg))
    sft.load_state_dict(sft_state)
    sft.eval()
    cfg = RLConfig(**rl_cfg)
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
    bank of rollouts (``trainer.draw_bank``); ``prm_state`` are the PRM's weights, ``ref`` the SFT model."""
    import torch

    from ..nn.gpt import response_log_probs
    from .prm import implicit_process_reward, pairwise_accuracy

    prm = GPT(ref.cfg)
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
