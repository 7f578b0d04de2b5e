"""Pretrain the in-domain MLM that the quick profile loads (reproductions/mpt/inlm/), and measure it.

The recipe is the notebook's (paperlib.mpt.plm.load_inlm: BERT masking on the four datasets' train-split sentences,
never dev or test; same architecture, vocabulary rule, batch and learning rate), run for a fixed number of epochs
given on the command line (stated before the run, never calibrated from a timing: timings on the shared 2-core
machine swing several-fold with what runs beside them). Measurements written to MANIFEST.json: the final training MLM loss (mean of the last
5% of steps, as plm.load_inlm records it), the held-out MLM loss on the dev-split sentences (fixed masking), the
wall time and the checkpoint's SHA-256.

    flock /tmp/paperlib-heavy.lock python reproductions/mpt/pretrain_inlm.py --epochs 6 --out /tmp/inlm-6ep
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from paperlib.data.academic import TASKS, load_split, pretraining_sentences
from paperlib.data.vocab import WordVocab
from paperlib.mpt.plm import InLMConfig
from paperlib.mpt.tasks import template_words
from paperlib.nn.bert import BertConfig, BertMLM, mask_for_mlm, pad_rows, pretrain_mlm, save_bert

OUT = Path(__file__).resolve().parent / "inlm"


@torch.no_grad()
def heldout_mlm_loss(model: BertMLM, vocab: WordVocab, sentences: list[str], max_len: int, seed: int = 0) -> float:
    """Token-averaged MLM cross-entropy on ``sentences`` with BERT masking drawn from a fixed generator."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    rows = [[vocab.cls_id] + vocab.encode(s)[: max_len - 2] + [vocab.sep_id] for s in sentences]
    tot, n = 0.0, 0
    for s in range(0, len(rows), 128):
        ids, pad = pad_rows(rows[s:s + 128], max_len=max_len)
        inp, tgt = mask_for_mlm(ids, pad, vocab.mask_id, len(vocab), 5, generator=g)
        h = model(inp, pad)
        sel = tgt != -100
        tot += float(F.cross_entropy(model.mlm_logits(h[sel]), tgt[sel], reduction="sum"))
        n += int(sel.sum())
    return tot / max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (two threads on the shared 2-core machine ran several times slower)")
    ap.add_argument("--epochs", type=float, required=True, help="passes over the train-split sentences (fixed beforehand)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t_start = time.perf_counter()
    sentences = pretraining_sentences()
    dev = list(dict.fromkeys(e.text for t in TASKS for e in load_split(t, "dev")))[:3000]
    base = InLMConfig()  # the notebook's quick-profile architecture and optimiser
    vocab = WordVocab.build(sentences, base.vocab_size, 2, required=template_words())
    rows = [[vocab.cls_id] + vocab.encode(s)[: base.max_len - 2] + [vocab.sep_id] for s in sentences]
    n_tokens = sum(map(len, rows))

    def fresh():
        torch.manual_seed(base.seed)
        return BertMLM(BertConfig(len(vocab), base.max_len, base.n_layer, base.n_head, base.n_embd, base.dropout))

    epochs = a.epochs
    if epochs <= 0:
        raise SystemExit(f"--epochs must be positive, got {epochs}")
    cfg = InLMConfig(**{**asdict(base), "epochs": epochs})
    model = fresh()
    print(f"{len(rows):,} sentences, {n_tokens:,} tokens, {epochs} epochs, {a.threads} thread(s)", flush=True)
    res = pretrain_mlm(model, rows, mask_id=vocab.mask_id, n_special=5, epochs=epochs, batch_size=cfg.batch_size,
                       lr=cfg.lr, seed=cfg.seed, log=lambda m: print(m, flush=True), log_every=500)
    k = max(1, len(res["loss"]) // 20)
    info = {"config": asdict(cfg), "sentences": len(rows), "tokens": n_tokens, "pretrain_s": res["wall_s"],
            "tokens_per_s": res["tokens_per_s"], "final_loss": sum(res["loss"][-k:]) / k,
            "loss_curve": res["loss"][::k], "params": model.num_params(), "threads": a.threads}
    info["heldout_loss"] = heldout_mlm_loss(model, vocab, dev, cfg.max_len)
    info["heldout_sentences"] = len(dev)
    a.out.mkdir(parents=True, exist_ok=True)
    save_bert(a.out / "model.pt", model, info)
    (a.out / "vocab.json").write_text(vocab.to_json())
    manifest = {k2: v for k2, v in info.items() if k2 != "loss_curve"}
    manifest["files"] = {f: hashlib.sha256((a.out / f).read_bytes()).hexdigest() for f in ("model.pt", "vocab.json")}
    manifest["produced_by"] = "reproductions/mpt/pretrain_inlm.py"
    manifest["data"] = "train-split sentences of acl-arc, scicite, csabstruct, scierc (data/academic); dev only for the held-out loss"
    manifest["total_wall_s"] = time.perf_counter() - t_start
    (a.out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
