"""RNA-FM: an ESM-1b-style BERT over RNA (Chen et al. 2022, official code ml4bio/RNA-FM ``fm/model.py``,
``fm/modules.py``, ``fm/data.py``).

As the official ``ProteinBertModel`` with ``arch='roberta_large'`` (ESM-1b): token embedding (scale
1) + learned positional embedding (positions counted from ``padding_idx + 1``), a layer norm
before the first block, pre-LN transformer blocks (attention, then an erf-GELU FFN), a layer norm
after the last block, and a RoBERTa LM head (dense, GELU, layer norm, then the *tied* token
embedding matrix plus a bias). The paper's shape is 12 layers, 640 hidden, 20 heads, FFN 5120,
1024 positions. Parameter names follow the official state dict so that its checkpoint loads
(:func:`load_official`).

The vocabulary is the official ``Alphabet`` for RNA: ``<cls> <pad> <eos> <unk>``, the four bases
and the IUPAC codes and ``-``, ``<null_1..4>`` padding the size to a multiple of 8, then
``<mask>`` (25 tokens). A sequence is encoded ``<cls> x1..xL <eos>``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from paperlib.data.rna import clean_rna
from paperlib.nn.checkpoint import save_atomic

STANDARD = list("ACGURYKMSWBDHVN-")  # official fm/constants.py order: bases, IUPAC codes, gap
TOKENS = ["<cls>", "<pad>", "<eos>", "<unk>"] + STANDARD
TOKENS += [f"<null_{i + 1}>" for i in range((8 - len(TOKENS) % 8) % 8)] + ["<mask>"]
TOK = {t: i for i, t in enumerate(TOKENS)}
CLS, PAD, EOS, UNK, MASK = TOK["<cls>"], TOK["<pad>"], TOK["<eos>"], TOK["<unk>"], TOK["<mask>"]
BASES = [TOK[b] for b in "ACGU"]


def encode(seqs: list[str], max_len: int | None = None) -> torch.Tensor:
    """(B, T) token ids ``<cls> seq <eos>`` right-padded with ``<pad>``; sequences cut to ``max_len``."""
    ids = []
    for s in seqs:
        s = clean_rna(s)[: max_len or None]
        ids.append([CLS] + [TOK[c] for c in s] + [EOS])
    T = max(len(x) for x in ids)
    out = torch.full((len(ids), T), PAD, dtype=torch.long)
    for b, x in enumerate(ids):
        out[b, : len(x)] = torch.tensor(x)
    return out


@dataclass
class RNAFMConfig:
    num_layers: int = 12
    embed_dim: int = 640
    attention_heads: int = 20
    ffn_embed_dim: int = 5120
    max_positions: int = 1024
    vocab_size: int = len(TOKENS)

    def to_dict(self) -> dict:
        return asdict(self)


PAPER_CONFIG = RNAFMConfig()


class SelfAttention(nn.Module):
    """fairseq/ESM ``MultiheadAttention`` without bias_kv: q is scaled by head_dim^-1/2 before q.k."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embed_dim={dim} is not divisible by attention_heads={heads}")
        self.heads, self.head_dim = heads, dim // heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x, pad_mask, need_weights: bool):
        B, T, C = x.shape
        q, k, v = (p(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        keep = ~pad_mask[:, None, None, :]  # (B, 1, 1, T): keys that may be attended to
        if need_weights:
            scores = (q * self.head_dim ** -0.5) @ k.transpose(-1, -2)
            attn = scores.masked_fill(~keep, float("-inf")).softmax(-1)
            y = attn @ v
        else:
            attn = None
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, C)), attn


