"""Reasoning tasks with verifiable answers for a real pretrained LM, from PyPI ``reasoning-gym``
(``pip install reasoning-gym==0.1.25``; procedural generators, each with its own ``score_answer``):

* ``gsm_symbolic``: GSM8K-derived word problems with fresh numbers (its ``answer_cot`` is a worked
  solution ending ``#### N``);
* ``chain_sum``: chain additions and subtractions (``1663 - 5242 - 9376 =``), where the running total
  defines every step, so a response's steps can be labelled right or wrong: the oracle process
  reward of the PRIME reproduction (``first_wrong_step``, ``oracle_process_rewards``).

Prompts ask for steps one calculation a line and the final answer in reasoning-gym's own answer tags
(``<answer>N</answer>``, its ``extract_answer``); a response without tags is read by its last number
(the GSM8K convention), because a 135M-parameter instruct model often forgets the tags. The verifier
is the generator's ``score_answer`` on that answer; the RL reward is 1 when it accepts the answer
(score 1.0), else 0 (gsm_symbolic's score gives 0.01 to any wrong number; ``score`` keeps it).

``ReasoningTask`` puts a task behind the interface of A-LoL's tasks (``encode_batch``, ``decode``,
``reward``, ``PAD``/``BOS``/``EOS``, ``max_new_tokens``, ``block_size``) on a language model adapter
(``paperlib.nn.hf.HFCausalLM``), whose chat template formats the prompts.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

DATASETS = ("gsm_symbolic", "chain_sum")
INSTALL = "pip install reasoning-gym==0.1.25"

# what every prompt asks for, as the system turn of the chat template
SYSTEM_PROMPT = ("Solve the problem step by step. Write each calculation on its own line, like 12 + 7 = 19. "
                 "Then give the final number inside answer tags, like <answer>19</answer>.")


def _rg():
    try:
        import reasoning_gym
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"the reasoning tasks come from PyPI reasoning-gym: {INSTALL}") from None
    return reasoning_gym


@dataclass
class ReasoningProblem:
    """One generated problem: reasoning-gym's entry (``question``, ``answer``, ``metadata``)."""
    dataset: str
    question: str
    answer: str
    metadata: dict = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The user turn (the chat template and system prompt are added when encoding)."""
        return self.question

    @property
    def entry(self) -> dict:
        return {"question": self.question, "answer": self.answer, "metadata": self.metadata}

    @property
    def terms(self) -> list[int]:
        """chain_sum: the signed terms of the expression (``5 - -3 + 2`` -> [5, 3, 2])."""
        if self.dataset != "chain_sum":
            raise ValueError(f"{self.dataset} problems have no chain of terms")
        return chain_terms(self.metadata["expression"])

    @property
    def solution(self) -> str:
        """A worked solution in the prompted format (for SFT or offline data): chain_sum's running
        totals; gsm_symbolic's own ``answer_cot`` with its ``#### N`` turned into answer tags."""
        if self.dataset == "chain_sum":
            return chain_solution(self.metadata["expression"])
        cot = self.metadata.get("answer_cot", "")
        body = cot.rsplit("####", 1)[0].strip()
        return f"{body}\n<answer>{self.answer}</answer>"


def make_problems(dataset: str, n: int, seed: int, **config) -> list[ReasoningProblem]:
    """``n`` problems of ``dataset`` (``DATASETS``) from reasoning-gym's generator with ``seed``;
    ``config`` goes to its config (chain_sum: ``min_terms``, ``max_terms``, ``min_digits``,
    ``max_digits``, ``allow_negation``; gsm_symbolic: ``difficulty``)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown reasoning dataset {dataset!r}; valid: {DATASETS}")
    ds = _rg().create_dataset(dataset, size=n, seed=seed, **config)
    return [ReasoningProblem(dataset, e["question"], str(e["answer"]), dict(e["metadata"])) for e in ds]


# ------------------------------------------------------------------ answers and the verifier
NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
_ANSWER_TAG = re.compile(r"<answer>\s?(.*?)\s?</answer>", re.DOTALL)


def answer_span(response: str) -> tuple[int, int] | None:
    """Character span of the final answer: the last ``<answer>...</answer>`` (tags included), else
    the last number; None when the response has neither."""
    tags = list(_ANSWER_TAG.finditer(response))
    if tags:
        return tags[-1].span()
    nums = list(re.finditer(NUMBER, response))
    return nums[-1].span() if nums else None


def extract_answer(response: str) -> str | None:
    """The final answer: reasoning-gym's ``extract_answer`` (the last answer tag), else the last
    number of the response (commas dropped), else None."""
    tagged = _rg().utils.extract_answer(response)
    if tagged is not None:
        return tagged
    nums = re.findall(NUMBER, response)
    return nums[-1].replace(",", "") if nums else None


def score(problem: ReasoningProblem, response: str) -> float:
    """The generator's own ``score_answer`` of the extracted answer (in [0, 1])."""
    fn = _rg().get_score_answer_fn(problem.dataset)
    return float(fn(extract_answer(response), problem.entry))


