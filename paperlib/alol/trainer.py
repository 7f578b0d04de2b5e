"""Offline training of a policy on (x, y, R) data with A-LoL or a baseline, as the official
``lolrl_qlora_llama_hh.py`` runs it:

* the reference pi_ref is the model trained by NLL on the offline data; every method starts from it;
* A-LoL variants: A = R - V_ref(x) per example, negative-advantage examples dropped, batches drawn
  with replacement in proportion to A+ (``good_priority``). The official code also scales the step
  budget by the fraction of data with A > 0 (``max_steps = 9000 * positive_ratio``); here every
  method gets the same number of steps by default (``scale_steps=False``: priority sampling changes
  which examples a step sees, not how many steps there are), so that a comparison is not decided
  by budget;
* wNLL, R-GOLD, R-LoL: batches drawn in proportion to the reward; NLL and DPO: uniform;
* optimiser as the official ``lolrl_qlora_llama_hh.py``: AdamW, learning rate 2e-4 constant,
  weight decay 0, eps 1e-6, gradients clipped to norm 0.3;
* model selection: greedy outputs on the dev prompts scored by the reward every ``eval_every``
  steps, the best of the run's own checkpoints kept. pi_ref (step 0) is not a candidate, so a
  run that collapses is reported as collapsed, not as the reference; the last checkpoint is
  returned too (``final_policy``).
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..nn.gpt import GPT, generate, response_log_probs
from .data import OfflineData
from .losses import METHODS, alol_loss, dpo_loss

ALL_METHODS = METHODS + ("dpo",)
SAMPLING = {"nll": "uniform", "dpo": "uniform", "wnll": "reward", "r_gold": "reward", "r_lol": "reward",
            "a_lol": "advantage", "a_lol_seq": "advantage", "a_lol_kl": "advantage", "a_lol_ref_free": "advantage"}


@dataclass
class OfflineConfig:
    method: str = "a_lol"
    steps: int = 300  # optimizer steps (every method; times the positive fraction when scale_steps)
    batch_size: int = 16
    lr: float = 2e-4  # official: AdamW 2e-4, constant
    eps: float = 0.9  # ratio clamp [1 - eps, 1 + eps]
    kl_beta: float = 0.2
    dpo_beta: float = 0.1
    grad_clip: float = 0.3  # official max_grad_norm
    scale_steps: bool = False  # True: A-LoL variants' steps *= fraction of data with A > 0 (official schedule)
    eval_every: int = 50
    seed: int = 0
    device: str = "cpu"  # where the policy and the reference live (experiment.run_job moves them)
    precision: str = "32-true"  # or bf16-mixed: forward passes under autocast (experiment.run_job)

    def __post_init__(self):
        if self.method not in ALL_METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid: {ALL_METHODS}")


def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def greedy_outputs(model: GPT, task, problems, batch: int = 256) -> list[str]:
    model.eval()
    out = []
    for i in range(0, len(problems), batch):
        x, xm, P = task.encode_batch([p.prompt for p in problems[i:i + batch]])
        x, xm = x.to(_device(model)), xm.to(_device(model))
        toks, _ = generate(model, x, xm, task.max_new_tokens, task.EOS, pad_id=task.PAD, greedy=True,
                           banned_ids=(task.BOS,))
        out += [task.decode(t[P:].tolist()) for t in toks]
    return out


@torch.no_grad()
def sampled_outputs(model: GPT, task, problems, seed: int, temperature: float = 1.0, batch: int = 256) -> list[str]:
    """One sample per prompt at ``temperature`` (seeded); pass a prompt k times for k samples."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(problems), batch):
        x, xm, P = task.encode_batch([p.prompt for p in problems[i:i + batch]])
        x, xm = x.to(_device(model)), xm.to(_device(model))
        toks, _ = generate(model, x, xm, task.max_new_tokens, task.EOS, pad_id=task.PAD, temperature=temperature,
                           generator=g, banned_ids=(task.BOS,))
        out += [task.decode(t[P:].tolist()) for t in toks]
    return out


def mean_reward(model: GPT, task, problems) -> tuple[float, list[str]]:
    outs = greedy_outputs(model, task, problems)
    return float(np.mean([task.reward(p, o) for p, o in zip(problems, outs)])), outs


def distinct_n(texts: list[str], n: int, words: bool = False) -> float:
    """Distinct n-grams over all n-grams of the outputs (of the task's tokens: characters, or
    words when ``words``)."""
    seqs = [t.split() if words else t for t in texts]
    grams = [tuple(s[i:i + n]) for s in seqs for i in range(len(s) - n + 1)]
    return len(set(grams)) / max(1, len(grams))


