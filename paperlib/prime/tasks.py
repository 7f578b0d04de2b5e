"""The tasks PRIME's RL loop (``trainer``) runs on: what it needs from a task, whatever the model.

A task gives the loop
* ``sample(rng, n)``: ``n`` fresh training prompts (problems), drawn with the numpy generator ``rng``;
* ``encode_prompts(problems, device)``: left-padded prompt tokens and their real-token mask;
* ``EOS``, ``PAD``, ``banned_ids``: the end of a response, the padding id, ids never sampled;
* ``reward(problem, response_ids)``: the rule-based verifier's outcome reward r_o in {0, 1};
* ``oracle_rewards(problem, response_ids)``: the positive control's dense reward, -1 on the last token
  of the first wrong step, 0 elsewhere (one value per response id).

``ArithmeticTask``: the chain sums of the small GPT (``paperlib.data.arithmetic``), the laptop-scale set-up
(SFT model = policy init = PRM init = reference). With ``false_positive`` > 0 its training verifier also passes
that share of wrong answers (``reward``), a fixed share chosen by a hash of the prompt and the response, so one
rollout gets one verdict in every arm and run; ``exact_reward`` is the exact verifier, which every accuracy the
notebook reports uses (training accuracy, held-out accuracy, the bank's labels). ``ReasoningGymTask``: a reasoning-gym task
(``paperlib.data.reasoning``: ``chain_sum``, with step labels for the oracle, or ``gsm_symbolic``) on a
pretrained chat LM behind ``paperlib.nn.hf.HFCausalLM``, the paper's recipe without SFT (the instruct LM is
policy init = PRM init = reference, as PRIME initialises all three from one model).
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..data import arithmetic, reasoning


class ArithmeticTask:
    """Chain sums of ``min_terms``..``max_terms`` terms of ``min_digits``..``max_digits`` digits,
    zero-filled to ``width``; the small GPT's vocabulary (``arithmetic``)."""
    EOS, PAD = arithmetic.EOS, arithmetic.PAD
    banned_ids = (arithmetic.BOS,)
    name = "arithmetic"

    def __init__(self, min_terms: int, max_terms: int, min_digits: int, max_digits: int, width: int,
                 false_positive: float = 0.0):
        if not 0.0 <= false_positive < 1.0:
            raise ValueError(f"false_positive is the share of wrong answers the training verifier passes: it must "
                             f"lie in [0, 1), got {false_positive}")
        self.min_terms, self.max_terms = min_terms, max_terms
        self.min_digits, self.max_digits, self.width = min_digits, max_digits, width
        self.false_positive = float(false_positive)

    @classmethod
    def from_config(cls, cfg) -> "ArithmeticTask":
        """The task an ``RLConfig`` describes (its ``min_terms``, ..., ``width``, ``false_positive``)."""
        return cls(cfg.min_terms, cfg.max_terms, cfg.min_digits, cfg.max_digits, cfg.width,
                   getattr(cfg, "false_positive", 0.0))

    def sample(self, rng: np.random.Generator, n: int) -> list:
        return [arithmetic.make_problem(rng, int(rng.integers(self.min_terms, self.max_terms + 1)), self.max_digits,
                                        width=self.width, min_digits=self.min_digits) for _ in range(n)]

    def encode_prompts(self, problems, device="cpu"):
        tokens, mask, _ = arithmetic.encode_batch([p.prompt for p in problems], device=device)
        return tokens, mask

    @staticmethod
    def exact_reward(problem, response_ids) -> float:
        """The exact verifier: 1 when the final answer is the true sum."""
        return arithmetic.verify(problem.terms, arithmetic.decode(response_ids))

    def reward(self, problem, response_ids) -> float:
        """The training verifier: exact, except that a wrong answer passes when its ``lucky_draw`` falls below
        ``false_positive``."""
        r = self.exact_reward(problem, response_ids)
        if r == 1.0 or self.false_positive == 0.0:
            return r
        return float(lucky_draw(problem.prompt, arithmetic.decode(response_ids)) < self.false_positive)

    @staticmethod
    def oracle_rewards(problem, response_ids) -> list[float]:
        return arithmetic.oracle_step_rewards(problem.terms, response_ids)


def lucky_draw(prompt: str, response: str) -> float:
    """A uniform number in [0, 1) fixed by the prompt and the response text (SHA-256): the noisy verifier's
    draw, the same for the same rollout in every arm, seed and process."""
    h = hashlib.sha256(f"{prompt}|{response}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


class ReasoningGymTask:
    """A reasoning-gym dataset (``reasoning.DATASETS``) on a chat LM adapter ``lm``; ``config`` goes to the
    generator (chain_sum: ``min_terms``, ``max_terms``, ``min_digits``, ``max_digits``, ...). Prompts are the
    chat template with ``reasoning.SYSTEM_PROMPT``; the verifier is the generator's own ``score_answer``
    (``reasoning.verify``). Each ``sample`` call is a fresh generator dataset seeded from ``rng``."""

    def __init__(self, lm, dataset: str, **config):
        if dataset not in reasoning.DATASETS:
            raise ValueError(f"unknown reasoning-gym task {dataset!r}; valid: {reasoning.DATASETS}")
        self.task = reasoning.ReasoningTask(lm, dataset)  # sets the LM's system prompt
        self.lm, self.name, self.config = lm, dataset, dict(config)
        self.EOS, self.PAD = self.task.EOS, self.task.PAD
        self.banned_ids = self.task.banned_ids  # the opening token of a new turn (reasoning.ReasoningTask)

    def sample(self, rng: np.random.Generator, n: int) -> list:
        return reasoning.make_problems(self.name, n, seed=int(rng.integers(2**31)), **self.config)

    def problems(self, n: int, seed: int) -> list:
        """``n`` fixed problems (held-out evaluation, the bank)."""
        return reasoning.make_problems(self.name, n, seed=seed, **self.config)

    def encode_prompts(self, problems, device="cpu"):
        return self.lm.encode_prompts([p.prompt for p in problems], device=device)

    def reward(self, problem, response_ids) -> float:
        return reasoning.verify(problem, self.lm.decode(response_ids))

    def oracle_rewards(self, problem, response_ids) -> list[float]:
        if self.name != "chain_sum":
            raise ValueError(f"the oracle process reward needs step labels, which only chain_sum has, not {self.name}")
        return reasoning.oracle_process_rewards(problem, response_ids, self.lm)
