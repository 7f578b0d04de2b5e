"""Pretraining scales and the committed checkpoint: ``python -m paperlib.rnafm.pretrain --scale cpu``.

Pretraining is RNA-FM's bottleneck, so it is its own step with its own *scales* (not to be confused with the
notebook's run profiles smoke / quick / full, which *load* a checkpoint of some scale; ``full`` pretrains the
paper-scale model when its checkpoint is missing):

* ``tiny``: a 2-layer, 32-wide model for a few seconds (tests and the smoke profile);
* ``cpu``: the committed checkpoint, 4 layers x 128 hidden (8 heads) on 2 shared CPU cores for 55 minutes
  (``reproductions/rnafm/checkpoints/rnafm-cpu.pt`` + ``.json`` manifest: config, corpus hash,
  tokens seen, wall time, git sha), on corpus version 1;
* ``cpu2``: ``cpu`` continued for 13 minutes on corpus version 2 (five more families), its learning-rate
  schedule resumed; the manifest holds the learning curve (validation masked accuracy at paired and
  unpaired positions);
* ``gpu``: pretraining only, sized for a short GPU session: 6 x 384 in bf16 for under 8 minutes, an fp16
  checkpoint (about 21 MB) written to ``checkpoints/rnafm-gpu.pt`` that the quick probes load on a CPU
  (``-p pretrain_scale=gpu``); the corpus is built on the machine from Debian infernal (no download);
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
from .mlm import PretrainConfig, masked_accuracy, pretrain
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
    # the cpu checkpoint continued on corpus version 2 (five more families), the learning-rate schedule
    # resumed where the cpu run ended; the learning curve tracks paired vs unpaired masked accuracy
    "cpu2": PretrainConfig(model=asdict(RNAFMConfig(num_layers=4, embed_dim=128, attention_heads=8, ffn_embed_dim=512,
                                                    max_positions=1024)),
                           tokens=40_000_000, max_seconds=780, batch_tokens=2048, warmup_steps=500, lr=1e-3,
                           threads=2, checkpoint_every_s=1e9, eval_every_steps=150, rewarmup_steps=200),
    # GPU pretraining sized for a short session: bf16, 6 x 384 (10.7M parameters), under 8 minutes, an fp16
    # checkpoint (about 21 MB) that the quick probes then load on a CPU
    "gpu": PretrainConfig(model=asdict(RNAFMConfig(num_layers=6, embed_dim=384, attention_heads=12, ffn_embed_dim=1536,
                                                   max_positions=1024)),
                          tokens=400_000_000, max_seconds=420, batch_tokens=65536, warmup_steps=500, lr=1e-3,
                          threads=8, checkpoint_every_s=1e9, eval_every_steps=200, precision="bf16"),
    "paper": PretrainConfig(model=asdict(RNAFMConfig()), tokens=100_000_000, max_seconds=6 * 3600,
                            batch_tokens=65536, crop=1022, warmup_steps=2000, lr=3e-4, threads=8,
                            checkpoint_every_s=900, precision="bf16"),
}
#: the corpus each scale pretrains on (tiny: a small one, so that the smoke profile builds it in seconds;
#: cpu: version 1, the families the committed checkpoint was pretrained on)
CORPORA = {"tiny": CorpusConfig(emit_per_model=300, emit_long=20, emit_held_out=60),
           "cpu": CorpusConfig(version=1), "cpu2": CorpusConfig(), "gpu": CorpusConfig(emit_per_model=30_000, emit_long=1000),
           "paper": CorpusConfig(emit_per_model=100_000, emit_long=3000)}
#: scales that continue another scale's checkpoint (its weights; the schedule resumes at its step count)
CONTINUES = {"cpu2": "cpu"}
#: scales whose checkpoint lives in the repository (gpu: pretrained on a GPU, committed, probed on a CPU; the others
#: go to the cache directory)
COMMITTED = ("cpu", "cpu2", "gpu")
#: validation sequences (with structures) for the learning curve, cut to this many nucleotides
CURVE_VAL_SEQUENCES, CURVE_CROP = 300, 256


def checkpoint_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "reproductions" / "rnafm" / "checkpoints"


def git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except Exception:
        return "unknown"


def curve_validation(corpus, n: int = CURVE_VAL_SEQUENCES, crop: int = CURVE_CROP):
    """(sequences, pairs) for the learning curve: validation-split members with a consensus structure,
    balanced over families, cut to ``crop`` nt with only the pairs inside the cut."""
    from .experiment import balanced_sample

    es = balanced_sample([e for e in corpus.split("val") if e.pairs], n, seed=0)
    return [e.seq[:crop] for e in es], [[(i, j) for i, j in e.pairs if j < crop] for e in es]


def run(scale: str, out: Path | None = None, log=print, max_steps: int | None = None,
        corpus_config: CorpusConfig | None = None, **overrides) -> Path:
    """Pretrain at ``scale`` (``overrides``: PretrainConfig fields; ``corpus_config`` and ``max_steps`` for tests)
    and write the checkpoint and its manifest to ``out`` (default: the scale's path)."""
    if scale not in SCALES:
        raise ValueError(f"unknown pretraining scale {scale!r}; valid: {sorted(SCALES)}")
    cfg = SCALES[scale]
    init_state, continued = None, None
    if scale in CONTINUES:
        import hashlib

        base_model, base = load_scale_checkpoint(CONTINUES[scale])
        init_state = base_model.state_dict()
        overrides = {"schedule_offset": int(base["steps"]), **overrides}
        base_path = default_path(CONTINUES[scale])
        continued = {"scale": CONTINUES[scale], "steps": base["steps"], "tokens_seen": base["tokens_seen"],
                     "wall_s": base["wall_s"], "git_sha": base.get("git_sha"),
                     "sha256": hashlib.sha256(base_path.read_bytes()).hexdigest()}
    cfg = PretrainConfig(**{**asdict(cfg), **overrides})
    corpus_config = corpus_config or CORPORA[scale]
    corpus = load_corpus(corpus_config)
    seqs = [e.seq for e in corpus.split("pretrain")]
    val, val_pairs = curve_validation(corpus)
    out = out or default_path(scale)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    base = {"scale": scale, "pretrain_config": asdict(cfg), "corpus_config": asdict(corpus_config),
            "corpus_fingerprint": corpus.fingerprint(), "pretrain_sequences": len(seqs),
            "pretrain_nucleotides": sum(len(s) for s in seqs), "git_sha": git_sha(), "started": started,
            "python": sys.version.split()[0], "continued_from": continued}

    def save(model, info):
        import torch
        manifest = {**base, **info, "torch": torch.__version__,
                    "device": "cuda" if next(model.parameters()).is_cuda else "cpu"}
        save_checkpoint(out, model, manifest)
        # the validation numbers of the weights as stored (fp16), so that a test can reproduce them exactly
        stored, _ = load_checkpoint(out)
        r = masked_accuracy(stored, val, seed=0, pairs=val_pairs)
        manifest.update(stored_val_masked_accuracy=r["all"], stored_val_masked_accuracy_paired=r["paired"],
                        stored_val_masked_accuracy_unpaired=r["unpaired"], validation_sequences=len(val))
        save_checkpoint(out, model, manifest)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({k: v for k, v in manifest.items() if k != "history"}, indent=1) + "\n")
        tmp.replace(out.with_suffix(".json"))
        log(f"checkpoint: {out} ({info['tokens_seen']:,} tokens, val masked acc "
            f"{info.get('val_masked_accuracy', float('nan')):.3f})")

    log(f"pretraining at scale {scale}: {len(seqs):,} sequences, {base['pretrain_nucleotides']:,} nt")
    pretrain(seqs, cfg, val_seqs=val, val_pairs=val_pairs, log=log, on_checkpoint=save, init_state=init_state,
             max_steps=max_steps)
    return out


