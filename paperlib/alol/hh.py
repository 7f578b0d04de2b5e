"""A-LoL's Helpful-Harmless set-up (Baheti et al., ICLR 2024, Section 4 / Table 2) behind the interface of the
real-LM path: for users who are online. The quick and smoke profiles never call it.

What the official code does (abaheti95/LoL-RL, ``lolrl_qlora_llama_hh.py`` and ``metrics_hh.py``):

* offline data: HH-RLHF prompts (the dialogue up to the last assistant turn), each with its two responses
  (the ``hh_train_len2`` files: the chosen and the rejected one), every response scored by a reward model;
* reward: ``sigmoid`` of the logit of ``OpenAssistant/oasst-rm-2.1-pythia-1.4b-epoch-2.5``
  (``create_reward_fn_3``) on the dialogue written as ``<|prompter|>...`` / ``<|assistant|>...`` turns, each
  followed by the tokenizer's EOS, truncated from the left to 1,024 tokens;
* the value head is fit to pi_ref's greedy rewards on a dev sample, then ``A = R - V(x)`` (as in the small-scale
  path, ``paperlib.alol.lm_smoke.advantages_of``).

Our deviations, said here and in REPORT.md: the policy sees the dialogue through its own chat template (an
instruct model; the official run prompts a base LLaMA-7B with ``### Human:`` / ``### Assistant:``); dev prompts
are the tail of the hub's train split (disjoint from the training prompts), test prompts its test split.

Data come through ``datasets.load_dataset`` (:func:`paperlib.data.hub.load_hh_rlhf`), the reward model through
``transformers`` from the hub; offline, both raise an error that says what to do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..data import MissingDataError
from ..data.reasoning import ChatTask
from .data import OfflineData

HH_REWARD_MODEL = "OpenAssistant/oasst-rm-2.1-pythia-1.4b-epoch-2.5"  # metrics_hh.py, create_reward_fn_3
_TURN = re.compile(r"\n\n(Human|Assistant): ")


class Turn(dict):
    """One chat message ``{"role", "content"}``, hashable so a dialogue can key a set (prompt splits)."""

    def __hash__(self) -> int:
        return hash((self["role"], self["content"]))


@dataclass(frozen=True)
class HHPrompt:
    """A Helpful-Harmless dialogue up to (not including) the assistant's last turn."""
    turns: tuple  # of Turn, user first, user last

    @property
    def prompt(self) -> tuple:
        """The chat messages (what ``HFCausalLM.format_prompt`` takes)."""
        return self.turns


