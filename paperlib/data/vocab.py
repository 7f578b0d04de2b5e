"""A word-level vocabulary with BERT's special tokens, built from a corpus (lower-cased words, numbers and
punctuation marks as tokens; rare words map to ``[UNK]``).

Small in-domain masked LMs use it instead of a sub-word tokenizer: every verbalizer label word is then one
token by construction (``required`` words are always in the vocabulary).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Iterable

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*|\d+(?:[.,]\d+)*|[^\sa-z\d]")


def split_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class WordVocab:
    def __init__(self, words: list[str]):
        if words[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a WordVocab starts with the special tokens {SPECIALS}")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("duplicate words in the vocabulary")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = range(len(SPECIALS))

    @classmethod
    def build(cls, texts: Iterable[str], max_size: int = 16000, min_count: int = 2,
              required: Iterable[str] = ()) -> "WordVocab":
        counts = Counter(w for t in texts for w in split_words(t))
        req = [w for r in required for w in split_words(r)]
        ranked = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
        words = list(dict.fromkeys(SPECIALS + req + ranked))[:max_size]
        return cls(words)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, self.unk_id) for w in split_words(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.words[i] for i in ids)

    def word_id(self, word: str) -> int:
        """The id of a single-token word; an error if it is not one token of the vocabulary."""
        ids = self.encode(word)
        if len(ids) != 1 or ids[0] == self.unk_id:
            raise ValueError(f"{word!r} is not a single in-vocabulary token")
        return ids[0]

    def to_json(self) -> str:
        return json.dumps(self.words)

    @classmethod
    def from_json(cls, s: str) -> "WordVocab":
        return cls(json.loads(s))

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]
