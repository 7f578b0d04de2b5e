"""The PRIME training loop and its baselines, one step as the official trainer runs it
(PRIME-RL/PRIME ``training/verl/trainer/ppo/ray_trainer.py`` with ``run_prime_main.sh``):

1. sample K rollouts for each prompt of the batch from the policy (temperature 1);
2. score them with the rule-based verifier (outcome reward r_o in {0, 1});
3. keep prompts whose group accuracy lies in [0.2, 0.8], sampling more prompts until the
   batch is full (``filter_accuracy``; a bounded number of extra rounds here);
4. PRIME: the kept rollouts are split, in order, into ``prm_mini_batches`` mini-batches of whole
   groups (``reward_model.mini_batch_size``; ``dp_prime.py: update_rm``). For each mini-batch in turn,
   forward the implicit PRM and the frozen reference, take the token scores q_t of that forward, then
   take one CE optimiser step on that mini-batch (``prime_model.update=after``): later mini-batches are
   scored by a PRM already updated on the earlier ones. Normalise the scores (``prime_norm: batch_norm``);
5. RLOO returns per reward source (verifier on the last token, PRM on every token), gamma = 1,
   summed and whitened (``adv_estimator=rloo``);
6. PPO-clip update of the policy (epsilon 0.2, no KL, no entropy bonus), one pass over
   ``mini_batches`` mini-batches in order (``ppo_mini_batch_size``). The official run has 1024
   rollouts, mini-batches of 256 for both: 4 PRM and 4 policy optimiser steps per RL step; here the
   same 4 + 4 at our batch.

Arms: ``rloo`` (outcome reward only), ``oracle`` (the positive control: the PRM's scores replaced by
a perfect process reward, -1 on the generator-checked first wrong step), ``prime`` (online PRM),
``prime_frozen`` (a PRM trained offline on SFT rollouts until its validation loss stops improving,
then frozen: the paper's offline-PRM ablation), ``prime_nofilter``.

The task (prompts, encoding, the verifier, the oracle's step rewards) is a ``tasks`` object: by default the
small GPT's chain sums from the config (``tasks.ArithmeticTask``); ``tasks.ReasoningGymTask`` runs the same
loop on a pretrained LM (``paperlib.nn.hf.HFCausalLM``), which is then the SFT model here: policy init = PRM
init = reference.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..nn.gpt import GPT, generate, response_log_probs
from ..rl import ppo_clip_loss, rloo_returns
from ..data import arithmetic
from .prm import accuracy_filter, batch_norm_scores, implicit_process_reward, pairwise_accuracy, prm_loss
from .tasks import ArithmeticTask

ARMS = ("rloo", "oracle", "prime", "prime_frozen", "prime_nofilter")


@dataclass
class RLConfig:
    arm: str = "prime"
    steps: int = 100
    batch_prompts: int = 16  # prompts per step (after filtering)
    n_samples: int = 4  # rollouts per prompt (K)
    mini_batches: int = 4  # PPO mini-batches per step (one pass, ppo_epochs = 1)
    prm_mini_batches: int = 4  # PRM mini-batches per step (one CE optimiser step each)
    policy_lr: float = 1e-5
    prm_lr: float = 2e-5  # twice the policy's, as the official 1e-6 vs 5e-7
    beta: float = 0.05  # PRM CE temperature (beta_train)
    clip: float = 0.2
    policy_grad_clip: float = 1.0
    prm_grad_clip: float = 10.0
    acc_low: float = 0.2
    acc_high: float = 0.8
    max_fill_rounds: int = 3  # generation rounds per step to fill the filtered batch
    max_new_tokens: int = 140
    temperature: float = 1.0
    min_terms: int = 6  # RL prompts: 5-6 worked steps
    max_terms: int = 7
    min_digits: int = 2
    max_digits: int = 2
    width: int = 3
    frozen_prm_steps: int = 200  # most offline PRM training batches (SFT rollouts) for prime_frozen
    frozen_eval_every: int = 5  # batches between validation losses of the offline PRM
    frozen_patience: int = 3  # stop after this many validations without improvement (keep the best)
    frozen_val_prompts: int = 32  # validation SFT rollouts: this many prompts x n_samples
    bank_points: tuple = ()  # steps at which the prime arm draws rollouts for the fixed PRM-scoring bank
    bank_prompts: int = 16
    eval_every: int = 10
    eval_samples: int = 2  # sampled answers per held-out prompt
    seed: int = 0
    device: str = "cpu"
    precision: str = "32-true"  # 32-true, or bf16-mixed: the forward passes autocast to bfloat16 (GPU)
    false_positive: float = 0.0  # share of wrong answers the training verifier passes (tasks.ArithmeticTask)

    def __post_init__(self):
        if self.arm not in ARMS:
            raise ValueError(f"unknown arm {self.arm!r}; valid: {ARMS}")
        if not 0.0 <= self.false_positive < 1.0:
            raise ValueError(f"false_positive must lie in [0, 1), got {self.false_positive}")

    @property
    def uses_prm(self) -> bool:
        return self.arm not in ("rloo", "oracle")

    @property
    def filters(self) -> bool:
        return self.arm != "prime_nofilter"


@dataclass
class Rollouts:
    tokens: torch.Tensor  # (B, P + L)
    mask: torch.Tensor  # real tokens
    prompt_len: int
    acc: torch.Tensor  # (B,) outcome reward (the training verifier's)
    problems: list
    exact: torch.Tensor | None = None  # (B,) the exact verifier's, where it differs from ``acc``'s (else None)

    @property
    def response_mask(self):
        return self.mask[:, self.prompt_len:].float()


def task_of(cfg: RLConfig, task=None):
    """``task``, or the config's chain-sum task of the small GPT."""
    return ArithmeticTask.from_config(cfg) if task is None else task


