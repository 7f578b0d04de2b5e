"""The tasks DAPO's stages run on: what ``rollouts``, ``critic`` and ``experiment`` need from a task,
whatever the model (the small GPT of the laptop-scale set-up, or a pretrained LM behind
``paperlib.nn.hf.HFCausalLM``). One code path for both: the loops call only these methods.

A task gives
* ``PAD``, ``EOS``, ``banned_ids``: padding, the end of a response (kept in it), ids never sampled;
* ``head_ids(problem)``: the prompt's token ids (what the model reads before the response);
* ``strip(ids)``: a sampled response up to and including EOS, padding dropped;
* ``reward(problem, response_ids)``: the verifier's outcome reward in {0, 1};
* ``step_prefixes(problem, response_ids)``: the states of a solution, as response-token prefixes: the
  empty prefix, then the prefix through the last token of each reasoning step (the answer excluded:
  a prefix that ends the solution is terminal, not a state);
* ``first_action(problem, prefix, completion)``: the next step a of a completion written after the state
  ``prefix`` (its tokens through the step's last token; the whole rest, EOS kept, when that step is the
  answer) and whether it ends the solution;
* ``train_problems(cfg)``, ``eval_problems(cfg)``: a seed's training prompts, the held-out prompts
  (the same for every seed);
* for the positive control and the critic check (``has_step_labels``): ``oracle_value(problem, ids)``
  (1 while every step written is right, a finished solution: its reward), ``remaining_steps(problem,
  ids)``, ``finished(ids)``, and ``check_items(cfg)``: held-out worked solutions with a known first wrong
  step, as (problem, response ids, index of the first wrong step);
* ``chunk``: the most sequences per forward pass outside training (memory).

``ChainSumSteps``: ``paperlib.data.arithmetic`` on the small GPT; every method is the function the
small-GPT path always called (``rollouts.head_ids``, ``rollouts.step_prefixes``, ...), so its numbers do
not depend on this interface. ``ReasoningSteps``: a reasoning-gym task (``paperlib.data.reasoning``) on
an ``HFCausalLM``: a free-form response is cut into steps on its text (chain_sum:
``reasoning.response_steps``, each equation one step, then the answer; other tasks: one line one step),
and each step's end character is mapped to its token (``HFCausalLM.token_char_ends``,
``reasoning.char_to_token``). A state ends at the token that holds its step's last character; when that
token also holds the next step's first characters (a merge across the boundary), they stay in the state.
"""
from __future__ import annotations

import numpy as np

from ..data import arithmetic, reasoning
from . import rollouts


class ChainSumSteps:
    """Chain sums with worked steps for the small GPT (``arithmetic``); steps end at ``;``."""
    name = "arithmetic"
    PAD, EOS = arithmetic.PAD, arithmetic.EOS
    banned_ids = (arithmetic.BOS,)
    has_step_labels = True
    chunk = 256

    head_ids = staticmethod(rollouts.head_ids)
    strip = staticmethod(rollouts.strip)
    reward = staticmethod(rollouts.reward)
    oracle_value = staticmethod(rollouts.oracle_value)

    @staticmethod
    def step_prefixes(problem, response_ids) -> list[list[int]]:
        return rollouts.step_prefixes(response_ids)

    @staticmethod
    def first_action(problem, prefix, completion) -> tuple[list[int], bool]:
        return rollouts.first_action(completion)

    @staticmethod
    def finished(ids) -> bool:
        return bool(ids) and int(ids[-1]) == arithmetic.EOS

    @staticmethod
    def remaining_steps(problem, prefix) -> int:
        """Worked steps still to write after ``prefix`` (the answer not counted)."""
        return len(problem.terms) - 1 - sum(1 for t in prefix if int(t) == arithmetic.STEP_END)

    @staticmethod
    def train_problems(cfg):
        return arithmetic.sample_problems(cfg.n_prompts, 10_000 + cfg.seed, cfg.min_terms, cfg.max_terms,
                                          cfg.max_digits, width=cfg.width, min_digits=cfg.min_digits)

    @staticmethod
    def eval_problems(cfg, n: int | None = None):
        return arithmetic.sample_problems(n or cfg.eval_prompts, 777, cfg.min_terms, cfg.max_terms, cfg.max_digits,
                                          width=cfg.width, min_digits=cfg.min_digits)

    @staticmethod
    def check_problems(cfg):
        """Generator solutions with at least one wrong step (first wrong step known), held out."""
        out, s = [], 4242
        while len(out) < cfg.check_problems:
            out += [p for p in arithmetic.sample_problems(4 * cfg.check_problems, s, cfg.min_terms, cfg.max_terms,
                                                          cfg.max_digits, width=cfg.width, min_digits=cfg.min_digits,
                                                          p_error=cfg.p_error) if p.first_error is not None]
            s += 1
        return out[:cfg.check_problems]

    def check_items(self, cfg) -> list[tuple]:
        return [(p, arithmetic.encode(p.solution) + [arithmetic.EOS], p.first_error) for p in self.check_problems(cfg)]


