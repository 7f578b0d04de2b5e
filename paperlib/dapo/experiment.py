"""Runs of the DAPO reproduction: one seed = one draw of training prompts, reference-policy samples,
critic and every actor arm (all arms of a seed share the same pi_ref samples); seeds in parallel
worker processes. The notebook calls ``run_all``; the algorithm lives in ``rollouts``, ``critic`` and
``objective``.

Arms:
* ``sft``: the reference policy itself (no training);
* ``dpo``: outcome-only offline alignment, DPO on (correct, wrong) pairs of complete pi_ref solutions;
* ``dapo``: the actor trained on the critic's step-level advantages;
* ``oracle``: the positive control, DAPO with an oracle critic in place of the trained one: the task's
  step labels (a state after a wrong step has value 0) times the reference policy's measured
  completion rate from a right state (``oracle_state_value``).
Every trained arm takes the same number of Adam steps of the same batch size on the same samples.

One code path for both models: the task (``paperlib.dapo.tasks``: ``ChainSumSteps`` on the small GPT,
the default; ``ReasoningSteps`` on a pretrained LM behind ``paperlib.nn.hf.HFCausalLM``) gives prompts,
step segmentation and the verifier; the model gives ``generate``, ``response_log_probs`` and hidden
states. ``run_seed`` (small GPT, rebuilt from its state in a worker) and ``run_seed_lm`` (the LM loaded
in the worker) both hand over to ``seed_arms``. Device and precision come from the config: everything is
placed on the reference model's device, and ``precision`` is the autocast of the whole seed
(``paperlib.training.autocast``; "32-true" changes nothing).
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..data import arithmetic
from ..nn.gpt import GPT, GPTConfig, generate, pack_prompts, response_log_probs
from ..training import autocast, check_precision, resolve_device, run_in_workers
from .critic import Critic, train_critic
from .objective import dapo_loss, dpo_loss, sequence_logp
from .rollouts import _device, _task, stage_a
from .tasks import ARITHMETIC, ReasoningSteps

ARMS = ("sft", "dpo", "dapo", "oracle")


@dataclass
class DAPOConfig:
    seed: int = 0
    arms: tuple = ARMS
    # task (paperlib.data.arithmetic): prompts of min_terms..max_terms terms
    n_prompts: int = 64  # training prompts per seed
    min_terms: int = 5
    max_terms: int = 6
    min_digits: int = 2
    max_digits: int = 2
    width: int = 3
    max_len: int = 128  # most response tokens
    # stage A
    n_rollouts: int = 2  # base solutions per prompt (their step prefixes are the states)
    mc_samples: int = 4  # completions per state (MC value; their first steps are the actions)
    critic_epochs: int = 4
    critic_lr: float = 3e-4
    critic_batch: int = 64
    # stage B and DPO (same budget)
    updates: int = 120  # Adam steps per trained arm
    batch_size: int = 32  # (state, step) pairs for DAPO, (chosen, rejected) pairs for DPO
    dapo_lr: float = 1e-4
    dapo_beta: float = 1.0
    dpo_lr: float = 1e-4
    dpo_beta: float = 0.1
    pairs_per_prompt: int = 16  # most DPO pairs drawn per prompt
    grad_clip: float = 1.0
    # evaluation
    eval_prompts: int = 256
    eval_samples: int = 2
    check_problems: int = 200  # held-out generator solutions with a known first wrong step (critic check)
    p_error: float = 0.15
    # where it runs (the LM path also reads its sizes from here)
    device: str = "cpu"  # cpu | cuda[:N] | auto
    precision: str = "32-true"  # autocast of the seed's forward passes: 32-true | bf16-mixed | 16-mixed
    eval_chunk: int = 0  # most sequences sampled at once in the held-out evaluation (0: all at once)

    def __post_init__(self):
        check_precision(self.precision)
        if self.precision == "bf16-true":
            raise ValueError("precision 'bf16-true' (a model cast) is not offered here: use bf16-mixed")
        bad = set(self.arms) - set(ARMS)
        if bad:
            raise ValueError(f"unknown arm(s) {sorted(bad)}; valid: {list(ARMS)}")
        if self.min_terms < 2 or self.max_terms < self.min_terms:
            raise ValueError(f"need 2 <= min_terms <= max_terms, got {self.min_terms}, {self.max_terms}")


def train_problems(cfg: DAPOConfig):
    return ARITHMETIC.train_problems(cfg)


def eval_problems(cfg: DAPOConfig, n: int | None = None):
    """Held-out prompts, the same for every seed (never used for training or tuning choices)."""
    return ARITHMETIC.eval_problems(cfg, n)


def check_problems(cfg: DAPOConfig):
    """Generator solutions with at least one wrong step (first wrong step known), held out."""
    return ARITHMETIC.check_problems(cfg)


@torch.no_grad()
def sampled_accuracy(policy: GPT, problems, samples: int, seed: int, max_len: int, task=None, chunk: int = 0) -> float:
    """Share of verifier-accepted answers, ``samples`` per prompt at temperature 1 (``task``'s verifier;
    ``chunk`` > 0: at most that many sequences sampled at once, else all together)."""
    task = _task(task)
    rep = [p for p in problems for _ in range(samples)]
    gen = torch.Generator().manual_seed(seed)
    step = chunk if chunk > 0 else max(1, len(rep))
    hits = []
    for a in range(0, len(rep), step):
        part = rep[a:a + step]
        x, xm, P = pack_prompts([task.head_ids(p) for p in part], None, task.PAD, device=_device(policy))
        toks, _ = generate(policy, x, xm, max_len, task.EOS, pad_id=task.PAD, generator=gen, banned_ids=task.banned_ids)
        hits += [task.reward(p, toks[i, P:].tolist()) for i, p in enumerate(part)]
    return float(np.mean(hits))


# ---------------------------------------------------------------- actor data
def remaining_steps(problem, prefix, task=None) -> int:
    """Worked steps still to write after ``prefix`` (the answer not counted)."""
    return _task(task).remaining_steps(problem, prefix)


def completion_rates(a, task=None) -> dict[int, float]:
    """The reference policy's measured chance of finishing correctly from a state whose steps are all
    right, by the number of steps still to write: the mean MC value of such states in stage A."""
    task = _task(task)
    by_r: dict[int, list[float]] = {}
    for s in a.states:
        prob = a.problems[s.prompt]
        if task.oracle_value(prob, s.prefix) == 1.0:
            by_r.setdefault(task.remaining_steps(prob, s.prefix), []).append(s.mc_value)
    return {r: float(np.mean(v)) for r, v in by_r.items()}


def oracle_state_value(problem, ids, rates: dict[int, float], task=None) -> float:
    """The positive control's value of a state: 0 once a step is wrong (the generator checks every
    step), else the reference policy's measured completion rate from there (``completion_rates``); a
    finished solution: its reward. The true V^{pi_ref} up to the spread of the rate between prompts."""
    task = _task(task)
    ids = [int(t) for t in ids]
    if task.finished(ids):
        return task.reward(problem, ids)
    if task.oracle_value(problem, ids) == 0.0:
        return 0.0
    r = task.remaining_steps(problem, ids)
    return rates.get(r, float(np.mean(list(rates.values()))) if rates else 0.5)


def dapo_examples(a, critic: Critic | None, oracle: bool = False, task=None) -> dict:
    """(state, next step) pairs of stage A with their advantages: the critic's V(s + a) - V(s) (a
    finished solution's value: its reward), or with ``oracle`` the generator-checked value difference.
    Returns {heads, tails, action_start, adv, terminal}."""
    task = _task(task)
    P = a.problems
    heads, tails, starts, terminal, nxt_idx = [], [], [], [], []
    state_of = []
    for k, s in enumerate(a.states):
        for c, r in zip(s.completions, s.rewards):
            act, term = task.first_action(P[s.prompt], s.prefix, c)
            if not act:
                continue
            heads.append(task.head_ids(P[s.prompt]))
            tails.append(s.prefix + act)
            starts.append(len(s.prefix))
            terminal.append(term)
            state_of.append(k)
    n = len(tails)
    if oracle:
        p_r = completion_rates(a, task)
        v_s = np.array([oracle_state_value(P[a.states[k].prompt], a.states[k].prefix, p_r, task) for k in state_of])
        v_next = np.array([oracle_state_value(P[a.states[k].prompt], t, p_r, task) for k, t in zip(state_of, tails)])
    else:
        v_state = critic.values(P, [s.prompt for s in a.states], [s.prefix for s in a.states], task=task)
        v_s = v_state[state_of]
        v_next = np.zeros(n)
        nt = [i for i in range(n) if not terminal[i]]
        v_next[nt] = critic.values(P, [a.states[state_of[i]].prompt for i in nt], [tails[i] for i in nt], task=task)
        for i in range(n):
            if terminal[i]:
                v_next[i] = task.reward(P[a.states[state_of[i]].prompt], tails[i])
    return {"heads": heads, "tails": tails, "action_start": starts, "adv": torch.tensor(v_next - v_s, dtype=torch.float32),
            "terminal": terminal}


def dpo_pairs(a, pairs_per_prompt: int, seed: int, task=None) -> dict:
    """(chosen, rejected) pairs of complete pi_ref solutions of one prompt: chosen accepted by the
    verifier, rejected not; at most ``pairs_per_prompt`` per prompt, drawn at random."""
    task = _task(task)
    rng = np.random.default_rng(seed)
    pool: dict[int, list[tuple[list[int], float]]] = {}
    for i, r, rew in a.rollouts:
        pool.setdefault(i, []).append((r, rew))
    for s in a.states:
        for c, rew in zip(s.completions, s.rewards):
            pool.setdefault(s.prompt, []).append((s.prefix + c, rew))
    heads, chosen, rejected = [], [], []
    for i, sols in sorted(pool.items()):
        good = [x for x, r in sols if r == 1.0]
        bad = [x for x, r in sols if r != 1.0]
        if not good or not bad:
            continue
        for _ in range(min(pairs_per_prompt, len(good) * len(bad))):
            heads.append(task.head_ids(a.problems[i]))
            chosen.append(good[rng.integers(len(good))])
            rejected.append(bad[rng.integers(len(bad))])
    return {"heads": heads, "chosen": chosen, "rejected": rejected}


def _batch(heads, tails, starts=None, pad_id: int = arithmetic.PAD, device="cpu"):
    """Packed tokens and the mask of the scored response tokens (from ``starts`` on, else all)."""
    x, m, P = pack_prompts(heads, tails, pad_id, device=device)
    L = x.shape[1] - P
    pos = torch.arange(L, device=x.device)[None, :]
    lens = torch.tensor([len(t) for t in tails], device=x.device)[:, None]
    lo = torch.tensor(starts, device=x.device)[:, None] if starts is not None else torch.zeros_like(lens)
    return x, m, P, (pos >= lo) & (pos < lens)


def _logp(model, heads, tails, starts=None, task=None):
    """log pi(tail | head) summed over the scored tokens (from ``starts`` on: one step's tokens)."""
    x, m, P, sm = _batch(heads, tails, starts, _task(task).PAD, _device(model))
    return sequence_logp(response_log_probs(model, x, m, P), sm)


@torch.no_grad()
def _ref_logp(ref, heads, tails, starts=None, chunk=256, task=None):
    return torch.cat([_logp(ref, heads[a:a + chunk], tails[a:a + chunk], None if starts is None else starts[a:a + chunk],
                            task) for a in range(0, len(tails), chunk)])


def train_actor(sft: GPT, arm: str, data: dict, cfg: DAPOConfig, on_eval=None, task=None) -> tuple[GPT, list[float]]:
    """``cfg.updates`` Adam steps of ``cfg.batch_size`` examples (shuffled passes over ``data``) from
    the SFT weights (the reference, never changed); ``on_eval(step, policy)`` at the middle of training.
    Returns (policy, losses)."""
    task = _task(task)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed + 1)
    ref = sft
    policy = copy.deepcopy(sft)
    for p in policy.parameters():
        p.requires_grad_(True)
    lr = cfg.dpo_lr if arm == "dpo" else cfg.dapo_lr
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    n = len(data["chosen"] if arm == "dpo" else data["tails"])
    if n == 0:  # e.g. a smoke-sized SFT model that never answers right: nothing to learn from
        return policy.eval(), []
    ch = task.chunk
    if arm == "dpo":
        ref_c = _ref_logp(ref, data["heads"], data["chosen"], chunk=ch, task=task)
        ref_r = _ref_logp(ref, data["heads"], data["rejected"], chunk=ch, task=task)
    else:
        ref_a = _ref_logp(ref, data["heads"], data["tails"], data["action_start"], chunk=ch, task=task)
    adv = data["adv"].to(ref_a.device) if arm != "dpo" else None
    order, pos, losses = rng.permutation(n), 0, []
    policy.train()
    for step in range(cfg.updates):
        if on_eval and step == cfg.updates // 2:
            on_eval(step, policy)
            policy.train()
        if pos + cfg.batch_size > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos:pos + cfg.batch_size]
        pos += cfg.batch_size
        h = [data["heads"][i] for i in idx]
        if arm == "dpo":
            lc = _logp(policy, h, [data["chosen"][i] for i in idx], task=task)
            lr_ = _logp(policy, h, [data["rejected"][i] for i in idx], task=task)
            ti = torch.as_tensor(idx, device=lc.device)
            loss = dpo_loss(lc, lr_, ref_c[ti], ref_r[ti], cfg.dpo_beta)
        else:
            la = _logp(policy, h, [data["tails"][i] for i in idx], [data["action_start"][i] for i in idx], task=task)
            ti = torch.as_tensor(idx, device=la.device)
            loss = dapo_loss(la, ref_a[ti], adv[ti], cfg.dapo_beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(loss.item())
    policy.eval()
    return policy, losses


# ---------------------------------------------------------------- critic check
def critic_check(critic: Critic, problems, task=None) -> dict:
    """On generator solutions with a known first wrong step: the critic's value at every state, the
    change over each step d_k = V(after step k) - V(before step k), whether the largest drop is the
    first wrong step (hit), and the values around it (relative position -2..+2). ``problems``: the
    small GPT's check problems (``check_problems``), or with ``task`` its ``check_items(cfg)``."""
    if task is None:
        task = ARITHMETIC
        items = [(p, arithmetic.encode(p.solution) + [arithmetic.EOS], p.first_error) for p in problems]
    else:
        items = problems
    hits, chance, drop_first, drop_other, rel = [], [], [], [], {r: [] for r in range(-2, 3)}
    for p, ids, k in items:
        pres = task.step_prefixes(p, ids)  # before step 1, after each step (the answer excluded)
        v = critic.values([p], [0] * len(pres), pres, task=task)
        d = np.diff(v)  # one per worked step
        if k is None or k >= len(d):
            continue
        hits.append(float(int(np.argmin(d)) == k))
        chance.append(1.0 / len(d))
        drop_first.append(float(d[k]))
        drop_other += [float(x) for j, x in enumerate(d) if j < k]  # right steps before the first error
        for r in rel:
            if 0 <= k + r < len(v):
                rel[r].append(float(v[k + r]))  # k + r = state index; k = before the first wrong step
    if not hits:
        nan = float("nan")
        return {"hit_rate": nan, "chance": nan, "drop_at_first_wrong": nan, "drop_at_right_steps": nan,
                "value_around_first_wrong": {str(r): nan for r in rel}}
    return {"hit_rate": float(np.mean(hits)), "chance": float(np.mean(chance)), "drop_at_first_wrong": float(np.mean(drop_first)),
            "drop_at_right_steps": float(np.mean(drop_other)) if drop_other else float("nan"),
            "value_around_first_wrong": {str(r): float(np.mean(v)) if v else float("nan") for r, v in rel.items()}}


# ---------------------------------------------------------------- one seed
def seed_arms(sft, cfg: DAPOConfig, task=None, check_items=None) -> dict:
    """Every arm of one seed on the reference model ``sft`` (frozen here; on its device), with ``task``
    (default: the small GPT's chain sums). ``check_items``: the critic check's solutions (default: the
    task's); an empty list skips the check (its statistics are then NaN)."""
    task = _task(task)
    t0 = time.time()
    evalset = task.eval_problems(cfg)
    acc, mid, losses, wall = {}, {}, {}, {}
    eval_seed = 50_000 + cfg.seed

    def accuracy(policy):
        return sampled_accuracy(policy, evalset, cfg.eval_samples, eval_seed, cfg.max_len, task, cfg.eval_chunk)

    acc["sft"] = accuracy(sft)
    a = stage_a(sft, task.train_problems(cfg), cfg.n_rollouts, cfg.mc_samples, cfg.max_len, seed=20_000 + cfg.seed,
                task=task)
    t_a = time.time() - t0
    mc = np.array([s.mc_value for s in a.states])
    out = {"seed": cfg.seed, "stage_a": {"states": len(a.states), "generated": a.generated, "mc_value_mean": float(mc.mean()),
                                         "base_acc": float(np.mean([r for _, _, r in a.rollouts])), "wall_s": t_a}}
    need_critic = "dapo" in cfg.arms
    critic = None
    if need_critic:
        t1 = time.time()
        critic, closs = train_critic(sft, a.problems, a.states, cfg.critic_epochs, cfg.critic_lr, cfg.critic_batch,
                                     seed=30_000 + cfg.seed, task=task)
        v = critic.values(a.problems, [s.prompt for s in a.states], [s.prefix for s in a.states], task=task)
        out["critic"] = {"loss_first": float(np.mean(closs[:5])), "loss_last": float(np.mean(closs[-5:])),
                         "mc_corr": float(np.corrcoef(v, mc)[0, 1]) if mc.std() > 0 else float("nan"),
                         "wall_s": time.time() - t1}
        if check_items is None:
            out["critic_check"] = (critic_check(critic, check_problems(cfg)) if task is ARITHMETIC
                                   else critic_check(critic, task.check_items(cfg), task))
        else:
            out["critic_check"] = critic_check(critic, check_items, task)
    for arm in cfg.arms:
        if arm == "sft":
            continue
        t1 = time.time()
        if arm == "dpo":
            data = dpo_pairs(a, cfg.pairs_per_prompt, seed=40_000 + cfg.seed, task=task)
            n_ex = len(data["chosen"])
        else:
            data = dapo_examples(a, critic, oracle=(arm == "oracle"), task=task)
            n_ex = len(data["tails"])

        def on_eval(step, policy, arm=arm):
            mid[arm] = accuracy(policy)

        policy, ls = train_actor(sft, arm, data, cfg, on_eval, task=task)
        acc[arm] = accuracy(policy)
        losses[arm] = ls
        wall[arm] = {"examples": n_ex, "train_s": time.time() - t1}
        if arm != "dpo":
            adv = data["adv"].numpy()
            wall[arm]["adv_mean_abs"] = float(np.abs(adv).mean()) if len(adv) else float("nan")
            wall[arm]["adv_nonzero"] = float((np.abs(adv) > 1e-6).mean()) if len(adv) else float("nan")
        del policy
    mid["sft"] = acc["sft"]
    for arm in acc:
        mid.setdefault(arm, acc[arm])  # an arm with nothing to train on stays the SFT policy
    out.update(acc=acc, mid_acc=mid, losses=losses, arms=wall, wall_s=time.time() - t0)
    return out


def run_seed(sft_state: dict, gpt_cfg: dict, cfg_dict: dict, log_every: bool = False) -> dict:
    """Every arm of one seed on the small GPT (picklable in and out), on ``cfg.device``."""
    cfg = DAPOConfig(**cfg_dict)
    dev = resolve_device(cfg.device)
    sft = GPT(GPTConfig(**gpt_cfg))
    sft.load_state_dict(sft_state)
    sft.to(dev).eval()
    for p in sft.parameters():
        p.requires_grad_(False)
    with autocast(dev, cfg.precision):
        return seed_arms(sft, cfg)


def run_all(sft: GPT, cfgs: list[DAPOConfig], workers: int = 2, threads_per_worker: int = 1, log=print) -> list[dict]:
    """``run_seed`` for each config in ``workers`` processes; results in order."""
    state = {k: v.cpu() for k, v in sft.state_dict().items()}
    args = [(state, asdict(sft.cfg), asdict(c)) for c in cfgs]
    t0 = time.time()

    def done(i, r, n):
        log(f"seed {r['seed']}: accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in r["acc"].items())
            + f"; {r['wall_s']:.0f} s ({n}/{len(cfgs)} runs, {time.time() - t0:.0f} s)")

    return run_in_workers(run_seed, args, workers, threads_per_worker, done)


# ---------------------------------------------------------------- a pretrained LM
_LMS: dict = {}


def pretrained_lm(name: str, device: str = "cpu", log=print):
    """The chat LM ``name`` (``paperlib.nn.hf.load_causal_lm``: "smollm2" offline, or a hub id) in float32
    on ``device``, loaded once per process (float32 master weights; bf16 comes from ``precision``'s
    autocast), frozen: it is the reference policy, and the actor and critic start from copies of it."""
    from ..nn.hf import load_causal_lm

    key = (name, str(device))
    if key not in _LMS:
        lm = load_causal_lm(name, device=device, dtype=torch.float32, log=log)
        for p in lm.parameters():
            p.requires_grad_(False)
        _LMS[key] = lm
    return _LMS[key]


def run_seed_lm(lm_name: str, task_name: str, task_config: dict, cfg_dict: dict) -> dict:
    """Every arm of one seed on a pretrained chat LM (picklable in and out): the LM is the reference
    policy (no SFT: an instruct model), the actor's and the critic's initialisation; the task is
    reasoning-gym's ``task_name`` with generator ``task_config``."""
    cfg = DAPOConfig(**cfg_dict)
    dev = resolve_device(cfg.device)
    lm = pretrained_lm(lm_name, str(dev))
    task = ReasoningSteps(lm, task_name, **task_config)
    with autocast(dev, cfg.precision):
        out = seed_arms(lm, cfg, task, check_items=None if task.has_step_labels else [])
    out["lm"] = {"name": lm_name, "params": lm.num_params(), "task": task_name, "task_config": dict(task_config)}
    return out


def run_all_lm(lm_name: str, task_name: str, task_config: dict, cfgs: list[DAPOConfig], workers: int = 1,
               threads_per_worker: int = 1, log=print) -> list[dict]:
    """``run_seed_lm`` for each config, in ``workers`` processes (1: here, one after another, the LM
    loaded once); results in order."""
    args = [(lm_name, task_name, dict(task_config), asdict(c)) for c in cfgs]
    t0 = time.time()

    def done(i, r, n):
        log(f"seed {r['seed']}: accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in r["acc"].items())
            + f"; {r['wall_s']:.0f} s ({n}/{len(cfgs)} runs, {time.time() - t0:.0f} s)")

    return run_in_workers(run_seed_lm, args, workers, threads_per_worker, done)
