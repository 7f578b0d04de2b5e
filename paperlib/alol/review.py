"""Task 2 of the A-LoL reproduction: short product reviews, rewarded by several summed terms.

The paper's Reddit response task scores each response by the *sum* of five classifiers (fluency,
engagement, up-votes, safety, TF-IDF diversity), with ``max_value = 5``. Here the text is generated
offline from a small grammar and the reward is the sum of five programs, each in [0, 1]
(``max_value = 5``). A prompt asks for a review of a product, about one of its aspects, for an
audience, using a required word (``review phone battery for kids with sturdy :``): 8 products x 4
aspects x 4 audiences x 8 words = 1,024 distinct prompts, split once (fixed seed) into disjoint
train / dev / test pools (``prompt_pool``), so model selection never sees a test prompt. Terms:

* **sentiment**, the target attribute: ``(1 + (pos - neg) / (pos + neg)) / 2`` over sentiment
  words (0.5 when there are none);
* **fluency under a fixed LM**: a word-bigram model (add-0.1 smoothing) fit once on a corpus of
  well-formed reviews drawn from the grammar with a fixed seed, never trained on the offline data;
  ``1 + mean log p / log V`` clipped to [0, 1] (mean over the response's tokens and its end);
* **length** for the audience: ``1 - |words - L| / L`` clipped at 0, L = 8 (kids), 12 (friends),
  16 (buyers), 20 (experts);
* **relevance** to the prompt: half the share of the aspect words mentioned that belong to the
  reviewed product (0 when none is mentioned), half whether the requested aspect is mentioned;
* **keyword**: 1 when the required word appears.

The writers ignore the audience and the required word (as pre-existing reviews would), so the
value of a prompt V(x) varies with what it asks.

The offline responses come from five writers with systematic habits, as a pre-existing dataset
of human reviews would hold: a *fan* (fluent, positive, on topic, the right length), a *critic*
(the same, negative: the largest share), a *rambler* (long, mixed, partly off topic), a *terse*
writer (one short generic sentence) and a *spammer* (ungrammatical strings of praise: high
sentiment, low fluency: it games a single term of the sum). The noisy split is mostly spammer,
terse and rambler responses with few fans.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .data import OfflineData, mix_probabilities

PRODUCTS = {
    "phone": ["battery", "screen", "charger", "case"],
    "laptop": ["keyboard", "trackpad", "fan", "hinge"],
    "camera": ["lens", "shutter", "flash", "grip"],
    "headphones": ["cushions", "bass", "cable", "mic"],
    "blender": ["blades", "motor", "jar", "lid"],
    "backpack": ["straps", "zipper", "pockets", "fabric"],
    "tent": ["poles", "stakes", "rainfly", "door"],
    "watch": ["dial", "band", "buckle", "crown"],
}
POSITIVE = ["great", "excellent", "sturdy", "reliable", "comfortable", "solid", "lovely", "superb"]
NEGATIVE = ["bad", "flimsy", "awful", "weak", "cheap", "noisy", "poor", "broken"]
POS_VERBS, NEG_VERBS = ["love", "like"], ["hate", "dislike"]
INTENSIFIERS = ["very", "really", "quite", "so"]
FUNCTION = ["the", "is", "are", "and", "i", "it", "would", "not", "buy", "again", "ok", "fine", ".", "review", ":",
            "for", "with"]
AUDIENCES = {"kids": 8, "friends": 12, "buyers": 16, "experts": 20}  # audience -> target length in words
POOL_SHARES = {"test": 0.3, "dev": 0.2, "train": 0.5}  # of the 1,024 distinct prompts, split with seed 2024
ASPECT_OF = {a: p for p, asp in PRODUCTS.items() for a in asp}
WORDS = sorted(set(FUNCTION + list(PRODUCTS) + list(ASPECT_OF) + POSITIVE + NEGATIVE + POS_VERBS + NEG_VERBS
                   + INTENSIFIERS + list(AUDIENCES)))
VOCAB = ["<pad>", "<bos>", "<eos>"] + WORDS
PAD, BOS, EOS = 0, 1, 2
_ID = {w: i for i, w in enumerate(VOCAB)}
SENTIMENT = {**{w: 1 for w in POSITIVE + POS_VERBS}, **{w: -1 for w in NEGATIVE + NEG_VERBS}}
WRITERS = ("fan", "critic", "rambler", "terse", "spammer")
MIXES = {"main": {"fan": 0.2, "critic": 0.35, "rambler": 0.2, "terse": 0.1, "spammer": 0.15},
         "noisy": {"fan": 0.06, "critic": 0.14, "rambler": 0.25, "terse": 0.2, "spammer": 0.35}}


@dataclass(frozen=True)
class ReviewPrompt:
    product: str
    aspect: str = ""  # requested aspect (one of the product's); "" for none
    audience: str = "buyers"
    word: str = ""  # required word; "" for none

    def __post_init__(self):
        if self.product not in PRODUCTS:
            raise ValueError(f"unknown product {self.product!r}; valid: {list(PRODUCTS)}")
        if self.aspect and self.aspect not in PRODUCTS[self.product]:
            raise ValueError(f"{self.aspect!r} is not an aspect of {self.product}: {PRODUCTS[self.product]}")
        if self.audience not in AUDIENCES:
            raise ValueError(f"unknown audience {self.audience!r}; valid: {list(AUDIENCES)}")

    @property
    def prompt(self) -> str:
        return " ".join(["review", self.product] + ([self.aspect] if self.aspect else []) + ["for", self.audience]
                        + (["with", self.word] if self.word else []) + [":"])


def all_prompts() -> list[ReviewPrompt]:
    """The 1,024 distinct prompts: product x requested aspect x audience x required (positive) word."""
    return [ReviewPrompt(p, a, au, w) for p, asp in PRODUCTS.items() for a in asp for au in AUDIENCES for w in POSITIVE]


def prompt_pool(split: str) -> list[ReviewPrompt]:
    """The distinct prompts of ``split`` (train, dev or test): one fixed shuffle of ``all_prompts``
    cut by ``POOL_SHARES``, so the three pools are disjoint whatever the seeds of the draws."""
    if split not in POOL_SHARES:
        raise ValueError(f"unknown prompt pool {split!r}; valid: {list(POOL_SHARES)}")
    prompts = all_prompts()
    order = np.random.default_rng(2024).permutation(len(prompts))
    bounds, start = {}, 0
    for name, share in POOL_SHARES.items():
        n = int(round(share * len(prompts)))
        bounds[name] = (start, start + n)
        start += n
    lo, hi = bounds[split]
    return [prompts[i] for i in order[lo:hi]]


def encode(text: str) -> list[int]:
    try:
        return [_ID[w] for w in text.split()]
    except KeyError as e:
        raise ValueError(f"word {e.args[0]!r} is not in the review task's vocabulary") from None


def decode(ids) -> str:
    out = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i > EOS:
            out.append(VOCAB[i])
    return " ".join(out)


def _sentence(rng, aspects, sign: int) -> str:
    adjs = POSITIVE if sign > 0 else NEGATIVE
    kind = rng.integers(4)
    a = aspects[rng.integers(len(aspects))]
    if kind == 0:
        return f"the {a} is {adjs[rng.integers(len(adjs))]} ."
    if kind == 1:
        return f"the {a} is {INTENSIFIERS[rng.integers(len(INTENSIFIERS))]} {adjs[rng.integers(len(adjs))]} ."
    if kind == 2:
        verbs = POS_VERBS if sign > 0 else NEG_VERBS
        return f"i {verbs[rng.integers(len(verbs))]} the {a} ."
    b = aspects[rng.integers(len(aspects))]
    while b == a and len(aspects) > 1:
        b = aspects[rng.integers(len(aspects))]
    return f"the {a} and the {b} are {adjs[rng.integers(len(adjs))]} ."


def _closing(sign: int) -> str:
    return "i would buy it again ." if sign > 0 else "i would not buy it again ."


def write(writer: str, product: str, rng: np.random.Generator, aspect: str = "") -> str:
    """One review of ``product`` in ``writer``'s habit (fans and critics open on the requested
    ``aspect`` half of the time)."""
    aspects = PRODUCTS[product]
    if writer in ("fan", "critic"):
        sign = 1 if writer == "fan" else -1
        parts = [_sentence(rng, [aspect] if aspect and i == 0 and rng.random() < 0.5 else aspects, sign)
                 for i in range(int(rng.integers(2, 4)))]
        if rng.random() < 0.5:
            parts.append(_closing(sign))
        return " ".join(parts)
    if writer == "rambler":
        others = [a for p, asp in PRODUCTS.items() if p != product for a in asp]
        parts = []
        for _ in range(int(rng.integers(5, 8))):
            pool = others if rng.random() < 0.3 else aspects
            parts.append(_sentence(rng, pool, 1 if rng.random() < 0.5 else -1))
        return " ".join(parts)
    if writer == "terse":
        return ["it is ok .", "it is fine .", "ok .", "fine ."][int(rng.integers(4))]
    if writer == "spammer":
        pool = POSITIVE + INTENSIFIERS + aspects + ["love"]
        return " ".join(pool[int(rng.integers(len(pool)))] for _ in range(int(rng.integers(8, 16))))
    raise ValueError(f"unknown writer {writer!r}; valid: {WRITERS}")


class BigramLM:
    """The fixed fluency model: word bigrams with add-``alpha`` smoothing, sentence end included."""

    def __init__(self, texts: list[str], alpha: float = 0.1):
        V = len(VOCAB)
        counts = np.full((V, V), alpha)
        for t in texts:
            ids = [BOS] + encode(t) + [EOS]
            for a, b in zip(ids[:-1], ids[1:]):
                counts[a, b] += 1
        self.logp = np.log(counts / counts.sum(1, keepdims=True))

    def mean_log_prob(self, prompt: str, response: str) -> float:
        ids = [BOS] + encode(prompt)[-1:] + encode(response) + [EOS]  # condition on the prompt's last word
        return float(np.mean([self.logp[a, b] for a, b in zip(ids[1:-1], ids[2:])]))


_LM: BigramLM | None = None


def fluency_lm() -> BigramLM:
    """The fixed LM, fit on 20,000 well-formed reviews (fans and critics in equal parts, seed 12345)."""
    global _LM
    if _LM is None:
        rng = np.random.default_rng(12345)
        names = list(PRODUCTS)
        texts = [f"{write('fan' if i % 2 else 'critic', names[int(rng.integers(len(names)))], rng)}"
                 for i in range(20000)]
        _LM = BigramLM([":" + " " + t for t in texts])
    return _LM


def reward_terms(prompt: ReviewPrompt, response: str) -> dict:
    """The five reward terms of a response to ``prompt``, each in [0, 1]."""
    product = prompt.product
    words = response.split()
    signs = [SENTIMENT[w] for w in words if w in SENTIMENT]
    sentiment = 0.5 if not signs else 0.5 * (1 + sum(signs) / len(signs))
    unknown = [w for w in words if w not in _ID or _ID[w] <= EOS]
    if unknown or not words:
        fluency = 0.0
    else:
        fluency = min(1.0, max(0.0, 1 + fluency_lm().mean_log_prob(":", response) / math.log(len(VOCAB))))
    target = AUDIENCES[prompt.audience]
    length = max(0.0, 1 - abs(len(words) - target) / target)
    mentioned = [w for w in words if w in ASPECT_OF]
    on_product = 0.0 if not mentioned else float(np.mean([ASPECT_OF[w] == product for w in mentioned]))
    asked = 1.0 if not prompt.aspect else float(prompt.aspect in words)
    keyword = 1.0 if not prompt.word else float(prompt.word in words)
    return {"sentiment": sentiment, "fluency": fluency, "length": length,
            "relevance": 0.5 * on_product + 0.5 * asked, "keyword": keyword}


def review_reward(prompt: ReviewPrompt, response: str) -> float:
    """The sum of the five terms, in [0, 5]."""
    return float(sum(reward_terms(prompt, response).values()))


def make_review_data(n_prompts: int, seed: int, mix: str | dict = "main", responses_per_prompt: int = 2,
                     pool: str = "train") -> OfflineData:
    """``n_prompts`` prompts drawn uniformly (with replacement) from the ``pool`` of distinct prompts,
    with ``responses_per_prompt`` responses each, every response's writer drawn independently from ``mix``."""
    names, probs = mix_probabilities(mix, MIXES, WRITERS, "writer")
    rng = np.random.default_rng(seed)
    prompts = prompt_pool(pool)
    problems, responses, sources = [], [], []
    for _ in range(n_prompts):
        prob = prompts[int(rng.integers(len(prompts)))]
        for _ in range(responses_per_prompt):
            w = names[int(rng.choice(len(names), p=probs))]
            problems.append(prob)
            responses.append(write(w, prob.product, rng, prob.aspect))
            sources.append(w)
    rewards = np.array([review_reward(p, r) for p, r in zip(problems, responses)])
    return OfflineData(problems, responses, rewards, sources, responses_per_prompt)


def eval_prompts(n: int, pool: str, seed: int) -> list[ReviewPrompt]:
    """``n`` distinct prompts of ``pool`` (dev or test), in a seeded order."""
    prompts = prompt_pool(pool)
    if n > len(prompts):
        raise ValueError(f"the {pool} pool holds {len(prompts)} distinct prompts; asked for {n}")
    return [prompts[i] for i in np.random.default_rng(seed).permutation(len(prompts))[:n]]
