"""The tasks A-LoL is trained on, behind one small interface so that the reference, the value head
and every offline method run unchanged on each:

* ``encode_batch(prompts, responses=None)`` -> (tokens, real-token mask, P): ``<bos> prompt``
  left-padded to width P, then ``response <eos>`` right-padded;
* ``decode(ids)`` -> response text; ``reward(problem, response)`` -> float in [0, ``max_value``];
* ``vocab_size``, ``PAD``/``BOS``/``EOS`` ids, ``max_new_tokens``, ``block_size``, ``max_value``
  (the value head's sigmoid scale, as the official ``max_value``).

A *problem* is any object with a ``prompt`` string (plus whatever its reward needs).
"""
from __future__ import annotations

from ..data import arithmetic as _arith
from ..nn.gpt import pack_prompts
from . import review as _review
from .data import step_credit


class Task:
    """What every task shares: ``encode_batch`` in the GPT's layout from the task's ``encode`` (text ->
    ids), and an optional shorter generation budget."""
    PAD, BOS, EOS = 0, 1, 2
    max_new_tokens = 100

    def __init__(self, max_new_tokens: int | None = None):
        if max_new_tokens is not None:
            self.max_new_tokens = max_new_tokens

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_batch(self, prompts, responses=None):
        tails = [self.encode(r) + [self.EOS] for r in responses] if responses is not None else None
        return pack_prompts([[self.BOS] + self.encode(p) for p in prompts], tails, self.PAD)


class ArithmeticTask(Task):
    """Task 1: chain sums with worked steps, graded step-credit reward (``paperlib.data.arithmetic``)."""
    name = "arithmetic"
    vocab_size = _arith.VOCAB_SIZE
    PAD, BOS, EOS = _arith.PAD, _arith.BOS, _arith.EOS
    max_new_tokens = 100
    block_size = 112
    max_value = 1.0

    def encode(self, text: str) -> list[int]:
        return _arith.encode(text)

    def decode(self, ids) -> str:
        return _arith.decode(ids)

    def reward(self, problem, response: str) -> float:
        return step_credit(problem.terms, response)


class ReviewTask(Task):
    """Task 2: short product reviews, reward = the sum of five programs (``paperlib.alol.review``)."""
    name = "review"
    vocab_size = len(_review.VOCAB)
    PAD, BOS, EOS = _review.PAD, _review.BOS, _review.EOS
    max_new_tokens = 48
    block_size = 80  # a prompt of up to 10 tokens and the longest offline review
    max_value = 5.0

    def encode(self, text: str) -> list[int]:
        return _review.encode(text)

    def decode(self, ids) -> str:
        return _review.decode(ids)

    def reward(self, problem: _review.ReviewPrompt, response: str) -> float:
        return _review.review_reward(problem, response)


def get_task(name: str):
    """The task called ``name`` (``arithmetic`` or ``review``)."""
    if name == "arithmetic":
        return ArithmeticTask()
    if name == "review":
        return ReviewTask()
    raise ValueError(f"unknown A-LoL task {name!r}; valid: ['arithmetic', 'review']")
