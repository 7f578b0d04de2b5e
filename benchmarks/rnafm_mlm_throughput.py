"""RNA-FM masked-language-model training throughput: nucleotides (sequence tokens) per second of
training on the pretraining corpus, for a few model sizes, padding excluded from the count.

    .venv/bin/python benchmarks/rnafm_mlm_throughput.py [--threads 2] [--seconds 30]

Why: pretraining compute decides how good a checkpoint this machine can make (the committed cpu
checkpoint is 4 x 128; a 6 x 192 model trains at about half its speed). Measured on a shared 2-core
machine, so read the numbers as a lower bound.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict

from paperlib.rnafm.corpus import load_corpus
from paperlib.rnafm.mlm import PretrainConfig, pretrain
from paperlib.rnafm.model import RNAFM, RNAFMConfig
from paperlib.rnafm.pretrain import CORPORA

SIZES = [(2, 64, 4), (4, 128, 8), (6, 192, 6)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0, help="training time per model size")
    a = ap.parse_args()
    seqs = [e.seq for e in load_corpus(CORPORA["cpu"]).split("pretrain")]
    print(f"{'layers x hidden':>16} {'parameters':>11} {'steps':>6} {'tokens/s':>9}")
    for layers, dim, heads in SIZES:
        mcfg = RNAFMConfig(num_layers=layers, embed_dim=dim, attention_heads=heads, ffn_embed_dim=4 * dim)
        cfg = PretrainConfig(model=asdict(mcfg), tokens=10**12, max_seconds=a.seconds, threads=a.threads,
                             warmup_steps=50)
        _, info = pretrain(seqs, cfg, log=lambda *_: None)
        print(f"{layers:>7} x {dim:<6} {RNAFM(mcfg).num_parameters():>11,} {info['steps']:>6} "
              f"{info['tokens_per_s']:>9,.0f}")


if __name__ == "__main__":
    main()
