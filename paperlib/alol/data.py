"""Offline (prompt, response, reward) data for A-LoL that no trained policy generated.

Task 1 is the shared chain-sum arithmetic (``paperlib.data.arithmetic``) with responses from three
sources of mixed quality, as a pre-existing offline dataset would hold:

* ``correct``: the exact worked solution;
* ``sloppy``: a worked solution whose carries into the hundreds are forgotten with probability 0.5
  (partly wrong: the steps before the first slip are right);
* ``wrong``: every step's sum replaced by random digits with probability ``p_garble`` (mostly wrong).

The reward is a program, partial credit in [0, 1]: half for the share of steps that are right
before the first wrong one, half for the final answer. The *noisy* split is mostly ``wrong``
responses with a few good ones (the paper's robustness case).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import arithmetic as task

SOURCES = ("correct", "sloppy", "wrong")
MIXES = {"main": {"correct": 0.3, "sloppy": 0.4, "wrong": 0.3},
         "noisy": {"correct": 0.05, "sloppy": 0.15, "wrong": 0.8}}


def partial_credit(terms: list[int], response: str) -> float:
    """0.5 * (right steps before the first wrong one) / steps + 0.5 * (final answer right)."""
    n = len(terms) - 1
    first = task.first_wrong_step(terms, response)
    right = n if first is None else first
    return 0.5 * right / n + 0.5 * task.verify(terms, response)


def garbled_solution(problem: task.Problem, rng: np.random.Generator, p_garble: float) -> str:
    """The worked solution with each step's sum replaced by random digits with probability
    ``p_garble``; later steps continue from what was written."""
    w = problem.width or 3
    left = problem.terms[0]
    parts = []
    for t in problem.terms[1:]:
        s = left + t
        if rng.random() < p_garble:
            s = int(rng.integers(0, 10 ** w))
        parts.append(f"{task.lsb(left, problem.width)}+{task.lsb(t, problem.width)}={task.lsb(s, problem.width)}")
        left = s
    return ";".join(parts) + f";A{task.lsb(left, problem.width)}"


@dataclass
class OfflineData:
    """Prompts with ``responses_per_prompt`` responses each (rows of the same prompt are adjacent)."""
    problems: list  # arithmetic.Problem of each row (its ``terms`` and ``prompt`` are the prompt)
    responses: list[str]
    rewards: np.ndarray
    sources: list[str] = field(default_factory=list)
    responses_per_prompt: int = 1

    def __len__(self) -> int:
        return len(self.responses)

    def subset(self, idx) -> "OfflineData":
        idx = list(idx)
        return OfflineData([self.problems[i] for i in idx], [self.responses[i] for i in idx],
                           self.rewards[idx], [self.sources[i] for i in idx], 1)

    def pairs(self) -> list[tuple[int, int]]:
        """(chosen, rejected) rows: per prompt, the higher-reward response against the lower one
        (ties skipped), for DPO."""
        k = self.responses_per_prompt
        out = []
        for start in range(0, len(self), k):
            rows = sorted(range(start, start + k), key=lambda i: -self.rewards[i])
            if self.rewards[rows[0]] > self.rewards[rows[-1]]:
                out.append((rows[0], rows[-1]))
        return out


def make_offline_data(n_prompts: int, seed: int, mix: str | dict = "main", responses_per_prompt: int = 2,
                      min_terms: int = 3, max_terms: int = 6, width: int = 3, p_slip: float = 0.5,
                      p_garble: float = 0.5) -> OfflineData:
    """``n_prompts`` chain sums with ``responses_per_prompt`` responses each, every response's source
    drawn independently from ``mix``."""
    weights = MIXES[mix] if isinstance(mix, str) else mix
    bad = sorted(set(weights) - set(SOURCES))
    if bad:
        raise ValueError(f"unknown response source(s) {bad}; valid: {SOURCES}")
    rng = np.random.default_rng(seed)
    names = list(weights)
    probs = np.array([weights[k] for k in names], float)
    probs /= probs.sum()
    problems, responses, sources = [], [], []
    for _ in range(n_prompts):
        terms = task.make_problem(rng, int(rng.integers(min_terms, max_terms + 1)), 2, 0.0, width, min_digits=2).terms
        for _ in range(responses_per_prompt):
            src = names[int(rng.choice(len(names), p=probs))]
            p = task.solve(terms, rng, p_slip if src == "sloppy" else 0.0, width)
            problems.append(p)
            responses.append(garbled_solution(p, rng, p_garble) if src == "wrong" else p.solution)
            sources.append(src)
    rewards = np.array([partial_credit(p.terms, r) for p, r in zip(problems, responses)])
    return OfflineData(problems, responses, rewards, sources, responses_per_prompt)
