"""Offline (prompt, response, reward) data for A-LoL that no trained policy generated.

Task 1 is the shared chain-sum arithmetic (``paperlib.data.arithmetic``) with responses from three
sources of mixed quality, each with a *systematic* habit, as a pre-existing offline dataset of
human or model answers would hold:

* ``correct``: the exact worked solution;
* ``sloppy``: always forgets the carry into the hundreds (partly wrong: the steps before the first
  such carry are right);
* ``wrong``: adds digit by digit and never carries (mostly wrong).

Because the habits are systematic, the most frequent continuation in the data is wrong where the
sloppy and wrong sources outnumber the correct one: imitation (NLL) learns the majority habit and
greedy decoding shows it, so improving on the reference needs the rewards. The reward is a
program, graded credit in [0, 1] (``step_credit``): half for the share of steps that are right as
written (each step checked on its own: it adds the right term to the partial sum the response wrote
before it), half for the final answer. The prompts vary in difficulty: 2 to 6 terms of one or two
digits, so some need no carry at all (every source answers them right, and pi_ref's value V(x) is
high) while others carry at most steps (V(x) low). The advantage A = R - V(x) then differs from the
reward R: a right answer to an easy prompt has a large R and a small A, a partly right answer to a
hard prompt a small R and a positive A (``weight_overlap`` measures how much of their sampling
weight the two share). The *noisy* split is mostly ``wrong`` responses with a few good ones (the
paper's robustness case).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import arithmetic

SOURCES = ("correct", "sloppy", "wrong")
MIXES = {"main": {"correct": 0.3, "sloppy": 0.4, "wrong": 0.3},
         "noisy": {"correct": 0.1, "sloppy": 0.2, "wrong": 0.7}}


def steps_right(terms: list[int], response: str) -> int:
    """How many steps of ``response`` are right as written: step i reads ``a+b=c`` with ``a`` the sum
    the previous step wrote (the first term for step 0; any ``a`` after an unreadable step),
    ``b`` the prompt's next term and ``c = a + b``. Missing steps are wrong."""
    steps = response.split(";")
    prev, right = terms[0], 0
    for i, t in enumerate(terms[1:]):
        if i >= len(steps):
            break
        try:
            lhs, rhs = steps[i].split("=")
            a, b = (arithmetic.from_lsb(x) for x in lhs.split("+"))
            c = arithmetic.from_lsb(rhs)
        except ValueError:
            prev = None
            continue
        if None not in (a, b, c) and (prev is None or a == prev) and b == t and c == a + b:
            right += 1
        prev = c
    return right


def step_credit(terms: list[int], response: str) -> float:
    """Graded reward in [0, 1]: 0.5 * (steps right as written) / steps + 0.5 * (final answer right)."""
    return 0.5 * steps_right(terms, response) / (len(terms) - 1) + 0.5 * arithmetic.verify(terms, response)


def add_without_carries(a: int, b: int) -> int:
    """Digit-by-digit sum with every carry dropped (each digit (a_i + b_i) mod 10)."""
    out, place = 0, 1
    while a or b:
        out += ((a % 10 + b % 10) % 10) * place
        a, b, place = a // 10, b // 10, place * 10
    return out


def carry_free_solution(terms: list[int], width: int) -> arithmetic.Problem:
    """The ``wrong`` source: every step adds without carrying; later steps continue from it."""
    prob = arithmetic.Problem(list(terms), width=width)
    left = terms[0]
    for i, t in enumerate(terms[1:]):
        written = add_without_carries(left, t)
        if written != left + t and prob.first_error is None:
            prob.first_error = i
        prob.steps.append((left, t, written))
        left = written
    return prob


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


def mix_probabilities(mix: str | dict, mixes: dict, valid: tuple, what: str):
    """(source names, normalised probabilities) of ``mix``: a name in ``mixes`` or a {source: weight} dict."""
    weights = mixes[mix] if isinstance(mix, str) else mix
    bad = sorted(set(weights) - set(valid))
    if bad:
        raise ValueError(f"unknown {what}(s) {bad}; valid: {valid}")
    names = list(weights)
    probs = np.array([weights[k] for k in names], float)
    return names, probs / probs.sum()


def weight_overlap(rewards, advantages) -> float:
    """The share of sampling weight that reward weighting (wNLL: in proportion to R) and A-LoL's
    priority sampling (in proportion to A+ = max(A, 0)) put on the same examples:
    sum_i min(R_i / sum R, A+_i / sum A+), 1 when the two draw identical batches, 0 when disjoint."""
    r = np.clip(np.asarray(rewards, float), 0.0, None)
    a = np.clip(np.asarray(advantages, float), 0.0, None)
    if r.sum() <= 0 or a.sum() <= 0:
        raise ValueError("weight_overlap needs some positive reward and some positive advantage")
    return float(np.minimum(r / r.sum(), a / a.sum()).sum())


def make_offline_data(n_prompts: int, seed: int, mix: str | dict = "main", responses_per_prompt: int = 2,
                      min_terms: int = 2, max_terms: int = 6, width: int = 3, min_digits: int = 1,
                      exclude_prompts=frozenset()) -> OfflineData:
    """``n_prompts`` distinct-from-``exclude_prompts`` chain sums (2..``max_terms`` terms of
    ``min_digits``..2 digits: prompts of varied difficulty) with ``responses_per_prompt`` responses
    each, every response's source drawn independently from ``mix``. A prompt whose text is in
    ``exclude_prompts`` is redrawn: dev and test splits exclude the training prompts (and each other)."""
    names, probs = mix_probabilities(mix, MIXES, SOURCES, "response source")
    if not 2 <= min_terms <= max_terms:
        raise ValueError(f"need 2 <= min_terms <= max_terms, got {min_terms}, {max_terms}")
    rng = np.random.default_rng(seed)
    problems, responses, sources = [], [], []
    for _ in range(n_prompts):
        for _ in range(1000):
            terms = arithmetic.make_problem(rng, int(rng.integers(min_terms, max_terms + 1)), 2, 0.0, width,
                                            min_digits=min_digits).terms
            if arithmetic.Problem(terms, width=width).prompt not in exclude_prompts:
                break
        else:
            raise ValueError("could not draw a prompt outside exclude_prompts in 1000 tries")
        for _ in range(responses_per_prompt):
            src = names[int(rng.choice(len(names), p=probs))]
            if src == "wrong":
                p = carry_free_solution(terms, width)
            else:
                p = arithmetic.solve(terms, rng, 1.0 if src == "sloppy" else 0.0, width)
            problems.append(p)
            responses.append(p.solution)
            sources.append(src)
    rewards = np.array([step_credit(p.terms, r) for p, r in zip(problems, responses)])
    return OfflineData(problems, responses, rewards, sources, responses_per_prompt)
