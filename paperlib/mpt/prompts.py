"""Prompt templates, verbalizers, and one scoring interface over masked and causal language models.

A template is text with slots: ``{text}`` (the input sentence), ``{term}`` (the keyword, keyword task),
``{mask}`` (where the label word goes) and ``{soft}`` / ``{soft*N}`` (N learned continuous vectors, P-tuning
style). Manual templates have words only, soft templates vectors only (besides the input and the slot), mixed
templates both (Liu et al. 2023, Sec. 3: manual, automatically learned continuous, and mixed templates).

A verbalizer maps each class to one or more label words. The class score is the mean of the label words'
logits at the slot (OpenPrompt's ManualVerbalizer, PET):
  * masked LM: the logits of the [MASK] token the slot becomes;
  * causal LM: the next-token logits after the text before the slot (whatever follows the slot is dropped;
    a label word counts by its first sub-word with a leading space).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import torch
import torch.nn as nn

SLOT = re.compile(r"\{(text|term|mask|soft)(?:\*(\d+))?\}")


@dataclass(frozen=True)
class Template:
    name: str
    spec: str
    kind: str = "manual"  # manual | soft | mixed (for reports; the spec decides what is learned)

    @property
    def n_soft(self) -> int:
        return sum(int(m.group(2) or 1) for m in SLOT.finditer(self.spec) if m.group(1) == "soft")

    def parts(self) -> list[tuple[str, str | int]]:
        """[("words", text) | ("text", "") | ("term", "") | ("mask", "") | ("soft", n)] in order."""
        out, pos = [], 0
        for m in SLOT.finditer(self.spec):
            if self.spec[pos:m.start()].strip():
                out.append(("words", self.spec[pos:m.start()].strip()))
            out.append((m.group(1), int(m.group(2) or 1) if m.group(1) == "soft" else ""))
            pos = m.end()
        if self.spec[pos:].strip():
            out.append(("words", self.spec[pos:].strip()))
        if sum(p[0] == "mask" for p in out) != 1:
            raise ValueError(f"template {self.name!r} needs exactly one {{mask}} slot: {self.spec!r}")
        if not any(p[0] == "text" for p in out):
            raise ValueError(f"template {self.name!r} has no {{text}} slot: {self.spec!r}")
        return out


@dataclass
class Filled:
    ids: list[int]  # token ids; soft positions hold a placeholder id
    soft_positions: list[int]  # where the learned vectors go, in order
    slot: int  # the position whose logits score the label words

    def __len__(self) -> int:
        return len(self.ids)


def pad_filled(filled: list[Filled], pad_id: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (B, T) of filled inputs and their mask (True on real tokens; soft positions count), on
    ``device``."""
    T = max(len(f.ids) for f in filled)
    ids = torch.full((len(filled), T), pad_id, dtype=torch.long)
    pad = torch.zeros((len(filled), T), dtype=torch.bool)
    for i, f in enumerate(filled):
        ids[i, : len(f.ids)] = torch.tensor(f.ids)
        pad[i, : len(f.ids)] = True
    return ids.to(device), pad.to(device)


def fill(template: Template, text: str, term: str, backend, max_len: int) -> Filled:
    """Token ids of ``template`` around one example. Only the ``{text}`` tokens are cut (from the end) to fit
    ``max_len``; a causal LM's sequence ends just before the slot."""
    parts = template.parts()
    if backend.kind == "causal":
        parts = parts[: [p[0] for p in parts].index("mask") + 1]
    enc = {"text": backend.tokenize(text), "term": backend.tokenize(term) if term else []}
    fixed = len(backend.prefix_ids) + len(backend.suffix_ids)
    for kind, val in parts:
        fixed += {"words": lambda: len(backend.tokenize(val)), "soft": lambda: val,
                  "mask": lambda: 1 if backend.kind == "masked" else 0,
                  "text": lambda: 0, "term": lambda: len(enc["term"])}[kind]()
    room = max_len - fixed
    if room < 1:
        raise ValueError(f"template {template.name!r} leaves no room for the text within max_len={max_len}")
    enc["text"] = enc["text"][:room]
    ids, soft, slot = list(backend.prefix_ids), [], -1
    for kind, val in parts:
        if kind == "words":
            ids += backend.tokenize(val)
        elif kind in ("text", "term"):
            ids += enc[kind]
        elif kind == "soft":
            soft += range(len(ids), len(ids) + val)
            ids += [backend.pad_id] * val
        elif kind == "mask":
            if backend.kind == "masked":
                slot = len(ids)
                ids.append(backend.mask_id)
            else:
                slot = len(ids) - 1
    ids += backend.suffix_ids if backend.kind == "masked" else []
    if slot < 0:
        raise ValueError(f"template {template.name!r}: a causal LM needs text before the {{mask}} slot")
    return Filled(ids, soft, slot)


class OwnBertBackend:
    """Our small in-domain :class:`paperlib.nn.bert.BertMLM` with its :class:`WordVocab`."""

    kind = "masked"

    def __init__(self, model, vocab):
        self.model, self.vocab = model, vocab
        self.pad_id, self.mask_id = vocab.pad_id, vocab.mask_id
        self.prefix_ids, self.suffix_ids = [vocab.cls_id], [vocab.sep_id]
        self.dim = model.cfg.n_embd

    def tokenize(self, text: str) -> list[int]:
        return self.vocab.encode(text)

    def label_word_id(self, word: str) -> int:
        return self.vocab.word_id(word)

    def embed(self, ids):
        return self.model.embed(ids)

    def forward(self, embeds, pad_mask, positions, token_ids=None):
        rows = torch.arange(len(positions), device=embeds.device)
        h = self.model.encode(embeds, pad_mask)[rows, positions.to(embeds.device)]
        return (None if token_ids is None else self.model.mlm_logits(h, token_ids)), h

    def copy(self) -> "OwnBertBackend":
        return OwnBertBackend(copy.deepcopy(self.model), self.vocab)


