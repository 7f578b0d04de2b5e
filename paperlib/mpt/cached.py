"""Parameter-efficient tuning with cached frozen features (the quick profile's speed-up, in-domain MLM only).

The lower blocks of the LM are frozen; only the top ``n_top`` blocks, the final LayerNorm and the heads are tuned.
Where an input has no learned vectors (the classifier's input, manual templates), the frozen blocks' output does not
change during tuning, so it is computed once per input and cached (float16 by default).

Soft and mixed templates put their learned vectors at the **input embedding layer**, as P-tuning (Liu et al. 2021)
and MPT (Sec. 3) do: the vectors replace the token embeddings at their positions, position embeddings are added,
and the frozen blocks see them like any other token. Every frozen block's output then depends on the vectors, so
for these templates nothing past the embedding lookup is cached: the frozen blocks run at every step (in eval mode,
as when the cache is built) and the gradient reaches the vectors through them. The result is the full model's
(``tests/test_mpt_prompts.py`` checks it against :class:`paperlib.mpt.prompts.PromptModel` on the same weights).
With ``n_top`` equal to the number of blocks this is tuning the whole encoder (the embeddings excepted).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn

from .prompts import Filled


@dataclass
class Cached:
    h: torch.Tensor | None  # (T, C) frozen features (inputs without learned vectors), else None
    soft_positions: list[int]
    slot: int
    ids: list[int] | None = None  # token ids (inputs with learned vectors: the frozen blocks run live)

    def __len__(self) -> int:
        return len(self.ids) if self.h is None else self.h.shape[0]


@torch.no_grad()
def bottom_features(backend, filled: list[Filled], n_top: int, batch_size: int = 256,
                    dtype: torch.dtype = torch.float16) -> list[Cached]:
    """The frozen lower blocks' output for each input without learned vectors; inputs with learned vectors keep
    their token ids (their frozen blocks depend on the vectors and run at every step)."""
    model = backend.model.eval()
    dev = model.tok.weight.device
    if not 1 <= n_top <= len(model.blocks):
        raise ValueError(f"n_top must be in 1..{len(model.blocks)}, got {n_top}")
    out: list[Cached | None] = [None] * len(filled)
    plain = [i for i, f in enumerate(filled) if not f.soft_positions]
    for i, f in enumerate(filled):
        if f.soft_positions:
            out[i] = Cached(None, list(f.soft_positions), f.slot, list(f.ids))
    order = sorted(plain, key=lambda i: len(filled[i].ids))
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        T = max(len(filled[i].ids) for i in idx)
        ids = torch.full((len(idx), T), backend.pad_id, dtype=torch.long)
        vis = torch.zeros((len(idx), T), dtype=torch.bool)
        for r, i in enumerate(idx):
            f = filled[i]
            ids[r, : len(f.ids)] = torch.tensor(f.ids)
            vis[r, : len(f.ids)] = True
        h = model.bottom(ids.to(dev), vis.to(dev), n_top).to(dtype)
        for r, i in enumerate(idx):
            f = filled[i]
            out[i] = Cached(h[r, : len(f.ids)].clone(), [], f.slot)
    return out


class FrozenBottom:
    """The LM's embeddings and lower blocks, frozen (no parameter gradients) and always in eval mode, held outside
    the module tree so that ``train()`` and the optimiser never reach them; one copy serves every model of a task."""

    def __init__(self, model, n_top: int):
        self.tok, self.pos = copy.deepcopy(model.tok), copy.deepcopy(model.pos)
        self.blocks = [copy.deepcopy(b) for b in model.blocks[: len(model.blocks) - n_top]]
        for m in [self.tok, self.pos, *self.blocks]:
            m.eval().requires_grad_(False)

    def __call__(self, ids: torch.Tensor, pad: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                 soft: torch.Tensor) -> torch.Tensor:
        """The frozen blocks' output with the learned vectors ``soft`` (n, C) at positions (rows, cols) of the
        input embeddings (each input holds all n, in order)."""
        emb = self.tok(ids).index_put((rows, cols), soft.repeat(ids.shape[0], 1))
        x = emb + self.pos(torch.arange(ids.shape[1], device=ids.device))
        attn = pad[:, None, None, :]
        for blk in self.blocks:
            x = blk(x, attn)
        return x


class _Top(nn.Module):
    """Trainable copies of the LM's top blocks and final LayerNorm, over cached features or the frozen bottom."""

    def __init__(self, backend, n_top: int, frozen: FrozenBottom | None = None):
        super().__init__()
        m = backend.model
        self.blocks = copy.deepcopy(m.blocks[len(m.blocks) - n_top:])
        self.ln_f = copy.deepcopy(m.ln_f)
        self.dim = m.cfg.n_embd
        self._frozen, self._backend, self._n_top = frozen, backend, n_top

    @property
    def frozen(self) -> FrozenBottom:
        if self._frozen is None:
            self._frozen = FrozenBottom(self._backend.model, self._n_top)
        return self._frozen

    def run(self, items: list[Cached], soft: torch.Tensor | None, pooling: str = "slot"):
        dev = self.ln_f.weight.device
        T = max(len(it) for it in items)
        pad = torch.zeros((len(items), T), dtype=torch.bool)
        for i, it in enumerate(items):
            pad[i, : len(it)] = True
        pad = pad.to(dev)
        live = [it.h is None for it in items]
        if any(live):
            if not all(live) or soft is None:
                raise ValueError("inputs with learned-vector positions need the template's vectors, all in one batch")
            ids = torch.full((len(items), T), self._backend.pad_id, dtype=torch.long)
            for i, it in enumerate(items):
                ids[i, : len(it)] = torch.tensor(it.ids)
            rows = torch.tensor([i for i, it in enumerate(items) for _ in it.soft_positions], dtype=torch.long, device=dev)
            cols = torch.tensor([p for it in items for p in it.soft_positions], dtype=torch.long, device=dev)
            x = self.frozen(ids.to(dev), pad, rows, cols, soft)
        else:
            x = torch.zeros((len(items), T, self.dim), device=dev)
            for i, it in enumerate(items):
                x[i, : len(it)] = it.h.float()
        attn = pad[:, None, None, :]
        if pooling != "mean":  # only the slot's final state is used: the last block computes it alone
            for blk in self.blocks[:-1]:
                x = blk(x, attn)
            slot = torch.tensor([it.slot for it in items], device=dev)
            return self.ln_f(self.blocks[-1].forward_at(x, attn, slot))
        for blk in self.blocks:
            x = blk(x, attn)
        h = self.ln_f(x)
        m = pad[..., None].float()
        return (h * m).sum(1) / m.sum(1)


class TopPromptModel(nn.Module):
    """A prompt model (template + verbalizer) whose tuned part is the LM's top blocks, its MLM head (including
    the label words' output embeddings) and the template's vectors."""

    def __init__(self, backend, n_top: int, n_soft: int, word_ids: list[list[int]], seed: int = 0,
                 frozen: FrozenBottom | None = None):
        super().__init__()
        m = backend.model
        self.top = _Top(backend, n_top, frozen)
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
            # input-level vectors, initialised as embeddings of random vocabulary tokens (Lester et al. 2021)
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

    def __init__(self, backend, n_top: int, n_classes: int, pooling: str = "mean", frozen: FrozenBottom | None = None):
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        self.pooling = "slot" if pooling == "cls" else "mean"
        self.top = _Top(backend, n_top, frozen)
        self.head = nn.Linear(self.top.dim, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, items: list[Cached]) -> torch.Tensor:
        return self.head(self.top.run(items, None, self.pooling))