ARITHMETIC = ChainSumSteps()


def line_steps(response: str) -> list[reasoning.Step]:
    """Steps of a response without per-step labels (e.g. gsm_symbolic): each line up to its newline, then
    the final answer (``reasoning.answer_span``) as the last step; lines from the answer's start on belong
    to it. Labels are unknown (``correct`` is False throughout; only the spans are used)."""
    ans = reasoning.answer_span(response)
    stop = ans[0] if ans is not None else len(response)
    steps, start = [], 0
    for k, ch in enumerate(response[:stop]):
        if ch == "\n":
            if response[start:k].strip():
                steps.append(reasoning.Step(start, k + 1, response[start:k + 1], False))
            start = k + 1
    end = ans[1] if ans is not None else len(response)
    steps.append(reasoning.Step(stop, end, response[stop:end], False, True))
    return steps


class ReasoningSteps:
    """A reasoning-gym task (``reasoning.DATASETS``) on a chat LM adapter ``lm`` (``HFCausalLM``);
    ``config`` goes to the generator (chain_sum: ``min_terms``, ``max_terms``, ``min_digits``,
    ``max_digits``). Prompts: the chat template with ``reasoning.SYSTEM_PROMPT``; verifier: the
    generator's ``score_answer`` (``reasoning.verify``). chain_sum has step labels (the oracle control
    and the critic check), other tasks do not."""
    chunk = 16

    def __init__(self, lm, dataset: str, **config):
        if dataset not in reasoning.DATASETS:
            raise ValueError(f"unknown reasoning-gym task {dataset!r}; valid: {reasoning.DATASETS}")
        self.task = reasoning.ReasoningTask(lm, dataset)  # sets the LM's system prompt
        self.lm, self.name, self.config = lm, dataset, dict(config)
        self.EOS, self.PAD = self.task.EOS, self.task.PAD
        self.banned_ids = self.task.banned_ids  # the opening token of a new turn (reasoning.ReasoningTask)
        self.has_step_labels = dataset == "chain_sum"

    # ------------------------------------------------------------ problems
    def problems(self, n: int, seed: int) -> list:
        return reasoning.make_problems(self.name, n, seed=seed, **self.config)

    def train_problems(self, cfg):
        return self.problems(cfg.n_prompts, 10_000 + cfg.seed)

    def eval_problems(self, cfg, n: int | None = None):
        return self.problems(n or cfg.eval_prompts, 777)

    # ------------------------------------------------------------ tokens
    def head_ids(self, problem) -> list[int]:
        return self.lm.prompt_ids(problem.prompt)

    def strip(self, ids) -> list[int]:
        out = []
        for t in ids:
            t = int(t)
            if t == self.PAD:
                break
            out.append(t)
            if t == self.EOS:
                break
        return out

    def reward(self, problem, response_ids) -> float:
        return reasoning.verify(problem, self.lm.decode(response_ids))

    def finished(self, ids) -> bool:
        return bool(ids) and int(ids[-1]) == self.EOS

    # ------------------------------------------------------------ steps
    def steps(self, problem, text: str) -> list[reasoning.Step]:
        return reasoning.response_steps(problem, text) if self.name == "chain_sum" else line_steps(text)

    def step_ends(self, problem, response_ids) -> tuple[list[tuple[int, reasoning.Step]], int]:
        """Each step of the response with the index of the token holding its last character, and the
        number of real (decoded) response tokens."""
        ids = [int(t) for t in response_ids]
        ends = self.lm.token_char_ends(ids)
        text = self.lm.decode(ids)
        out = []
        for s in self.steps(problem, text):
            k = len(ends) - 1 if s.start == s.end else reasoning.char_to_token(ends, s.end)
            out.append((k, s))
        return out, len(ends)

    def step_prefixes(self, problem, response_ids) -> list[list[int]]:
        ids = [int(t) for t in response_ids]
        steps, n_real = self.step_ends(problem, ids)
        out, last = [[]], -1
        for k, s in steps:
            if s.is_answer:
                break
            if last < k < n_real - 1:  # a new token, and not the whole response
                out.append(ids[:k + 1])
                last = k
        return out

    def first_action(self, problem, prefix, completion) -> tuple[list[int], bool]:
        """The steps of prefix + completion, read on the whole text; the first one that ends inside the
        completion is the action (through its last token), unless it is the answer or ends the text."""
        prefix, completion = [int(t) for t in prefix], [int(t) for t in completion]
        full = prefix + completion
        steps, n_real = self.step_ends(problem, full)
        for k, s in steps:
            if k < len(prefix):
                continue
            if s.is_answer or k >= n_real - 1:
                break
            return full[len(prefix):k + 1], False
        return completion, True

    # ------------------------------------------------------------ step labels (chain_sum)
    def _need_labels(self):
        if not self.has_step_labels:
            raise ValueError(f"step labels (oracle control, critic check) exist for chain_sum only, not {self.name}")

    def equation_steps(self, problem, ids) -> list[reasoning.Step]:
        """The worked steps (equations) in ``ids``, labelled; a dummy tagged answer closes an unfinished
        prefix so that its last number is not read as the answer."""
        self._need_labels()
        text = self.lm.decode(ids)
        if self.finished(ids):
            return [s for s in reasoning.response_steps(problem, text) if not s.is_answer]
        return reasoning.response_steps(problem, text + "\n<answer></answer>")[:-1]

    def oracle_value(self, problem, ids) -> float:
        ids = [int(t) for t in ids]
        if self.finished(ids):
            self._need_labels()
            steps = reasoning.response_steps(problem, self.lm.decode(ids))
            return float(all(s.correct for s in steps))
        return float(all(s.correct for s in self.equation_steps(problem, ids)))

    def remaining_steps(self, problem, prefix) -> int:
        return len(problem.terms) - 1 - len(self.equation_steps(problem, [int(t) for t in prefix]))

    def check_items(self, cfg) -> list[tuple]:
        """Held-out chain_sum solutions in the prompted format with one wrong step: step k's result is off
        by a nonzero amount (k uniform over the steps), the steps after it go on from the wrong total,
        and the answer is the wrong total; first wrong step k."""
        self._need_labels()
        rng = np.random.default_rng(4242)
        out = []
        for p in self.problems(cfg.check_problems, 4242):
            terms = p.terms
            if len(terms) < 2:
                continue
            k = int(rng.integers(len(terms) - 1))
            lines, left = [], terms[0]
            for j, t in enumerate(terms[1:]):
                res = left + t
                if j == k:
                    res += int(rng.choice([-1, 1])) * int(rng.integers(1, 10))
                lines.append(f"{left} {'+' if t >= 0 else '-'} {abs(t)} = {res}")
                left = res
            text = "\n".join(lines) + f"\n<answer>{left}</answer>"
            out.append((p, self.lm.response_ids(text), k))
        return out