class TransformerLayer(nn.Module):
    def __init__(self, cfg: RNAFMConfig):
        super().__init__()
        self.self_attn = SelfAttention(cfg.embed_dim, cfg.attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.fc1 = nn.Linear(cfg.embed_dim, cfg.ffn_embed_dim)
        self.fc2 = nn.Linear(cfg.ffn_embed_dim, cfg.embed_dim)
        self.final_layer_norm = nn.LayerNorm(cfg.embed_dim)

    def forward(self, x, pad_mask, need_weights=False):
        h, attn = self.self_attn(self.self_attn_layer_norm(x), pad_mask, need_weights)
        x = x + h
        x = x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        return x, attn


class RobertaLMHead(nn.Module):
    def __init__(self, dim: int, weight: nn.Parameter):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.layer_norm = nn.LayerNorm(dim)
        self.weight = weight  # tied to embed_tokens.weight
        self.bias = nn.Parameter(torch.zeros(weight.shape[0]))

    def forward(self, x):
        return F.linear(self.layer_norm(F.gelu(self.dense(x))), self.weight) + self.bias


class RNAFM(nn.Module):
    def __init__(self, cfg: RNAFMConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD)
        # fairseq LearnedPositionalEmbedding: padding_idx + 1 + max_positions rows
        self.embed_positions = nn.Embedding(cfg.max_positions + PAD + 1, cfg.embed_dim, padding_idx=PAD)
        self.emb_layer_norm_before = nn.LayerNorm(cfg.embed_dim)
        self.layers = nn.ModuleList([TransformerLayer(cfg) for _ in range(cfg.num_layers)])
        self.emb_layer_norm_after = nn.LayerNorm(cfg.embed_dim)
        self.lm_head = RobertaLMHead(cfg.embed_dim, self.embed_tokens.weight)
        self.apply(_init_bert_params)

    def forward(self, tokens, need_head_weights: bool = False) -> dict:
        """``logits`` (B, T, V), ``representations`` (B, T, E) after the last layer norm, and with
        ``need_head_weights`` the ``attentions`` (B, layers, heads, T, T), zero on padding."""
        if tokens.shape[1] > self.cfg.max_positions:
            raise ValueError(f"sequence of {tokens.shape[1]} tokens > max_positions={self.cfg.max_positions}")
        pad_mask = tokens.eq(PAD)
        positions = torch.cumsum(~pad_mask, dim=1) * (~pad_mask) + PAD
        x = self.embed_tokens(tokens) + self.embed_positions(positions)
        x = self.emb_layer_norm_before(x) * (~pad_mask).unsqueeze(-1)
        attns = []
        for layer in self.layers:
            x, a = layer(x, pad_mask, need_head_weights)
            if need_head_weights:
                attns.append(a)
        x = self.emb_layer_norm_after(x)
        out = {"logits": self.lm_head(x), "representations": x}
        if need_head_weights:
            a = torch.stack(attns, 1)
            keep = (~pad_mask).float()
            out["attentions"] = a * (keep[:, None, :] * keep[:, :, None])[:, None, None]
        return out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _init_bert_params(m):
    """fairseq ``init_bert_params``: N(0, 0.02) weights, zero biases, zero padding embedding."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
        if m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()


# ---------------------------------------------------------------- the official checkpoint

OFFICIAL_URL = "https://proj.cse.cuhk.edu.hk/rnafm/api/download?filename=RNA-FM_pretrained.pth"


def load_official(source: str = OFFICIAL_URL, cfg: RNAFMConfig = PAPER_CONFIG) -> RNAFM:
    """The released RNA-FM (12 x 640) from a local ``RNA-FM_pretrained.pth`` or a URL (needs network).

    The official file is a fairseq checkpoint ``{"args": ..., "model": state_dict}`` whose keys carry an
    ``encoder.`` / ``sentence_encoder.`` prefix (as ``fm/pretrained.py`` strips them)."""
    if Path(source).is_file():
        blob = torch.load(source, map_location="cpu", weights_only=False)
    elif source.startswith(("http://", "https://")):
        blob = torch.hub.load_state_dict_from_url(source, map_location="cpu", check_hash=False)
    else:
        raise FileNotFoundError(f"no RNA-FM checkpoint at {source!r}: give a path to RNA-FM_pretrained.pth "
                                f"or a URL (default {OFFICIAL_URL})")
    state = blob.get("model", blob) if isinstance(blob, dict) else blob
    clean = {}
    for k, v in state.items():
        for prefix in ("encoder.sentence_encoder.", "encoder.", "sentence_encoder."):
            if k.startswith(prefix):
                k = k[len(prefix):]
                break
        clean[k] = v
    model = RNAFM(cfg)
    missing, unexpected = model.load_state_dict(clean, strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]
    unexpected = [k for k in unexpected if not k.startswith("contact_head")]
    if missing or unexpected:
        raise ValueError(f"{source} is not an RNA-FM checkpoint of the paper's shape: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return model.eval()


def save_checkpoint(path, model: RNAFM, manifest: dict, half: bool = True) -> None:
    """Weights (fp16 by default, to keep a committed file small) and their manifest, atomically."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()
             if k != "lm_head.weight"}
    save_atomic({"model": state, "config": model.cfg.to_dict(), "manifest": manifest}, path)


def load_checkpoint(path, cfg: RNAFMConfig | None = None) -> tuple[RNAFM, dict]:
    """The model saved by :func:`save_checkpoint` (fp32, eval mode) and its manifest.

    With ``cfg`` given, a checkpoint made with another configuration is an error (retrain instead)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no RNA-FM checkpoint at {path}")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    saved = RNAFMConfig(**blob["config"])
    if cfg is not None and saved != cfg:
        raise ValueError(f"checkpoint {path} was made with {saved}, not {cfg}: pretrain with this "
                         "configuration (python -m paperlib.rnafm.pretrain) or use the checkpoint's")
    model = RNAFM(saved)
    model.load_state_dict({k: v.float() for k, v in blob["model"].items()}, strict=False)
    return model.eval(), blob["manifest"]