def verify(problem: ReasoningProblem, response: str) -> float:
    """The outcome reward: 1.0 when the verifier accepts the final answer (score 1.0), else 0.0."""
    return float(score(problem, response) >= 1.0)


# ------------------------------------------------------------------ chain_sum steps (oracle PRM)
def chain_terms(expression: str) -> list[int]:
    """Signed terms of a chain expression ``a op b op c`` (op in + -; terms may be negative)."""
    parts = expression.split()
    if len(parts) % 2 == 0:
        raise ValueError(f"not a chain expression: {expression!r}")
    terms = [int(parts[0])]
    for op, num in zip(parts[1::2], parts[2::2]):
        if op not in "+-":
            raise ValueError(f"operator {op!r} in {expression!r}; a chain sum has + and - only")
        terms.append(int(num) if op == "+" else -int(num))
    return terms


def partial_sums(terms: list[int]) -> list[int]:
    """Running totals after 2, 3, ..., n terms: the value of every step of the chain."""
    out, total = [], terms[0]
    for t in terms[1:]:
        total += t
        out.append(total)
    return out


def _fmt_step(left: int, t: int) -> str:
    return f"{left} {'+' if t >= 0 else '-'} {abs(t)} = {left + t}"


def chain_solution(expression: str) -> str:
    """One line per step (``1663 - 5242 = -3579``), then ``<answer>total</answer>``."""
    terms = chain_terms(expression)
    lines, left = [], terms[0]
    for t in terms[1:]:
        lines.append(_fmt_step(left, t))
        left += t
    return "\n".join(lines) + f"\n<answer>{left}</answer>"


_EQUATION = re.compile(rf"({NUMBER}(?:\s*[-+]\s*{NUMBER})+)\s*=\s*({NUMBER})")
_TERM = re.compile(rf"([-+])?\s*({NUMBER})")


def _to_number(s: str) -> float:
    return float(s.replace(",", ""))


@dataclass
class Step:
    """A step of a response: its character span, text and label."""
    start: int
    end: int
    text: str
    correct: bool
    is_answer: bool = False


def response_steps(problem: ReasoningProblem, response: str) -> list[Step]:
    """The steps of a chain_sum response, in order: every equation ``a +- b ... = c`` it writes, then
    its final answer. An equation is right when its arithmetic is right *and* its result is one of
    the chain's true running totals (a step that computes correctly from a wrong number has left the
    chain); the answer step is right when the verifier accepts it. A response with no answer ends
    with an empty answer step at its end (wrong)."""
    totals = set(partial_sums(problem.terms))
    text = response.replace("\u2212", "-")  # Unicode minus, same length
    ans = answer_span(text)
    tagged = ans is not None and text.startswith("<answer>", ans[0])
    steps = []
    for m in _EQUATION.finditer(text):
        if tagged and m.start() >= ans[0]:
            break
        value = sum(-_to_number(num) if op == "-" else _to_number(num) for op, num in _TERM.findall(m.group(1)))
        rhs = _to_number(m.group(2))
        steps.append(Step(m.start(), m.end(), m.group(0), abs(value - rhs) < 1e-9 and rhs in totals))
    accepted = bool(verify(problem, text))
    if ans is None:
        steps.append(Step(len(text), len(text), "", False, True))
    elif not tagged and steps and steps[-1].end == ans[1]:
        # an untagged answer that closes the last equation is that equation's result
        last = steps.pop()
        steps.append(Step(last.start, last.end, last.text, last.correct and accepted, True))
    else:
        steps.append(Step(ans[0], ans[1], text[ans[0]:ans[1]], accepted, True))
    return steps


def first_wrong_step(problem: ReasoningProblem, response: str) -> int | None:
    """Index (into ``response_steps``) of the first wrong step, None when every step is right."""
    return next((i for i, s in enumerate(response_steps(problem, response)) if not s.correct), None)


def char_to_token(char_ends: list[int], pos: int) -> int:
    """The token holding character ``pos - 1`` (the last character of a span ending at ``pos``), given
    each token's decoded end offset (``HFCausalLM.token_char_ends``); the last token if past the end."""
    for k, e in enumerate(char_ends):
        if e >= pos and (pos > 0 or e > 0):
            return k
    return max(0, len(char_ends) - 1)


