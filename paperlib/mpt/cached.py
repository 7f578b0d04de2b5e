"""Parameter-efficient tuning with cached frozen features (the quick profile's speed-up, in-domain MLM only).

The lower blocks of the LM are frozen and run once per input (their outputs are cached in float16); only the
top ``n_top`` blocks, the final LayerNorm and the heads are tuned. For a template with learned vectors the
vectors enter at the input of the first tuned block: in the frozen blocks their positions are hidden from
attention (as if absent), so the cached features do not depend on them. With ``n_top`` equal to the number of
blocks this is ordinary tuning of the whole encoder (the embeddings excepted) with input-level soft prompts.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn

from .prompts import Filled


@dataclass
class Cached:
    h: torch.Tensor  # (T, C) float16 frozen features
    soft_positions: list[int]
    slot: int

    def __len__(self) -> int:
        return self.h.shape[0]


@torch.no_grad()
def bottom_features(backend, filled: list[Filled], n_top: int, batch_size: int = 256) -> list[Cached]:
    model = backend.model.eval()
    if not 1 <= n_top <= len(model.blocks):
        raise ValueError(f"n_top must be in 1..{len(model.blocks)}, got {n_top}")
    order = sorted(range(len(filled)), key=lambda i: len(filled[i].ids))
    out: list[Cached | None] = [None] * len(filled)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        T = max(len(filled[i].ids) for i in idx)
        ids = torch.full((len(idx), T), backend.pad_id, dtype=torch.long)
        vis = torch.zeros((len(idx), T), dtype=torch.bool)
        for r, i in enumerate(idx):
            f = filled[i]
            ids[r, : len(f.ids)] = torch.tensor(f.ids)
            vis[r, : len(f.ids)] = True
            vis[r, f.soft_positions] = False
        h = model.bottom(ids, vis, n_top).half()
        for r, i in enumerate(idx):
            f = filled[i]
            out[i] = Cached(h[r, : len(f.ids)].clone(), list(f.soft_positions), f.slot)
    return out


class _Top(nn.Module):
    """Trainable copies of the LM's top blocks and final LayerNorm, over cached features."""

    def __init__(self, backend, n_top: int):
        super().__init__()
        m = backend.model
        self.blocks = copy.deepcopy(m.blocks[len(m.blocks) - n_top:])
        self.ln_f = copy.deepcopy(m.ln_f)
        self.dim = m.cfg.n_embd

    def run(self, items: list[Cached], soft: torch.Tensor | None, pooling: str = "slot"):
        T = max(len(it) for it in items)
        x = torch.zeros((len(items), T, self.dim))
        pad = torch.zeros((len(items), T), dtype=torch.bool)
        for i, it in enumerate(items):
            x[i, : len(it)] = it.h.float()
            pad[i, : len(it)] = True
        if soft is not None:
            rows = torch.tensor([i for i, it in enumerate(items) for _ in it.soft_positions], dtype=torch.long)
            cols = torch.tensor([p for it in items for p in it.soft_positions], dtype=torch.long)
            x = x.index_put((rows, cols), soft.repeat(len(items), 1))
        attn = pad[:, None, None, :]
        for blk in self.blocks:
            x = blk(x, attn)
        h = self.ln_f(x)
        if pooling == "mean":
            m = pad[..., None].float()
            return (h * m).sum(1) / m.sum(1)
        return h[torch.arange(len(items)), torch.tensor([it.slot for it in items])]


class TopPromptModel(nn.Module):
    """A prompt model (template + verbalizer) whose tuned part is the LM's top blocks, its MLM head (including
    the label words' output embeddings) and the template's vectors."""

    def __init__(self, backend, n_top: int, n_soft: int, word_ids: list[list[int]], seed: int = 0):
        super().__init__()
        m = backend.model
        self.top = _Top(backend, n_top)
        self.head_dense, self.head_ln = copy.deepcopy(m.head_dense), copy.deepcopy(m.head_ln)
        flat = [i for ids in word_ids for i in ids]
        self.words = nn.Parameter(m.tok.weight[flat].detach().clone())
        self.bias = nn.Parameter(m.head_bias[flat].detach().clone())
        avg = torch.zeros(len(word_ids), len(flat))
        k = 0
        for c, ids in enumerate(word_ids):
            avg[c, k:k + len(ids)] = 1.0 / len(ids)
            k += len(ids)
        self.register_buffer("avg", avg, persistent=False)
        if n_soft:
            # vectors start as the frozen features of random vocabulary tokens' embeddings (Lester et al. 2021)
            g = torch.Generator().manual_seed(seed)
            pick = torch.randint(10, m.tok.weight.shape[0], (n_soft,), generator=g)
            self.soft = nn.Parameter(m.tok.weight[pick].detach().clone())
        else:
            self.soft = None

    def forward(self, items: list[Cached]) -> torch.Tensor:
        h = self.top.run(items, self.soft)
        h = self.head_ln(torch.nn.functional.gelu(self.head_dense(h)))
        return (h @ self.words.T + self.bias) @ self.avg.T


class TopClassifier(nn.Module):
    """The LM's top blocks and a linear classification head on the [CLS] state (``pooling="cls"``) or on the
    mean of the final states (``"mean"``: our MLM is pretrained without a sentence-level objective, so its [CLS]
    state is never trained to summarise the sentence)."""

    def __init__(self, backend, n_top: int, n_classes: int, pooling: str = "mean"):
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        self.pooling = "slot" if pooling == "cls" else "mean"
        self.top = _Top(backend, n_top)
        self.head = nn.Linear(self.top.dim, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, items: list[Cached]) -> torch.Tensor:
        return self.head(self.top.run(items, None, self.pooling))