class PromptStream:
    """Fresh training prompts from the task's generator, reproducible from the seed."""

    def __init__(self, cfg: RLConfig, seed: int, task=None):
        self.cfg = cfg
        self.task = task_of(cfg, task)
        self.rng = np.random.default_rng(seed)

    def take(self, n: int):
        return self.task.sample(self.rng, n)


def rollout(policy: GPT, problems, cfg: RLConfig, gen: torch.Generator, task=None) -> Rollouts:
    """K samples for each problem, groups contiguous, verified."""
    task = task_of(cfg, task)
    rep = [p for p in problems for _ in range(cfg.n_samples)]
    x, xm = task.encode_prompts(rep, cfg.device)
    tokens, mask = generate(policy, x, xm, cfg.max_new_tokens, task.EOS, pad_id=task.PAD,
                            temperature=cfg.temperature, generator=gen, banned_ids=task.banned_ids)
    P = x.shape[1]
    acc = torch.tensor([task.reward(p, tokens[i, P:].tolist()) for i, p in enumerate(rep)], device=tokens.device)
    exact = None
    if getattr(task, "false_positive", 0.0):
        exact = torch.tensor([task.exact_reward(p, tokens[i, P:].tolist()) for i, p in enumerate(rep)],
                             device=tokens.device)
    return Rollouts(tokens, mask, P, acc, rep, exact)


def exact_acc(r: Rollouts) -> torch.Tensor:
    """The exact verifier's verdicts of ``r`` (the training verifier's when they are the same)."""
    return r.acc if r.exact is None else r.exact


def cat_rollouts(parts: list[Rollouts], pad_id: int = arithmetic.PAD) -> Rollouts:
    """Concatenate rollouts with different prompt/response widths (re-padding both sides)."""
    P = max(r.prompt_len for r in parts)
    L = max(r.tokens.shape[1] - r.prompt_len for r in parts)
    toks, masks = [], []
    for r in parts:
        lp, lr = P - r.prompt_len, L - (r.tokens.shape[1] - r.prompt_len)
        toks.append(torch.nn.functional.pad(r.tokens, (lp, lr), value=pad_id))
        masks.append(torch.nn.functional.pad(r.mask, (lp, lr), value=False))
    return Rollouts(torch.cat(toks), torch.cat(masks), P, torch.cat([r.acc for r in parts]),
                    [p for r in parts for p in r.problems])


def select_groups(r: Rollouts, keep: torch.Tensor, n_samples: int) -> Rollouts:
    rows = keep.repeat_interleave(n_samples)
    idx = rows.nonzero().squeeze(1)
    return Rollouts(r.tokens[idx], r.mask[idx], r.prompt_len, r.acc[idx], [r.problems[i] for i in idx.tolist()])


def outcome_rewards(r: Rollouts) -> tuple[torch.Tensor, torch.Tensor]:
    """The verifier's reward on each rollout's last response token (``gt_scores``) and its mask."""
    rm = r.response_mask
    last = (rm.sum(1).long() - 1).clamp(min=0)
    mask = torch.zeros_like(rm, dtype=torch.bool)
    rows = torch.arange(len(last), device=last.device)
    mask[rows, last] = True
    rewards = torch.zeros_like(rm)
    rewards[rows, last] = r.acc.float()
    return rewards, mask