def parse_dialogue(text: str) -> tuple[HHPrompt, str]:
    """(the prompt, the final assistant response) of one HH-RLHF transcript (``\\n\\nHuman: ...\\n\\nAssistant:
    ...``). A transcript that does not alternate Human / Assistant, starting with Human and ending with
    Assistant, is an error."""
    parts = _TURN.split(text)
    if parts[0].strip() or len(parts) < 5:
        raise ValueError(f"not an HH-RLHF transcript (Human/Assistant turns): {text[:80]!r}")
    speakers, contents = parts[1::2], parts[2::2]
    expected = ["Human", "Assistant"] * (len(speakers) // 2)
    if speakers != expected:
        raise ValueError(f"HH-RLHF turns must alternate Human, Assistant and end with Assistant; got {speakers}")
    turns = tuple(Turn(role="user" if s == "Human" else "assistant", content=c.strip())
                  for s, c in zip(speakers[:-1], contents[:-1]))
    return HHPrompt(turns), contents[-1].strip()


def pairs_from_rows(rows, n: int) -> list[tuple[HHPrompt, str, str]]:
    """(prompt, chosen, rejected) for the first ``n`` rows of ``chosen`` / ``rejected`` transcripts whose two
    responses share their prompt and differ (others are skipped, as the official data cleaning drops them)."""
    out = []
    for row in rows:
        try:
            p, good = parse_dialogue(row["chosen"])
            q, bad = parse_dialogue(row["rejected"])
        except ValueError:
            continue
        if p == q and good and bad and good != bad:
            out.append((p, good, bad))
            if len(out) == n:
                break
    return out


def reward_text(prompt: HHPrompt, response: str, eos: str) -> str:
    """The reward model's input as ``metrics_hh.py`` writes it: every turn as ``<|prompter|>`` or
    ``<|assistant|>`` + text + EOS, the response as the last assistant turn."""
    tags = {"user": "<|prompter|>", "assistant": "<|assistant|>"}
    return "".join(f"{tags[t['role']]}{t['content']}{eos}" for t in prompt.turns) + f"<|assistant|>{response}{eos}"


class HHReward:
    """``sigmoid`` of the OpenAssistant reward model's logit (``metrics_hh.py``), batched. ``model`` and
    ``tokenizer`` may be given (tests use a tiny random classifier); otherwise ``name`` loads from the hub."""

    def __init__(self, name: str = HH_REWARD_MODEL, device="cpu", batch_size: int = 32, max_length: int = 1024,
                 model=None, tokenizer=None):
        if model is None or tokenizer is None:
            model, tokenizer = _load_reward_model(name)
        self.model, self.tok = model.to(device).eval(), tokenizer
        self.tok.truncation_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.device, self.batch_size, self.max_length = device, batch_size, max_length

    def __call__(self, prompts, responses) -> np.ndarray:
        import torch

        texts = [reward_text(p, r, self.tok.eos_token) for p, r in zip(prompts, responses, strict=True)]
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                enc = self.tok(texts[i:i + self.batch_size], padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt").to(self.device)
                out.append(torch.sigmoid(self.model(**enc).logits.float().view(-1)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)


def _load_reward_model(name: str):
    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        return AutoModelForSequenceClassification.from_pretrained(name), AutoTokenizer.from_pretrained(name)
    except OSError as err:
        raise MissingDataError(
            f"could not load the reward model {name!r} from the Hugging Face hub or its cache ({err}). A-LoL's "
            f"Helpful-Harmless set-up needs it: run once with network access (it is then cached under "
            f"~/.cache/huggingface, or HF_HOME), or use the profiles on reasoning-gym tasks (lm_task: chain_sum), "
            f"which need no download.") from None


class HHTask(ChatTask):
    """The HH set-up as a ``paperlib.data.reasoning.ChatTask`` (A-LoL's task interface): prompts are dialogues
    through the LM's chat template (no system prompt), the reward is the reward model's."""

    def __init__(self, lm, reward: HHReward, max_new_tokens: int = 128):
        super().__init__(lm, "hh_rlhf", max_new_tokens, system_prompt=None)
        self.reward_model = reward

    def reward(self, problem: HHPrompt, response: str) -> float:
        return float(self.reward_model([problem], [response])[0])


def hh_offline_data(reward: HHReward, n_train: int, n_dev: int, n_test: int, load=None):
    """(offline data, dev prompts, test prompts): ``n_train`` HH-RLHF train prompts with their chosen and
    rejected responses (2 rows per prompt, adjacent, scored by ``reward``), ``n_dev`` further train prompts
    (disjoint) and ``n_test`` prompts of the test split. ``load`` (default ``paperlib.data.hub.load_hh_rlhf``)
    takes the split name."""
    if load is None:
        from ..data.hub import load_hh_rlhf as load
    train_rows = pairs_from_rows(load("train"), n_train + n_dev)
    test_rows = pairs_from_rows(load("test"), n_test)
    if len(train_rows) < n_train + n_dev or len(test_rows) < n_test:
        raise ValueError(f"HH-RLHF gave {len(train_rows)} usable train and {len(test_rows)} test dialogues, "
                         f"fewer than {n_train} + {n_dev} and {n_test}")
    train, dev = train_rows[:n_train], [p for p, _, _ in train_rows[n_train:]]
    problems = [p for p, _, _ in train for _ in range(2)]
    responses = [r for _, good, bad in train for r in (good, bad)]
    data = OfflineData(problems, responses, reward(problems, responses), ["chosen", "rejected"] * len(train), 2)
    return data, dev, [p for p, _, _ in test_rows]


__all__ = ["HH_REWARD_MODEL", "HHPrompt", "HHReward", "HHTask", "Turn", "hh_offline_data", "pairs_from_rows",
           "parse_dialogue", "reward_text"]