def default_path(scale: str) -> Path:
    """The committed scales live in the repository; others in the cache directory, keyed by the scale's
    configuration, its corpus and the code version of the pretraining code (paperlib.cache)."""
    if scale in COMMITTED:
        return checkpoint_dir() / f"rnafm-{scale}.pt"
    from paperlib.cache import artifact_key
    from paperlib.data import cache_dir

    key = artifact_key("rnafm/pretrain", {"scale": scale, "pretrain": asdict(SCALES[scale]),
                                          "corpus": asdict(CORPORA[scale])}, __name__, length=12)
    return cache_dir("rnafm", "checkpoints") / f"rnafm-{scale}-{key}.pt"


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
    from .corpus import LEGACY_CORPUS_DEFAULTS

    recorded = manifest.get("corpus_config")
    if recorded is not None:
        recorded = {**LEGACY_CORPUS_DEFAULTS, **recorded}
    if recorded != asdict(CORPORA[scale]):
        raise ValueError(f"{path} was pretrained on another corpus configuration "
                         f"({manifest.get('corpus_config')}); retrain: "
                         f"`python -m paperlib.rnafm.pretrain --scale {scale}`")
    return model, manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="cpu",
                    help="pretraining scale: tiny (seconds), cpu / cpu2 (committed checkpoints), gpu (bf16, "
                         "< 8 min on one GPU), paper (GPU)")
    ap.add_argument("--out", type=Path, default=None, help="checkpoint path (default: the committed one)")
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--tokens", type=int, default=None)
    ap.add_argument("--device", default=None, help="cpu, cuda or auto (default: the scale's)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (tests)")
    a = ap.parse_args(argv)
    over = {k: v for k, v in (("max_seconds", a.max_seconds), ("tokens", a.tokens), ("device", a.device))
            if v is not None}
    run(a.scale, a.out, log=lambda m: print(m, flush=True), max_steps=a.max_steps, **over)
    return 0


if __name__ == "__main__":
    sys.exit(main())