@torch.no_grad()
def evaluate(policy: GPT, problems, cfg: RLConfig, greedy: bool = False, samples: int = 1, seed: int = 0,
             task=None) -> float:
    """Accuracy on held-out prompts: sampled at the training temperature (mean over ``samples``
    per prompt) or greedy."""
    task = task_of(cfg, task)
    reps = 1 if greedy else samples
    rep = [p for p in problems for _ in range(reps)]
    x, xm = task.encode_prompts(rep, cfg.device)
    tokens, _ = generate(policy, x, xm, cfg.max_new_tokens, task.EOS, pad_id=task.PAD, greedy=greedy,
                         temperature=cfg.temperature, generator=torch.Generator().manual_seed(seed),
                         banned_ids=task.banned_ids)
    P = x.shape[1]
    verdict = getattr(task, "exact_reward", task.reward)  # accuracy is always the exact verifier's
    return float(np.mean([verdict(p, tokens[i, P:].tolist()) for i, p in enumerate(rep)]))


def rows(r: Rollouts, idx: torch.Tensor) -> Rollouts:
    """The rollouts at row indices ``idx``."""
    return Rollouts(r.tokens[idx], r.mask[idx], r.prompt_len, r.acc[idx], [r.problems[i] for i in idx.tolist()])


def group_mini_batches(n_rollouts: int, n_samples: int, k: int) -> list[torch.Tensor]:
    """Row indices of ``k`` consecutive mini-batches of whole groups (in order, as ``batch.split``);
    fewer when there are fewer groups than ``k``."""
    groups = n_rollouts // n_samples
    return [torch.cat([torch.arange(g * n_samples, (g + 1) * n_samples) for g in chunk.tolist()])
            for chunk in torch.arange(groups).chunk(k)]


def prm_scores(prm: GPT, ref: GPT, r: Rollouts, cfg: RLConfig, opt: torch.optim.Optimizer | None):
    """PRIME's ``update_rm``: for each of ``cfg.prm_mini_batches`` consecutive mini-batches of whole
    groups, the PRM's token scores q_t from its forward on that mini-batch (taken *before* the
    mini-batch's own update), then, when ``opt`` is given, one CE optimiser step on it. A later
    mini-batch is scored by the PRM after the earlier mini-batches' updates. With ``opt`` None (a
    frozen PRM) nothing changes. Returns (q (B, L) detached, mean loss, pairwise accuracy of q,
    classification accuracy of sigmoid(beta sum q))."""
    rm = r.response_mask
    qs, losses = [], []
    for idx in group_mini_batches(len(r.acc), cfg.n_samples, cfg.prm_mini_batches):
        mb = rows(r, idx)
        with torch.no_grad():
            ref_lp = response_log_probs(ref, mb.tokens, mb.mask, mb.prompt_len)
        with torch.set_grad_enabled(opt is not None):
            prm_lp = response_log_probs(prm, mb.tokens, mb.mask, mb.prompt_len)
            q = implicit_process_reward(prm_lp, ref_lp, mb.response_mask)
            loss = prm_loss(q, mb.acc, mb.response_mask, cfg.beta)
        qs.append(q.detach())
        losses.append(float(loss.detach()))
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(prm.parameters(), cfg.prm_grad_clip)
            opt.step()
    q = torch.cat(qs)
    pair_acc = pairwise_accuracy(q, r.acc, rm, cfg.n_samples)
    cls_acc = float((((q.sum(-1) * cfg.beta) > 0).float() == r.acc.float()).float().mean())
    return q, float(np.mean(losses)), pair_acc, cls_acc


def oracle_rewards(r: Rollouts, task=None) -> torch.Tensor:
    """The positive control's dense reward: -1 on the last token of each rollout's first wrong step
    (``task.oracle_rewards``; default the chain sums' ``arithmetic.oracle_step_rewards``), 0 elsewhere: (B, L)."""
    task = ArithmeticTask if task is None else task
    L = r.tokens.shape[1] - r.prompt_len
    out = torch.zeros(len(r.acc), L)
    for i, p in enumerate(r.problems):
        out[i] = torch.as_tensor(task.oracle_rewards(p, r.tokens[i, r.prompt_len:].tolist()), dtype=torch.float32)
    return out.to(r.mask.device) * r.response_mask


