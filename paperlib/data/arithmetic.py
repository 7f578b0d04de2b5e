"""Multi-step addition with worked steps and a rule-based verifier: the CPU-scale reasoning task of
the PRIME and A-LoL reproductions.

A prompt is a chain sum ``a1+a2+...+an=``; a worked solution adds one term per step and ends
with the answer: ``a1+a2=s2;s2+a3=s3;...;A<sn>``. Every number is written least-significant
digit first (``15`` is ``51``), which small digit models learn much faster: the carry then
flows in reading order.

The SFT data hold solutions with *plausible* step errors: a **forgotten carry** (by default the
carry into the hundreds, forgotten with probability ``p_slip`` wherever it occurs). Later steps
continue correctly from the wrong partial sum, so the final answer is wrong and the generator
knows the first wrong step. With ``p_slip`` near 0.5 an SFT model trained on these data finds the
slip about as likely as the right digit, so its own token probabilities cannot tell which step
went wrong: the regime of the paper (long solutions, low starting accuracy on many-step prompts,
errors the reference model itself finds likely), not rare tokens it already considers unlikely.

**Several error kinds** (``p_error``, ``error_kinds``): each step, with probability ``p_error``, is
written with one error of a kind drawn uniformly from those that apply: a slip of one in the units,
tens or hundreds digit of the written sum (``units``, ``tens``, ``hundreds``; a forgotten or an extra
carry), or a miscopied operand (``operand``: the term is copied with one digit off by one and added
correctly). Errors of many kinds at low rates, spread over long chains, make the outcome a weak signal
about which decision went wrong: the regime where process rewards can matter.

The outcome reward is PRIME's rule-based verifier: 1 when the number after ``A`` equals the
true sum, else 0 (the paper's math verifier compares only the final answer).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PAD, BOS, EOS = 0, 1, 2
CHARS = "0123456789+=;A"
VOCAB = ["<pad>", "<bos>", "<eos>"] + list(CHARS)
VOCAB_SIZE = len(VOCAB)
_ID = {c: i + 3 for i, c in enumerate(CHARS)}
STEP_END = _ID[";"]
ANSWER = _ID["A"]


def encode(text: str) -> list[int]:
    """Token ids of ``text`` (characters of ``CHARS`` only)."""
    try:
        return [_ID[c] for c in text]
    except KeyError as e:
        raise ValueError(f"character {e.args[0]!r} is not in the arithmetic vocabulary {CHARS!r}") from None


def decode(ids) -> str:
    out = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i >= 3:
            out.append(VOCAB[i])
    return "".join(out)


def lsb(n: int, width: int = 0) -> str:
    """``n`` written least-significant digit first, zero-filled to ``width`` digits."""
    return str(n).zfill(width)[::-1]


def from_lsb(s: str) -> int | None:
    return int(s[::-1]) if s.isdigit() else None


def carries(a: int, b: int) -> list[int]:
    """Columns (0 = units) out of which ``a + b`` carries."""
    carry, pos, out = 0, 0, []
    while a or b or carry:
        s = a % 10 + b % 10 + carry
        carry = s // 10
        if carry:
            out.append(pos)
        a, b, pos = a // 10, b // 10, pos + 1
    return out


def add_with_dropped_carry(a: int, b: int, rng: np.random.Generator, column: int | None = None) -> int | None:
    """``a + b`` with one carry forgotten: the carry out of ``column`` (None: a carry chosen
    uniformly). None when there is no such carry."""
    cs = carries(a, b)
    if column is not None:
        cs = [c for c in cs if c == column]
    if not cs:
        return None
    k = int(rng.choice(cs))
    return a + b - 10 ** (k + 1)


ERROR_KINDS = ("units", "tens", "hundreds", "operand")
_DIGIT_KINDS = {"units": 0, "tens": 1, "hundreds": 2}


def step_variants(left: int, term: int, kind: str, width: int = 0) -> list[tuple[int, int]]:
    """The wrong ways to write the step ``left + term`` with one error of ``kind``: a list of
    (written term, written sum) pairs (empty when the kind does not apply, e.g. a slip that would
    make the sum negative or overflow ``width`` digits)."""
    top = 10 ** width if width else None
    ok = lambda v: v >= 0 and (top is None or v < top)  # noqa: E731
    s = left + term
    if kind in _DIGIT_KINDS:
        d = 10 ** _DIGIT_KINDS[kind]
        return [(term, s + sign * d) for sign in (-1, 1) if ok(s + sign * d)]
    if kind == "operand":
        out = []
        for d in (1, 10):
            for sign in (-1, 1):
                t2 = term + sign * d
                if t2 >= 0 and ok(left + t2) and len(str(t2)) <= max(2, len(str(term))):
                    out.append((t2, left + t2))
        return out
    raise ValueError(f"unknown error kind {kind!r}; valid: {ERROR_KINDS}")


def step_distribution(left: int, term: int, p_error: float, kinds=ERROR_KINDS, width: int = 0):
    """The generator's distribution over how the step ``left + term`` is written: a list of
    ((written term, written sum), probability), the correct step first. An error (probability
    ``p_error``) takes a kind uniformly among those that apply, then one of its variants uniformly."""
    variants = {k: step_variants(left, term, k, width) for k in kinds}
    applicable = [k for k in kinds if variants[k]]
    if not applicable or p_error <= 0:
        return [((term, left + term), 1.0)]
    out = [((term, left + term), 1.0 - p_error)]
    for k in applicable:
        for v in variants[k]:
            out.append((v, p_error / len(applicable) / len(variants[k])))
    return out


@dataclass
class Problem:
    terms: list[int]
    steps: list[tuple[int, int, int]] = field(default_factory=list)  # (left, term, written sum)
    first_error: int | None = None  # index of the first wrong step, None when all are right
    width: int = 0  # digits per number (zero-filled; 0 = as many as needed)
    error_kinds: list = field(default_factory=list)  # kind of each erroneous step, in order

    @property
    def answer(self) -> int:
        return sum(self.terms)

    @property
    def prompt(self) -> str:
        return "+".join(lsb(t, self.width) for t in self.terms) + "="

    @property
    def solution(self) -> str:
        w = self.width
        body = ";".join(f"{lsb(l, w)}+{lsb(t, w)}={lsb(s, w)}" for l, t, s in self.steps)
        return f"{body};A{lsb(self.steps[-1][2], w)}"


def make_problem(rng: np.random.Generator, n_terms: int, max_digits: int, p_slip: float = 0.0,
                 width: int = 0, slip_column: int | None = 1, min_digits: int = 1, p_error: float = 0.0,
                 error_kinds=ERROR_KINDS) -> Problem:
    """A chain sum of ``n_terms`` numbers of ``min_digits``..``max_digits`` digits and a worked solution in which
    each step that carries out of ``slip_column`` (default the tens, i.e. the carry into the
    hundreds; None: any carry) forgets that carry with probability ``p_slip``. With
    ``width`` > 0 every number is zero-filled to that many digits, which puts the digits to add at
    fixed distances (the sums must stay below 10**width). ``p_error``: each step is written with one
    error of ``error_kinds`` with this probability (``step_distribution``)."""
    if n_terms < 2:
        raise ValueError("a chain sum needs at least 2 terms")
    digits = rng.integers(min_digits, max_digits + 1, size=n_terms)
    terms = [int(rng.integers(10 ** (d - 1) if d > 1 else 0, 10 ** d)) for d in digits]
    if width and n_terms * (10 ** max_digits - 1) >= 10 ** width:
        raise ValueError(f"{n_terms} terms of {max_digits} digits can exceed width={width}")
    return solve(terms, rng, p_slip, width, slip_column, p_error, error_kinds)


def solve(terms: list[int], rng: np.random.Generator, p_slip: float = 0.0, width: int = 0,
          slip_column: int | None = 1, p_error: float = 0.0, error_kinds=ERROR_KINDS) -> Problem:
    """A worked solution of the chain sum ``terms``, each step that carries out of ``slip_column``
    forgetting that carry with probability ``p_slip``, or (``p_error`` > 0) written with one error
    of ``error_kinds`` with probability ``p_error`` (later steps continue from what was written)."""
    if p_error and p_slip:
        raise ValueError("use either p_slip (forgotten carries) or p_error (several error kinds), not both")
    bad = set(error_kinds) - set(ERROR_KINDS)
    if bad:
        raise ValueError(f"unknown error kind(s) {sorted(bad)}; valid: {ERROR_KINDS}")
    prob = Problem(list(terms), width=width)
    left = terms[0]
    for i, t in enumerate(terms[1:]):
        if p_error > 0:
            dist = step_distribution(left, t, p_error, error_kinds, width)
            j = int(rng.choice(len(dist), p=np.array([w for _, w in dist]) / sum(w for _, w in dist)))
            (t_written, written) = dist[j][0]
            if j > 0:
                kind = next(k for k in error_kinds if (t_written, written) in step_variants(left, t, k, width))
                prob.error_kinds.append(kind)
                if prob.first_error is None:
                    prob.first_error = i
            prob.steps.append((left, t_written, written))
            left = written
            continue
        written = left + t
        if p_slip > 0 and rng.random() < p_slip:
            slipped = add_with_dropped_carry(left, t, rng, slip_column)
            if slipped is not None:
                written = slipped
                if prob.first_error is None:
                    prob.first_error = i
        prob.steps.append((left, t, written))
        left = written
    return prob


def sample_problems(n: int, seed: int, min_terms: int, max_terms: int, max_digits: int,
                    p_slip: float = 0.0, width: int = 0, slip_column: int | None = 1,
                    min_digits: int = 1, p_error: float = 0.0, error_kinds=ERROR_KINDS) -> list[Problem]:
    rng = np.random.default_rng(seed)
    return [make_problem(rng, int(rng.integers(min_terms, max_terms + 1)), max_digits, p_slip, width, slip_column,
                         min_digits, p_error, error_kinds) for _ in range(n)]


def verify(prompt_terms: list[int], response: str) -> float:
    """PRIME's outcome verifier: 1.0 when the final answer (after the last ``A``) is the true sum."""
    if "A" not in response:
        return 0.0
    return float(from_lsb(response.rsplit("A", 1)[1]) == sum(prompt_terms))