class HFBackend:
    """A Hugging Face masked LM (e.g. SciBERT) or causal LM (e.g. SmolLM2) behind the same interface."""

    def __init__(self, model, tokenizer, kind: str):
        if kind not in ("masked", "causal"):
            raise ValueError(f"kind must be 'masked' or 'causal', got {kind!r}")
        self.model, self.tok, self.kind = model, tokenizer, kind
        self.dim = model.get_input_embeddings().weight.shape[1]
        if kind == "masked":
            self.mask_id, self.pad_id = tokenizer.mask_token_id, tokenizer.pad_token_id
            self.prefix_ids, self.suffix_ids = [tokenizer.cls_token_id], [tokenizer.sep_token_id]
        else:
            self.mask_id = None
            self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
            self.prefix_ids = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
            self.suffix_ids = []

    def tokenize(self, text: str) -> list[int]:
        return self.tok.encode(" " + text if self.kind == "causal" else text, add_special_tokens=False)

    def label_word_id(self, word: str) -> int:
        ids = self.tokenize(word)
        if self.kind == "masked" and len(ids) != 1:
            raise ValueError(f"label word {word!r} is {len(ids)} tokens for this masked LM; use a single-token word")
        return ids[0]

    def embed(self, ids):
        return self.model.get_input_embeddings()(ids)

    def forward(self, embeds, pad_mask, positions, token_ids=None):
        rows, positions = torch.arange(len(positions), device=embeds.device), positions.to(embeds.device)
        if self.kind == "causal":
            h = self.model.base_model(inputs_embeds=embeds, attention_mask=pad_mask.long()).last_hidden_state
            hp = h[rows, positions]
            out = self.model.get_output_embeddings()
            logits = None if token_ids is None else hp @ out.weight[token_ids].T
            return logits, hp
        # the MLM head only at the slot (it maps each position on its own: the same logits as the full output's
        # rows, without the vocabulary-sized product at every other position)
        h = self.model.base_model(inputs_embeds=embeds, attention_mask=pad_mask.long()).last_hidden_state
        hp = h[rows, positions]
        if token_ids is None:
            return None, hp
        head = getattr(self.model, "cls", None)
        logits = head(hp) if head is not None else self.model.get_output_embeddings()(hp)
        return logits[:, token_ids], hp

    def copy(self) -> "HFBackend":
        return HFBackend(copy.deepcopy(self.model), self.tok, self.kind)


class PromptModel(nn.Module):
    """A template + verbalizer over a backend: class logits (B, C) of filled examples. Learned parts: the
    template's soft vectors, and the LM itself when ``tune_plm``."""

    def __init__(self, backend, template: Template, verbalizer: list[list[str]], max_len: int = 64,
                 tune_plm: bool = True, seed: int = 0):
        super().__init__()
        self.backend, self.template, self.max_len = backend, template, max_len
        self.word_ids = [[backend.label_word_id(w) for w in words] for words in verbalizer]
        flat = [i for ids in self.word_ids for i in ids]
        self.register_buffer("flat_ids", torch.tensor(flat, dtype=torch.long), persistent=False)
        # class c's score = mean of its words' logits: a (C, W) averaging matrix over the flat word list
        avg = torch.zeros(len(verbalizer), len(flat))
        k = 0
        for c, ids in enumerate(self.word_ids):
            avg[c, k:k + len(ids)] = 1.0 / len(ids)
            k += len(ids)
        self.register_buffer("avg", avg, persistent=False)
        self.lm = backend.model
        for p in self.lm.parameters():
            p.requires_grad_(tune_plm)
        n = template.n_soft
        if n:
            # initialise the vectors as embeddings of random vocabulary tokens (Lester et al. 2021)
            g = torch.Generator().manual_seed(seed)
            emb = backend.model.get_input_embeddings().weight
            pick = torch.randint(10, emb.shape[0], (n,), generator=g)
            self.soft = nn.Parameter(emb[pick].detach().clone())
        else:
            self.soft = None

    def fill(self, text: str, term: str = "") -> Filled:
        return fill(self.template, text, term, self.backend, self.max_len)

    def forward(self, filled: list[Filled]) -> torch.Tensor:
        dev = self.avg.device
        ids, pad = pad_filled(filled, self.backend.pad_id, dev)
        emb = self.backend.embed(ids)
        if self.soft is not None:
            rows = torch.tensor([i for i, f in enumerate(filled) for _ in f.soft_positions], dtype=torch.long, device=dev)
            cols = torch.tensor([p for f in filled for p in f.soft_positions], dtype=torch.long, device=dev)
            emb = emb.index_put((rows, cols), self.soft.repeat(len(filled), 1).to(emb.dtype))
        slots = torch.tensor([f.slot for f in filled], dtype=torch.long, device=dev)
        logits, _ = self.backend.forward(emb, pad, slots, self.flat_ids)
        return logits @ self.avg.T
