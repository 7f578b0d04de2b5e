"""Datasets that exist only on the Hugging Face hub, for the full profiles of users who are online.

Each loader goes through ``datasets.load_dataset`` on the hub's copy (cached under
``~/.cache/huggingface`` after the first download) and, offline or without the hub, raises
:class:`paperlib.data.MissingDataError` naming the dataset id and what to do. The quick and smoke
profiles never call them: they run on generated tasks.

* ``Anthropic/hh-rlhf``: the Helpful-Harmless preference pairs A-LoL trains on (Baheti et al., 2024,
  its Helpful-Harmless experiments; columns ``chosen``, ``rejected``).
* ``openai/gsm8k`` (config ``main``): grade-school math word problems with worked answers, a
  verifiable-answer task for PRIME-style RL at small LM scale (columns ``question``, ``answer``;
  the final answer follows ``####``).
"""
from __future__ import annotations

from . import MissingDataError

HH_RLHF = "Anthropic/hh-rlhf"
GSM8K = ("openai/gsm8k", "main")


def _load(repo: str, config: str | None, split: str, what: str):
    import datasets

    try:
        return datasets.load_dataset(repo, config, split=split) if config else datasets.load_dataset(repo, split=split)
    except (ConnectionError, OSError) as err:
        raise MissingDataError(
            f"could not load {repo} ({what}) from the Hugging Face hub: {type(err).__name__}: {err}. It is an "
            f"online-only dataset of the full profile: run once with network access (it is then cached under "
            f"~/.cache/huggingface, or HF_HOME), or use the quick profile, which needs no download.") from None


def load_hh_rlhf(split: str = "train"):
    """Anthropic's HH-RLHF preference pairs (``chosen`` / ``rejected`` dialogues), ``split`` train or test."""
    if split not in ("train", "test"):
        raise ValueError(f"HH-RLHF has splits train and test, got {split!r}")
    return _load(HH_RLHF, None, split, "A-LoL's Helpful-Harmless data")


def gsm8k_answer(answer: str) -> str:
    """The final answer of a GSM8K worked solution: the text after ``####``, without commas."""
    if "####" not in answer:
        raise ValueError("a GSM8K answer ends with '#### <number>'; this one has no '####'")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def load_gsm8k(split: str = "train"):
    """GSM8K (``question``, ``answer``), ``split`` train or test."""
    if split not in ("train", "test"):
        raise ValueError(f"GSM8K has splits train and test, got {split!r}")
    return _load(*GSM8K, split, "grade-school math with verifiable answers")