def policy_update(policy: GPT, opt, r: Rollouts, advantages: torch.Tensor, cfg: RLConfig):
    """One pass of token-level PPO-clip over ``cfg.mini_batches`` consecutive mini-batches."""
    rm = r.response_mask
    with torch.no_grad():
        old_lp = response_log_probs(policy, r.tokens, r.mask, r.prompt_len)
    stats = []
    policy.train()
    for idx in torch.arange(len(r.acc)).chunk(cfg.mini_batches):
        lp = response_log_probs(policy, r.tokens[idx], r.mask[idx], r.prompt_len)
        loss, clipfrac, kl = ppo_clip_loss(old_lp[idx], lp, advantages[idx], rm[idx], cfg.clip)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.policy_grad_clip)
        opt.step()
        stats.append((float(loss.detach()), float(clipfrac), float(kl)))
    return np.mean(stats, axis=0)


@torch.no_grad()
def prm_val_loss(prm: GPT, ref: GPT, r: Rollouts, beta: float) -> float:
    rm = r.response_mask
    q = implicit_process_reward(response_log_probs(prm, r.tokens, r.mask, r.prompt_len),
                                response_log_probs(ref, r.tokens, r.mask, r.prompt_len), rm)
    return float(prm_loss(q, r.acc, rm, beta))


def train_prm_offline(prm: GPT, ref: GPT, cfg: RLConfig, stream: PromptStream, gen: torch.Generator) -> dict:
    """The frozen arm's PRM, trained to convergence on rollouts of the SFT model (``ref``): batches
    of fresh SFT rollouts, each taken in ``prm_mini_batches`` CE steps as online, until the CE loss on
    a fixed validation set of SFT rollouts has not improved for ``frozen_patience`` validations (or
    ``frozen_prm_steps`` batches); the best weights are kept. Returns the training record."""
    opt = torch.optim.Adam(prm.parameters(), lr=cfg.prm_lr)
    val = rollout(ref, stream.take(cfg.frozen_val_prompts), cfg, gen, stream.task)
    best, best_state, since, curve = prm_val_loss(prm, ref, val, cfg.beta), copy.deepcopy(prm.state_dict()), 0, []
    curve.append((0, best))
    steps = 0
    for steps in range(1, cfg.frozen_prm_steps + 1):
        prm.train()
        prm_scores(prm, ref, rollout(ref, stream.take(cfg.batch_prompts), cfg, gen, stream.task), cfg, opt)
        if steps % cfg.frozen_eval_every == 0:
            v = prm_val_loss(prm, ref, val, cfg.beta)
            curve.append((steps, v))
            if v < best - 1e-4:
                best, best_state, since = v, copy.deepcopy(prm.state_dict()), 0
            else:
                since += 1
                if since >= cfg.frozen_patience:
                    break
    prm.load_state_dict(best_state)
    prm.eval()
    return {"batches": steps, "best_val_loss": best, "converged": since >= cfg.frozen_patience, "val_curve": curve}


@torch.no_grad()
def draw_bank(policy: GPT, problems, cfg: RLConfig, seed: int, task=None) -> dict:
    """Rollouts of ``policy`` on fixed prompts (K each, seeded), for scoring PRMs afterwards."""
    r = rollout(policy, problems, cfg, torch.Generator().manual_seed(seed), task)
    return {"tokens": r.tokens.cpu().clone(), "mask": r.mask.cpu().clone(), "prompt_len": r.prompt_len,
            "acc": exact_acc(r).cpu().clone()}