def _sequence_logp(model, tokens, mask, P):
    lp = response_log_probs(model, tokens, mask, P)
    return lp, mask[:, P:].to(lp.dtype)


def train_offline(ref: GPT, task, data: OfflineData, cfg: OfflineConfig, dev_problems, advantages=None, log=None,
                  ref_dev_reward: float | None = None) -> dict:
    """Fine-tune a copy of ``ref`` on ``data`` with ``cfg.method``. Returns the selected policy, the
    dev-reward history, the fraction of data used and the step count. ``ref_dev_reward``: ``ref``'s greedy
    dev reward (step 0 of the history) when the caller has it, instead of generating it again."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    policy = copy.deepcopy(ref).train()
    ref = ref.eval()
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=0.0, eps=1e-6)
    mode = SAMPLING[cfg.method]
    n = len(data)
    if mode == "advantage":
        if advantages is None:
            raise ValueError(f"{cfg.method} needs advantages A = R - V_ref(x)")
        weights = np.clip(np.asarray(advantages, float), 0.0, None)
    elif mode == "reward":
        weights = np.asarray(data.rewards, float).copy()
    else:
        weights = np.ones(n)
    used = float((weights > 0).mean())
    steps = cfg.steps
    if mode == "advantage" and cfg.scale_steps:
        steps = max(1, int(round(cfg.steps * used)))
    pairs = data.pairs() if cfg.method == "dpo" else None
    if cfg.method == "dpo" and not pairs:
        raise ValueError("DPO needs prompts with two responses of different reward")
    probs = weights / weights.sum() if weights.sum() > 0 else None
    ref_reward = mean_reward(ref, task, dev_problems)[0] if ref_dev_reward is None else float(ref_dev_reward)
    best_reward, best_state, best_step = -float("inf"), None, 0
    history = {"step": [0], "dev_reward": [ref_reward]}
    t0 = time.time()
    for step in range(1, steps + 1):
        policy.train()
        if cfg.method == "dpo":
            pick = rng.integers(0, len(pairs), size=cfg.batch_size)
            rows = [pairs[i][0] for i in pick] + [pairs[i][1] for i in pick]
        elif probs is None:
            break
        else:
            rows = rng.choice(n, size=cfg.batch_size, replace=True, p=probs).tolist()
        tokens, mask, P = task.encode_batch([data.problems[i].prompt for i in rows], [data.responses[i] for i in rows])
        tokens, mask = tokens.to(_device(policy)), mask.to(_device(policy))
        logp, rmask = _sequence_logp(policy, tokens, mask, P)
        with torch.no_grad():
            ref_logp = response_log_probs(ref, tokens, mask, P) if cfg.method not in ("nll", "wnll", "r_gold", "a_lol_ref_free") else None
        if cfg.method == "dpo":
            seq = (logp * rmask).sum(-1)
            ref_seq = (ref_logp * rmask).sum(-1)
            b = cfg.batch_size
            loss = dpo_loss(seq[:b], seq[b:], ref_seq[:b], ref_seq[b:], cfg.dpo_beta)
        else:
            r = torch.as_tensor(data.rewards[rows], dtype=torch.float32, device=tokens.device)
            a = (torch.as_tensor(np.asarray(advantages)[rows], dtype=torch.float32, device=tokens.device)
                 if advantages is not None else None)
            loss = alol_loss(cfg.method, logp, rmask, reward=r, advantage=a, ref_logp=ref_logp, eps=cfg.eps,
                             kl_beta=cfg.kl_beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        opt.step()
        if step % cfg.eval_every == 0 or step == steps:
            dev, _ = mean_reward(policy, task, dev_problems)
            history["step"].append(step)
            history["dev_reward"].append(dev)
            if dev > best_reward:
                best_reward, best_state, best_step = dev, copy.deepcopy(policy.state_dict()), step
            if log:
                log(f"{cfg.method} seed {cfg.seed} step {step}/{steps}: dev reward {dev:.3f} (best {best_reward:.3f})")
    final = copy.deepcopy(policy).eval()
    if best_state is not None:
        policy.load_state_dict(best_state)
    return {"config": asdict(cfg), "policy": policy.eval(), "final_policy": final, "history": history,
            "data_used": used, "steps": steps, "best_step": best_step, "best_dev_reward": best_reward,
            "wall_s": time.time() - t0}
