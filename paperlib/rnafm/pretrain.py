"""Pretraining scales and the committed checkpoint: ``python -m paperlib.rnafm.pretrain --scale cpu``.

Pretraining is RNA-FM's bottleneck, so it is its own step with its own *scales* (not to be confused with the
notebook's run profiles smoke / quick / full, which *load* a checkpoint of some scale; ``full`` pretrains the
paper-scale model when its checkpoint is missing):

* ``tiny``: a 2-layer, 32-wide model for a few seconds (tests and the smoke profile);
* ``cpu``: the committed checkpoint, 4 layers x 128 hidden (8 heads) on 2 shared CPU cores for 55 minutes
  (``reproductions/rnafm/checkpoints/rnafm-cpu.pt`` + ``.json`` manifest: config, corpus hash,
  tokens seen, wall time, git sha);
* ``paper``: the paper's shape (12 x 640, 20 heads, FFN 5120) on a GPU, tens of millions of tokens.

A checkpoint is used only if its model and corpus configuration equal the scale's; otherwise the
loader says so (retrain with this command). A manifest names its scale under ``scale``; manifests written
before the rename (the committed ``rnafm-cpu.json``) name it under ``profile``, which is still read.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .corpus import CorpusConfig, load_corpus
from .mlm import PretrainConfig, pretrain
from .model import RNAFMConfig, load_checkpoint, save_checkpoint

SCALES = {
    "tiny": PretrainConfig(model=asdict(RNAFMConfig(num_layers=2, embed_dim=32, attention_heads=4, ffn_embed_dim=64,
                                                    max_positions=1024)),
                           tokens=30_000, max_seconds=60, batch_tokens=2048, warmup_steps=10, lr=2e-3,
                           threads=1, checkpoint_every_s=1e9),
    # measured on 2 shared cores: 6 x 192 (2.9M parameters) trains at ~1.9k tokens/s, 4 x 128 (0.95M) at
    # ~3.7k; for ~10M tokens in under an hour the smaller model is the better use of compute
    # a first run with 8,192-token batches sat on the unigram plateau (loss 1.32, masked accuracy 0.30) after
    # 450 steps / 3.6M tokens: on a CPU the step count, not the batch, is what is scarce, so 2,048-token batches
    "cpu": PretrainConfig(model=asdict(RNAFMConfig(num_layers=4, embed_dim=128, attention_heads=8, ffn_embed_dim=512,
                                                   max_positions=1024)),
                          tokens=40_000_000, max_seconds=3300, batch_tokens=2048, warmup_steps=500, lr=1e-3,
                          threads=2, checkpoint_every_s=300),
    "paper": PretrainConfig(model=asdict(RNAFMConfig()), tokens=100_000_000, max_seconds=6 * 3600,
                            batch_tokens=65536, crop=1022, warmup_steps=2000, lr=3e-4, threads=8,
                            checkpoint_every_s=900),
}
#: the corpus each scale pretrains on (tiny: a small one, so that the smoke profile builds it in seconds)
CORPORA = {"tiny": CorpusConfig(emit_per_model=300, emit_long=20, emit_held_out=60),
           "cpu": CorpusConfig(), "paper": CorpusConfig(emit_per_model=100_000, emit_long=3000)}


def checkpoint_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "reproductions" / "rnafm" / "checkpoints"


def git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except Exception:
        return "unknown"


def run(scale: str, out: Path | None = None, log=print, **overrides) -> Path:
    cfg = SCALES[scale]
    cfg = PretrainConfig(**{**asdict(cfg), **overrides})
    corpus = load_corpus(CORPORA[scale])
    seqs = [e.seq for e in corpus.split("pretrain")]
    val = [e.seq for e in corpus.split("val")][:300]
    out = out or default_path(scale)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    base = {"scale": scale, "pretrain_config": asdict(cfg), "corpus_config": asdict(CORPORA[scale]),
            "corpus_fingerprint": corpus.fingerprint(), "pretrain_sequences": len(seqs),
            "pretrain_nucleotides": sum(len(s) for s in seqs), "git_sha": git_sha(), "started": started,
            "python": sys.version.split()[0]}

    def save(model, info):
        import torch
        manifest = {**base, **info, "torch": torch.__version__,
                    "device": "cuda" if next(model.parameters()).is_cuda else "cpu"}
        save_checkpoint(out, model, manifest)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({k: v for k, v in manifest.items() if k != "history"}, indent=1) + "\n")
        tmp.replace(out.with_suffix(".json"))
        log(f"checkpoint: {out} ({info['tokens_seen']:,} tokens, val masked acc "
            f"{info.get('val_masked_accuracy', float('nan')):.3f})")

    log(f"pretraining at scale {scale}: {len(seqs):,} sequences, {base['pretrain_nucleotides']:,} nt")
    pretrain(seqs, cfg, val_seqs=val, log=log, on_checkpoint=save)
    return out


def default_path(scale: str) -> Path:
    """The committed scale (cpu) lives in the repository; others in the cache directory."""
    if scale == "cpu":
        return checkpoint_dir() / f"rnafm-{scale}.pt"
    from paperlib.data import cache_dir

    return cache_dir("rnafm", "checkpoints") / f"rnafm-{scale}-{CORPORA[scale].key()}.pt"


def get_pretrained(scale: str, train_if_missing: bool, log=print):
    """(model, manifest) of ``scale``: its checkpoint if it exists and matches the scale's model and
    corpus configuration, else (with ``train_if_missing``) pretrain it now, else a clear error."""
    path = default_path(scale)
    try:
        return load_scale_checkpoint(scale, path)
    except (FileNotFoundError, ValueError) as err:
        if not train_if_missing:
            raise
        log(f"{err}; pretraining at scale {scale!r} now")
    run(scale, path, log=log)
    return load_scale_checkpoint(scale, path)


def manifest_scale(manifest: dict) -> str | None:
    """The pretraining scale a manifest names (``scale``; ``profile`` in manifests written before the rename)."""
    return manifest.get("scale", manifest.get("profile"))


def load_scale_checkpoint(scale: str, path: Path | None = None):
    """The checkpoint of ``scale`` (model, manifest); an error naming the fix if it is missing or was
    made at another scale or with another model or corpus configuration."""
    if scale not in SCALES:
        raise ValueError(f"unknown pretraining scale {scale!r}; valid: {sorted(SCALES)}")
    cfg = SCALES[scale]
    path = path or default_path(scale)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no pretrained checkpoint at {path}: run "
                                f"`python -m paperlib.rnafm.pretrain --scale {scale}`")
    model, manifest = load_checkpoint(path, RNAFMConfig(**cfg.model))
    if manifest_scale(manifest) not in (None, scale):
        raise ValueError(f"{path} was pretrained at scale {manifest_scale(manifest)!r}, not {scale!r}; retrain: "
                         f"`python -m paperlib.rnafm.pretrain --scale {scale}`")
    if manifest.get("corpus_config") != asdict(CORPORA[scale]):
        raise ValueError(f"{path} was pretrained on another corpus configuration "
                         f"({manifest.get('corpus_config')}); retrain: "
                         f"`python -m paperlib.rnafm.pretrain --scale {scale}`")
    return model, manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="cpu",
                    help="pretraining scale: tiny (seconds), cpu (the committed checkpoint), paper (GPU)")
    ap.add_argument("--out", type=Path, default=None, help="checkpoint path (default: the committed one)")
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--tokens", type=int, default=None)
    a = ap.parse_args(argv)
    over = {k: v for k, v in (("max_seconds", a.max_seconds), ("tokens", a.tokens)) if v is not None}
    run(a.scale, a.out, log=lambda m: print(m, flush=True), **over)
    return 0


if __name__ == "__main__":
    sys.exit(main())
