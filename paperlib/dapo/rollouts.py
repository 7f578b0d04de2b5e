"""Stage A of DAPO: reasoning states of the reference policy and Monte-Carlo estimates of their values.

For each training prompt the reference policy pi_ref (the SFT model) writes ``n_rollouts`` solutions.
Every prefix of a solution that ends at a step boundary is a *state* s_t = (prompt, steps 1..t): the
prompt alone, then after each ``;``. From every state pi_ref writes ``mc_samples`` completions; the
share that the verifier accepts is the Monte-Carlo estimate of V^{pi_ref}(s_t), the probability that
the partial solution ends correct, which the critic learns (paper Section 3, Figure 1 stage A).

The first step of each completion is a next step a ~ pi_ref(. | s_t): the (state, action) pairs
that stage B scores with the critic. Prefix + completion is a complete pi_ref solution with its
outcome label; the outcome-only baseline (DPO) builds its pairs from the same solutions, so both
arms see exactly the same reference-policy samples.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import arithmetic
from ..nn.gpt import GPT, generate, pack_prompts


@dataclass
class State:
    prompt: int  # index of the problem
    prefix: list[int]  # response token ids of the steps written so far (chain sums: each step ends with ';')
    t: int  # number of steps in the prefix
    completions: list[list[int]] = field(default_factory=list)  # response ids after the prefix (EOS kept)
    rewards: list[float] = field(default_factory=list)  # verifier reward of prefix + completion

    @property
    def mc_value(self) -> float:
        return float(np.mean(self.rewards)) if self.rewards else float("nan")


@dataclass
class StageA:
    problems: list  # arithmetic.Problem per prompt
    states: list[State]
    rollouts: list[tuple[int, list[int], float]]  # (prompt, response ids with EOS, reward): the base solutions
    generated: int = 0  # reference-policy completions sampled in all (base rollouts + MC completions)


def head_ids(problem) -> list[int]:
    """``<bos>`` + prompt ids."""
    return [arithmetic.BOS] + arithmetic.encode(problem.prompt)


def strip(ids) -> list[int]:
    """Response ids up to and including EOS (padding dropped)."""
    out = []
    for t in ids:
        t = int(t)
        if t == arithmetic.PAD:
            break
        out.append(t)
        if t == arithmetic.EOS:
            break
    return out


def reward(problem, response_ids) -> float:
    return arithmetic.verify(problem.terms, arithmetic.decode(response_ids))


@torch.no_grad()
def sample_continuations(policy: GPT, problems, prefixes: list[list[int]], max_len: int, gen: torch.Generator,
                         chunk: int = 512, task=None) -> list[list[int]]:
    """One pi continuation of each (problem, prefix): response ids after the prefix, EOS kept. ``task``:
    a ``paperlib.dapo.tasks`` task (default: the small GPT's chain sums)."""
    task = _task(task)
    device = _device(policy)
    out = []
    for a in range(0, len(prefixes), chunk):
        heads = [task.head_ids(p) + list(pre) for p, pre in zip(problems[a:a + chunk], prefixes[a:a + chunk])]
        x, xm, P = pack_prompts(heads, None, task.PAD, device=device)
        toks, _ = generate(policy, x, xm, max_len, task.EOS, pad_id=task.PAD, generator=gen,
                           banned_ids=task.banned_ids)
        out += [task.strip(toks[i, P:].tolist()) for i in range(len(heads))]
    return out


def _task(task):
    if task is None:
        from .tasks import ARITHMETIC
        return ARITHMETIC
    return task


def _device(model) -> torch.device:
    return next(model.parameters()).device


def step_prefixes(response_ids) -> list[list[int]]:
    """The states of one solution: the empty prefix, then the prefix after each complete step (';'),
    excluding the answer (a prefix that ends the solution is terminal, not a state)."""
    ids = [int(t) for t in response_ids]
    return [[]] + [ids[: i + 1] for i, t in enumerate(ids) if t == arithmetic.STEP_END]


def first_action(completion) -> tuple[list[int], bool]:
    """The first step of a completion (through its ';', or the whole answer with its EOS) and whether
    it ends the solution (terminal)."""
    ids = [int(t) for t in completion]
    for i, t in enumerate(ids):
        if t == arithmetic.STEP_END:
            return ids[: i + 1], False
    return ids, True


def stage_a(ref: GPT, problems, n_rollouts: int, mc_samples: int, max_len: int, seed: int, task=None,
            chunk: int = 512) -> StageA:
    """Base solutions, their states, and ``mc_samples`` completions of every state, all by ``ref``;
    states and rewards from ``task`` (default: the small GPT's chain sums)."""
    task = _task(task)
    gen = torch.Generator().manual_seed(seed)
    rep = [i for i in range(len(problems)) for _ in range(n_rollouts)]
    base = sample_continuations(ref, [problems[i] for i in rep], [[] for _ in rep], max_len, gen, chunk, task)
    rollouts = [(i, r, task.reward(problems[i], r)) for i, r in zip(rep, base)]
    states = [State(i, pre, t) for i, r in zip(rep, base) for t, pre in enumerate(task.step_prefixes(problems[i], r))]
    jobs = [(k, s) for k, s in enumerate(states) for _ in range(mc_samples)]
    comps = sample_continuations(ref, [problems[s.prompt] for _, s in jobs], [s.prefix for _, s in jobs],
                                 max_len, gen, chunk, task)
    for (k, s), c in zip(jobs, comps):
        s.completions.append(c)
        s.rewards.append(task.reward(problems[s.prompt], s.prefix + c))
    return StageA(problems, states, rollouts, generated=len(base) + len(comps))


def oracle_value(problem, response_ids) -> float:
    """1 when every step written so far is right (and, for a finished solution, the answer too), else 0:
    the value of a state under a policy that never errs again, from the generator-checked steps."""
    ids = [int(t) for t in response_ids if int(t) not in (arithmetic.PAD,)]
    text = arithmetic.decode(ids)
    if ids and ids[-1] == arithmetic.EOS or "A" in text:
        return arithmetic.verify(problem.terms, text) if arithmetic.first_wrong_step(problem.terms, text) is None else 0.0
    done = text.count(";")
    k = arithmetic.first_wrong_step(problem.terms, text)
    return 0.0 if (k is not None and k < done) else 1.0