def train_rl(sft: GPT, cfg: RLConfig, eval_problems=None, log=None, bank_problems=None, task=None) -> dict:
    """One arm, one seed. Returns the history (per step), the held-out evaluations, the trained
    policy and PRM, and (prime arm with ``bank_problems``) the bank of rollouts drawn at
    ``cfg.bank_points`` with the online PRM's weights at those points. ``sft`` is the policy init,
    PRM init and reference (the SFT model, or a pretrained LM with a ``tasks.ReasoningGymTask``);
    ``task`` defaults to the config's chain sums (``tasks.ArithmeticTask``)."""
    task = task_of(cfg, task)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    stream = PromptStream(cfg, seed=10_000 + cfg.seed, task=task)
    ref = copy.deepcopy(sft).to(cfg.device).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    policy = copy.deepcopy(sft).to(cfg.device)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.policy_lr)
    prm, prm_opt, offline = None, None, None
    if cfg.uses_prm:
        prm = copy.deepcopy(sft).to(cfg.device)
        if cfg.arm == "prime_frozen":
            offline = train_prm_offline(prm, ref, cfg, PromptStream(cfg, seed=20_000 + cfg.seed, task=task),
                                        torch.Generator().manual_seed(20_000 + cfg.seed))
            for p in prm.parameters():
                p.requires_grad_(False)
        else:
            prm_opt = torch.optim.Adam(prm.parameters(), lr=cfg.prm_lr)
    hist = {k: [] for k in ("step", "train_acc", "train_reward", "kept_prompts", "gen_rounds", "prm_loss", "prm_pair_acc",
                            "prm_cls_acc", "pg_loss", "clipfrac", "kl", "sec")}
    evals = {"step": [], "acc": [], "greedy_acc": []}
    bank = {"points": [], "parts": [], "prm_states": []}
    take_bank = cfg.arm == "prime" and bank_problems is not None

    def run_eval(step):
        evals["step"].append(step)
        evals["acc"].append(evaluate(policy, eval_problems, cfg, samples=cfg.eval_samples, seed=step, task=task))
        evals["greedy_acc"].append(evaluate(policy, eval_problems, cfg, greedy=True, task=task))

    def bank_point(step):
        bank["points"].append(step)
        bank["parts"].append(draw_bank(policy, bank_problems, cfg, seed=50_000 + step, task=task))
        bank["prm_states"].append({k: v.detach().cpu().clone() for k, v in prm.state_dict().items()})

    t_start = time.time()
    for step in range(cfg.steps):
        t0 = time.time()
        if eval_problems is not None and step % cfg.eval_every == 0:
            run_eval(step)
        if take_bank and step in cfg.bank_points:
            bank_point(step)
        parts, kept, seen_acc, seen_reward = [], 0, [], []
        for rnd in range(cfg.max_fill_rounds if cfg.filters else 1):
            r = rollout(policy, stream.take(cfg.batch_prompts), cfg, gen, task)
            seen_acc.append(exact_acc(r))
            seen_reward.append(r.acc)
            if cfg.filters:
                r = select_groups(r, accuracy_filter(r.acc, cfg.n_samples, cfg.acc_low, cfg.acc_high), cfg.n_samples)
            if len(r.acc):
                parts.append(r)
                kept += len(r.acc) // cfg.n_samples
            if kept >= cfg.batch_prompts:
                break
        train_acc = float(torch.cat(seen_acc).float().mean())
        row = dict(step=step, train_acc=train_acc, train_reward=float(torch.cat(seen_reward).float().mean()),
                   kept_prompts=min(kept, cfg.batch_prompts), gen_rounds=rnd + 1,
                   prm_loss=np.nan, prm_pair_acc=np.nan, prm_cls_acc=np.nan, pg_loss=np.nan, clipfrac=np.nan, kl=np.nan)
        if kept:
            r = cat_rollouts(parts, task.PAD)
            if kept > cfg.batch_prompts:
                r = select_groups(r, torch.arange(kept) < cfg.batch_prompts, cfg.n_samples)
            rm = r.response_mask
            gt, gt_mask = outcome_rewards(r)
            sources = [(gt, gt_mask, 1.0)]
            if prm is not None:
                if prm_opt is not None:
                    prm.train()
                q, loss, pair_acc, cls_acc = prm_scores(prm, ref, r, cfg, prm_opt)
                row.update(prm_loss=loss, prm_pair_acc=pair_acc, prm_cls_acc=cls_acc)
                sources.append((batch_norm_scores(q), rm.bool(), 1.0))
            elif cfg.arm == "oracle":
                sources.append((oracle_rewards(r, task).to(rm.device), rm.bool(), 1.0))
            adv, _ = rloo_returns(sources, rm, cfg.n_samples)
            pg, clipfrac, kl = policy_update(policy, opt, r, adv, cfg)
            row.update(pg_loss=float(pg), clipfrac=float(clipfrac), kl=float(kl))
        row["sec"] = time.time() - t0
        for k, v in row.items():
            hist[k].append(v)
        if log and (step % 10 == 0 or step == cfg.steps - 1):
            log(f"{cfg.arm} seed {cfg.seed} step {step}: train acc {train_acc:.3f}"
                + (f", PRM pair acc {row['prm_pair_acc']:.2f}" if prm is not None else "")
                + f", {time.time() - t_start:.0f} s")
    if eval_problems is not None:
        run_eval(cfg.steps)
    if take_bank and cfg.steps in cfg.bank_points:
        bank_point(cfg.steps)
    return {"config": asdict(cfg), "history": hist, "evals": evals, "policy": policy.cpu(),
            "prm": None if prm is None else prm.cpu(), "offline_prm": offline, "bank": bank if take_bank else None,
            "wall_s": time.time() - t_start}