def step_spans(response_ids) -> list[tuple[int, int]]:
    """Token index ranges [start, end) of each step of a response (steps end at ``;``; the answer
    ``A...`` is the last span)."""
    spans, start = [], 0
    for i, t in enumerate(response_ids):
        t = int(t)
        if t == EOS or t == PAD:
            break
        if t == STEP_END:
            spans.append((start, i + 1))
            start = i + 1
    end = next((i for i, t in enumerate(response_ids) if int(t) in (EOS, PAD)), len(response_ids))
    if end > start:
        spans.append((start, end))
    return spans


def first_wrong_step(prompt_terms: list[int], response: str) -> int | None:
    """Index of the first step of ``response`` that is not a correct addition of the right term
    to the previous partial sum (format errors count as wrong), None if every step is right."""
    steps = response.split(";")
    left = prompt_terms[0]
    for i, t in enumerate(prompt_terms[1:]):
        if i >= len(steps):
            return i
        try:
            lhs, rhs = steps[i].split("=")
            a, b = lhs.split("+")
        except ValueError:
            return i
        if from_lsb(a) != left or from_lsb(b) != t or from_lsb(rhs) != left + t:
            return i
        left += t
    return None


def first_error_span(prompt_terms: list[int], response: str) -> int | None:
    """Index (into ``step_spans``) of the first wrong span of a response: the first wrong step, or,
    when every step is right but the answer is not, the span after the last step (the answer).
    None for a correct response. This is where the oracle process reward of PRIME's positive
    control puts its -1."""
    k = first_wrong_step(prompt_terms, response)
    if k is not None:
        return k
    return None if verify(prompt_terms, response) == 1.0 else len(prompt_terms) - 1