def oracle_process_rewards(problem: ReasoningProblem, response_ids, lm) -> list[float]:
    """A dense oracle reward over the response tokens (``len(response_ids)`` values): -1 on the last
    token of the first wrong step, 0 elsewhere (all zeros when every step is right). ``lm`` decodes
    (``decode``, ``token_char_ends``: an ``HFCausalLM``). A response with no final answer gets its -1
    on its last token (its EOS when it has one)."""
    ids = [int(i) for i in response_ids]
    text = lm.decode(ids)
    out = [0.0] * len(ids)
    steps = response_steps(problem, text)
    k = next((i for i, s in enumerate(steps) if not s.correct), None)
    if k is None or not ids:
        return out
    ends = lm.token_char_ends(ids)
    step = steps[k]
    n_real = len(ends) + (1 if len(ends) < len(ids) and ids[len(ends)] == lm.eos_id else 0)
    pos = n_real - 1 if (step.is_answer and step.start == step.end) else char_to_token(ends, step.end)
    out[max(0, min(pos, n_real - 1))] = -1.0
    return out


# ------------------------------------------------------------------ the task on a language model
class ChatTask:
    """What every task on a chat LM adapter shares (A-LoL's task interface): ``encode_batch`` (chat-formatted
    prompts, left-padded, then responses + EOS), ``decode``, ``PAD``/``BOS``/``EOS``, ``vocab_size``,
    ``block_size``, ``max_new_tokens``, ``max_value`` and ``banned_ids``. Sets the adapter's system prompt to
    ``system_prompt``. A subclass adds ``reward(problem, response)``."""
    max_value = 1.0

    def __init__(self, lm, name: str, max_new_tokens: int, system_prompt: str | None, block_size: int | None = None):
        self.lm, self.name, self.max_new_tokens = lm, name, max_new_tokens
        lm.system_prompt = system_prompt
        self.PAD, self.EOS = lm.pad_id, lm.eos_id
        self.BOS = lm.bos_id if lm.bos_id is not None else lm.pad_id
        self.vocab_size = lm.cfg.vocab_size
        self.block_size = block_size or lm.cfg.block_size
        # a new turn's opening token (SmolLM2: <|im_start|>) is never part of a response: samplers ban it
        self.banned_ids = (self.BOS,) if self.BOS not in (self.EOS, self.PAD) else ()

    def encode_batch(self, prompts, responses=None):
        return self.lm.encode_batch(prompts, responses)

    def decode(self, ids) -> str:
        return self.lm.decode(ids)


class ReasoningTask(ChatTask):
    """A reasoning-gym task on an LM adapter (``ChatTask``), its reward the generator's verifier. Sets the
    adapter's system prompt to ``system_prompt``."""

    def __init__(self, lm, dataset: str, max_new_tokens: int = 256, system_prompt: str | None = SYSTEM_PROMPT,
                 block_size: int | None = None):
        if dataset not in DATASETS:
            raise ValueError(f"unknown reasoning dataset {dataset!r}; valid: {DATASETS}")
        super().__init__(lm, dataset, max_new_tokens, system_prompt, block_size)

    def reward(self, problem: ReasoningProblem, response: str) -> float:
        return verify(problem, response)


def as_dataset(problems: list[ReasoningProblem], lm=None):
    """Problems as a Hugging Face ``datasets.Dataset``: ``dataset``, ``question``, ``answer``,
    ``solution`` (a worked solution in the prompted format), ``metadata`` (JSON text), and with
    ``lm`` (an ``HFCausalLM``) ``prompt``, the text its chat template gives the model."""
    import datasets

    cols = {"dataset": [p.dataset for p in problems], "question": [p.question for p in problems],
            "answer": [p.answer for p in problems], "solution": [p.solution for p in problems],
            "metadata": [json.dumps(p.metadata, sort_keys=True, default=str) for p in problems]}
    if lm is not None:
        cols["prompt"] = [lm.format_prompt(p.prompt) for p in problems]
    return datasets.Dataset.from_dict(cols)


__all__ = ["DATASETS", "ReasoningProblem", "ReasoningTask", "SYSTEM_PROMPT", "Step", "answer_span", "as_dataset",
           "chain_solution", "chain_terms", "char_to_token", "extract_answer", "first_wrong_step", "make_problems",
           "oracle_process_rewards", "partial_sums", "response_steps", "score", "verify"]
