"""A small BERT-style masked language model (bidirectional transformer encoder + tied MLM head).

Devlin et al. 2019 (BERT), sized down: learned positions, pre-norm blocks (stable when trained from scratch
at a small scale, unlike BERT's post-norm), the MLM head of BERT (dense, GELU, LayerNorm, then the tied
embedding matrix plus a bias), and BERT's 80/10/10 masking. Generic over the vocabulary; the encoder
accepts ``inputs_embeds`` so that callers can splice learned vectors (soft prompts) into the input.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class BertConfig:
    vocab_size: int
    max_len: int = 128  # positions
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


class EncoderBlock(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            raise ValueError(f"n_embd={cfg.n_embd} is not divisible by n_head={cfg.n_head}")
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd))
        self.drop = nn.Dropout(cfg.dropout)
        self.p = cfg.dropout

    def forward(self, x, attn_mask):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=self.p if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp(self.ln2(x)))

    def forward_at(self, x, attn_mask, pos):
        """The block's output (B, C) at one position per row (``pos``, (B,)): the query, the projection and the
        MLP only there, keys and values everywhere. Equal to ``forward(x, attn_mask)[arange(B), pos]`` (in
        training mode, with dropout drawn only where it can reach that output); for a last block whose only
        use is one position (a [MASK] slot), it skips the per-token work of every other position."""
        B, T, C = x.shape
        rows = torch.arange(B, device=x.device)
        h = self.ln1(x)
        q = F.linear(h[rows, pos], self.qkv.weight[:C], self.qkv.bias[:C])
        k, v = F.linear(h, self.qkv.weight[C:], self.qkv.bias[C:]).split(C, dim=2)
        hd = C // self.n_head
        q = q.view(B, 1, self.n_head, hd).transpose(1, 2)
        k, v = (t.view(B, T, self.n_head, hd).transpose(1, 2) for t in (k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=self.p if self.training else 0.0)
        xs = x[rows, pos] + self.drop(self.proj(y.transpose(1, 2).reshape(B, C)))
        return xs + self.drop(self.mlp(self.ln2(xs)))


class BertMLM(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos = nn.Embedding(cfg.max_len, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        # MLM head (BERT's BertLMPredictionHead): transform, then the tied decoder with its own bias
        self.head_dense = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.head_ln = nn.LayerNorm(cfg.n_embd)
        self.head_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def get_input_embeddings(self) -> nn.Embedding:
        return self.tok

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings (no positions): what a soft prompt replaces."""
        return self.tok(ids)

    def encode(self, inputs_embeds: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states (B, T, C) of token embeddings (B, T, C); ``pad_mask`` (B, T) is True on real tokens."""
        B, T, _ = inputs_embeds.shape
        if T > self.cfg.max_len:
            raise ValueError(f"sequence of {T} tokens is longer than max_len={self.cfg.max_len}")
        x = self.drop(inputs_embeds + self.pos(torch.arange(T, device=inputs_embeds.device)))
        attn = None if pad_mask is None else pad_mask[:, None, None, :]
        for blk in self.blocks:
            x = blk(x, attn)
        return self.ln_f(x)

    def bottom(self, ids: torch.Tensor, pad_mask: torch.Tensor, n_top: int) -> torch.Tensor:
        """Hidden states before the last ``n_top`` blocks (embeddings with positions when ``n_top`` is all of
        them): what a frozen lower part computes once and a tuned top reuses."""
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        attn = pad_mask[:, None, None, :]
        for blk in self.blocks[: len(self.blocks) - n_top]:
            x = blk(x, attn)
        return x

    def mlm_logits(self, hidden: torch.Tensor, token_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Vocabulary logits of hidden states (..., C); only the columns ``token_ids`` when given (cheap
        verbalizer scoring)."""
        h = self.head_ln(F.gelu(self.head_dense(hidden)))
        if token_ids is None:
            return h @ self.tok.weight.T + self.head_bias
        return h @ self.tok.weight[token_ids].T + self.head_bias[token_ids]

    def forward(self, ids: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.encode(self.embed(ids), pad_mask)


def mask_for_mlm(ids: torch.Tensor, pad_mask: torch.Tensor, mask_id: int, vocab_size: int, n_special: int,
                 prob: float = 0.15, generator: torch.Generator | None = None):
    """BERT's masking: choose ``prob`` of the real, non-special tokens as targets; of those 80% become
    [MASK], 10% a random token, 10% stay. Returns (inputs, targets with -100 where not chosen)."""
    real = pad_mask & (ids >= n_special)
    chosen = (torch.rand(ids.shape, generator=generator) < prob) & real
    targets = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (r < 0.8)] = mask_id
    rand_tok = torch.randint(n_special, vocab_size, ids.shape, generator=generator)
    swap = chosen & (r >= 0.8) & (r < 0.9)
    inputs[swap] = rand_tok[swap]
    return inputs, targets


def pad_rows(rows: list[list[int]], pad_id: int = 0, max_len: int | None = None):
    """Right-padded (ids, pad_mask) of token rows, cut to ``max_len``."""
    T = max(len(r) for r in rows) if max_len is None else min(max_len, max(len(r) for r in rows))
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        r = r[:T]
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return ids, ids != pad_id


def length_sorted_batches(lengths, batch_size: int, generator: torch.Generator, pool: int = 50):
    """Batches of similar-length rows (less padding), in random order: shuffle, sort within pools of
    ``pool`` batches, then shuffle the batches."""
    perm = torch.randperm(len(lengths), generator=generator).tolist()
    chunk = batch_size * pool
    batches = []
    for s in range(0, len(perm), chunk):
        part = sorted(perm[s:s + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


def pretrain_mlm(model: BertMLM, rows: list[list[int]], *, mask_id: int, n_special: int, epochs: float = 1.0,
                 batch_size: int = 64, lr: float = 1e-3, warmup: float = 0.05, weight_decay: float = 0.01,
                 seed: int = 0, log=None, log_every: int = 200, trainer_cfg: dict | None = None) -> dict:
    """Masked-LM pretraining on token rows (each already [CLS] ... [SEP], at most ``max_len``), AdamW with a
    linear warm-up and linear decay, gradient norm clipped to 1, through the shared Lightning trainer
    (:mod:`paperlib.lightning_modules`). ``trainer_cfg``: its settings (accelerator, devices, precision); None: one
    device of the kind the model is on, float32. The masks are drawn on the CPU, so a seed gives the same batches
    anywhere. Returns the loss history and throughput."""
    from ..lightning_modules import LoopModule, device_trainer, fit_loop, generated_loader

    g = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    lengths = [len(r) for r in rows]
    n_batches = math.ceil(len(rows) / batch_size)
    total = max(1, int(round(epochs * n_batches)))
    warm = max(1, int(warmup * total))

    def batches():
        step = 0
        while step < total:
            for b in length_sorted_batches(lengths, batch_size, g):
                if step >= total:
                    break
                ids, pad = pad_rows([rows[i] for i in b], max_len=model.cfg.max_len)
                inputs, targets = mask_for_mlm(ids, pad, mask_id, model.cfg.vocab_size, n_special, generator=g)
                step += 1
                yield inputs, targets, pad

    def loss_fn(m, batch):
        inputs, targets, pad = batch
        h = m(inputs, pad)
        sel = targets != -100
        return F.cross_entropy(m.mlm_logits(h[sel]), targets[sel])

    def make_optimizer(m):
        opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
        return opt, torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm + 1))))

    state = {"tokens": 0}

    def after_step(module, batch, loss):
        state["tokens"] += int(batch[2].sum())
        step, history = len(module.losses), module.losses
        if log and (step % log_every == 0 or step == total):
            el = time.perf_counter() - t0
            log(f"MLM step {step}/{total}: loss {sum(history[-log_every:]) / len(history[-log_every:]):.3f}, "
                f"{state['tokens'] / el:,.0f} tokens/s")

    if trainer_cfg is None:
        trainer_cfg = device_trainer(dev)
    module = LoopModule(model, loss_fn, make_optimizer, clip_norm=1.0, after_step=after_step)
    t0 = time.perf_counter()
    fit_loop(module, generated_loader(batches, total), trainer_cfg, max_epochs=1, max_steps=total)
    model.eval()
    wall = time.perf_counter() - t0
    tokens = state["tokens"]
    return {"loss": module.losses, "steps": total, "tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall}


def save_bert(path, model: BertMLM, info: dict) -> None:
    """Weights, config and provenance, written atomically."""
    from .checkpoint import save_atomic

    save_atomic({"model": model.state_dict(), "config": model.cfg.to_dict(), "info": info}, path)


def load_bert(path) -> tuple[BertMLM, dict]:
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = BertMLM(BertConfig(**state["config"]))
    model.load_state_dict(state["model"])
    return model.eval(), state["info"]