def oracle_step_rewards(prompt_terms: list[int], response_ids, penalty: float = -1.0) -> np.ndarray:
    """Dense oracle process reward for one response (token ids, EOS/PAD-terminated): ``penalty`` on
    the last token of the generator-checked first wrong step (``first_error_span``), 0 elsewhere;
    all zeros for a correct response. Length = len(response_ids)."""
    ids = [int(t) for t in response_ids]
    out = np.zeros(len(ids))
    k = first_error_span(prompt_terms, decode(ids))
    if k is None:
        return out
    spans = step_spans(ids)
    if not spans:
        out[0] = penalty  # an empty response: the first token (its EOS) is the wrong step
        return out
    out[spans[min(k, len(spans) - 1)][1] - 1] = penalty
    return out


def encode_batch(prompts: list[str], responses: list[str] | None = None, device="cpu"):
    """Token ids for a batch: ``<bos> prompt`` left-padded to a common width P, then (when given)
    ``response <eos>`` right-padded (``paperlib.nn.gpt.pack_prompts``). Returns (tokens, real-token
    mask, P)."""
    from ..nn.gpt import pack_prompts

    tails = [encode(r) + [EOS] for r in responses] if responses is not None else None
    return pack_prompts([[BOS] + encode(p) for p in prompts], tails, PAD, device)


def as_dataset(problems: list[Problem]):
    """Problems as a Hugging Face ``datasets.Dataset`` (columns ``prompt``, ``solution``, ``answer``,
    ``terms``, ``first_error`` (-1 when every step is right)): the generated task set in the
    field's format, for reuse in a user's own training code (``.to_pandas()``, ``.save_to_disk()``)."""
    import datasets

    return datasets.Dataset.from_dict({
        "prompt": [p.prompt for p in problems], "solution": [p.solution for p in problems],
        "answer": [p.answer for p in problems], "terms": [list(p.terms) for p in problems],
        "first_error": [-1 if p.first_error is None else p.first_error for p in problems]})
