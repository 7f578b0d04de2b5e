"""A small GPT (decoder-only transformer) with batched KV-cache generation.

The shape of karpathy/nanoGPT's ``model.py`` (pre-norm blocks, learned positions, tied
embeddings), plus what RL on language models needs: left-padded prompts (positions count real
tokens only; padding is masked out of attention), per-token log-probabilities of given responses,
and sampling with a KV cache so that a rollout costs one cached forward per generated token.
Shared by the PRIME and A-LoL reproductions; sized from a few hundred thousand parameters (CPU)
upwards.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .sampling import sample_responses


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 256  # longest prompt + response, in tokens
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            raise ValueError(f"n_embd={cfg.n_embd} is not divisible by n_head={cfg.n_head}")
        self.n_head, self.n_embd = cfg.n_head, cfg.n_embd
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x, attn_mask, cache=None):
        """``attn_mask``: (B, 1, T, S) boolean, True where attention is allowed. ``cache``: a
        (k, v) pair of the earlier positions, each (B, H, S - T, D); the new (k, v) is returned."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x, attn_mask, cache=None):
        a, new_cache = self.attn(self.ln1(x), attn_mask, cache)
        x = x + a
        return x + self.mlp(self.ln2(x)), new_cache


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.wte.weight  # tied, as nanoGPT
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx, pad_mask=None, cache=None, positions=None, return_hidden: bool = False):
        """Logits (B, T, V) for tokens ``idx`` (B, T).

        ``pad_mask`` (B, S): True for real tokens over the whole sequence so far (cache + idx);
        padding never receives attention. ``positions`` (B, T): position ids (default: the count
        of real tokens before each one). Returns ``(logits, new_cache)`` when ``cache`` is a list
        (pass ``[]`` to start one), else logits; with ``return_hidden`` the last layer's (normalised)
        hidden states (B, T, C) instead.
        """
        B, T = idx.shape
        past = 0 if not cache else cache[0][0].shape[2]
        S = past + T
        if pad_mask is None:
            pad_mask = torch.ones(B, S, dtype=torch.bool, device=idx.device)
        if positions is None:
            positions = (pad_mask.long().cumsum(1) - 1).clamp(min=0)[:, past:]
        if int(positions.max()) >= self.cfg.block_size:
            raise ValueError(f"sequence of {int(positions.max()) + 1} tokens exceeds block_size={self.cfg.block_size}")
        causal = torch.ones(T, S, dtype=torch.bool, device=idx.device).tril(past)
        attn_mask = causal[None, None] & pad_mask[:, None, None, :]
        # a padded query row with no allowed key would give NaN; let it see itself
        own = torch.arange(S, device=idx.device)[None, :] == torch.arange(past, S, device=idx.device)[:, None]
        attn_mask = attn_mask | own[None, None]
        x = self.wte(idx) + self.wpe(positions)
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, attn_mask, cache[i] if cache else None)
            new_cache.append(kv)
        h = self.ln_f(x)
        if return_hidden:
            return h
        logits = self.head(h)
        return (logits, new_cache) if cache is not None else logits


def pack_prompts(heads: list[list[int]], tails: list[list[int]] | None = None, pad_id: int = 0, device="cpu"):
    """The batch layout this GPT's generation and log-prob functions expect: each ``head`` (prompt ids,
    ``<bos>`` included) left-padded to a common width P, then each ``tail`` (response ids, ``<eos>``
    included; none when ``tails`` is None) right-padded. Returns (tokens, real-token mask, P)."""
    P = max(map(len, heads))
    tails = tails if tails is not None else [[] for _ in heads]
    L = max(map(len, tails))
    tokens = torch.full((len(heads), P + L), pad_id, dtype=torch.long)
    for i, (h, t) in enumerate(zip(heads, tails)):
        tokens[i, P - len(h):P] = torch.tensor(h)
        if t:
            tokens[i, P:P + len(t)] = torch.tensor(t)
    tokens = tokens.to(device)
    return tokens, tokens != pad_id, P


def response_log_probs(model: GPT, tokens, pad_mask, prompt_len: int):
    """log pi(y_t | x, y_<t) for every response token: (B, T - prompt_len).

    ``tokens`` (B, T) are left-padded prompts (``prompt_len`` columns) followed by responses;
    ``pad_mask`` marks real tokens. Response positions after the end are returned too (mask them).
    A model with its own ``response_log_probs`` (``paperlib.nn.hf.HFCausalLM``) computes them itself.
    """
    if not isinstance(model, GPT) and hasattr(model, "response_log_probs"):
        return model.response_log_probs(tokens, pad_mask, prompt_len)
    logits = model(tokens[:, :-1], pad_mask[:, :-1])
    logp = torch.log_softmax(logits[:, prompt_len - 1:].float(), dim=-1)
    return logp.gather(-1, tokens[:, prompt_len:, None]).squeeze(-1)


@torch.no_grad()
def generate(model: GPT, prompts, prompt_mask, max_new_tokens: int, eos_id: int, pad_id: int = 0,
             temperature: float = 1.0, generator: torch.Generator | None = None, greedy: bool = False,
             banned_ids: tuple[int, ...] = ()):
    """Sample responses for left-padded ``prompts`` (B, P) with a KV cache.

    Returns (tokens (B, P + L), pad_mask (B, P + L)): the prompts, then the responses, each
    response ending with ``eos_id`` (kept, as the official rollouts keep EOS) and ``pad_id`` after;
    L <= ``max_new_tokens``. ``pad_id`` and ``banned_ids`` are never sampled. A model with its own
    ``generate`` (``paperlib.nn.hf.HFCausalLM``, with the model's KV cache) samples itself.
    """
    if not isinstance(model, GPT) and hasattr(model, "generate"):
        return model.generate(prompts, prompt_mask, max_new_tokens, eos_id, pad_id=pad_id, temperature=temperature,
                              generator=generator, greedy=greedy, banned_ids=banned_ids)
    was_training = model.training
    model.eval()
    max_new_tokens = min(max_new_tokens, model.cfg.block_size - int(prompt_mask.sum(1).max()))
    logits, cache = model(prompts, prompt_mask, cache=[])
    state = {"cache": cache}

    def step(tok, mask, positions):
        logits, state["cache"] = model(tok[:, None], mask, cache=state["cache"], positions=positions)
        return logits

    try:
        return sample_responses(logits, step, prompts, prompt_mask, max_new_tokens, eos_id, pad_id, temperature,
                                generator, greedy, banned_ids)
    finally:
        model.train(was_training)


def save_checkpoint(path, model: GPT, info: dict) -> None:
    """Weights and their provenance, written atomically (a crash never leaves a half file)."""
    from .checkpoint import save_atomic

    save_atomic({"model": model.state_dict(), "info": info}, path)


def load_checkpoint(path, cfg: GPTConfig) -> tuple[GPT, dict]:
    """A ``GPT`` of ``cfg`` with the weights saved by ``save_checkpoint`` (eval mode), and its info."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = GPT(cfg)
    model.load_state_dict(state["model"])
    return model.eval(), state["info"]
