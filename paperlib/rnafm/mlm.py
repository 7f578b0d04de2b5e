"""Masked language modelling as RNA-FM pretrains (BERT / fairseq ``MaskTokensDataset``), and the
k-mer context tables it is compared with.

Masking (paper, Methods "Pre-training"; fairseq ``mask_tokens``): 15% of the sequence tokens (never
``<cls>``/``<eos>``/``<pad>``) are selected; of those 80% become ``<mask>``, 10% a random nucleotide,
10% stay; the loss is the cross-entropy of the original token at the selected positions only.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .model import BASES, CLS, EOS, MASK, PAD, RNAFM, RNAFMConfig, encode


def mask_tokens(tokens: torch.Tensor, gen: torch.Generator, mask_prob: float = 0.15,
                leave_unmasked_prob: float = 0.1, random_token_prob: float = 0.1):
    """(inputs, targets): ``targets`` holds the original token at selected positions, -100 elsewhere.

    Each sequence gets ``int(mask_prob * length + u)`` selected positions, u ~ U(0, 1) (at least one),
    as fairseq does (``num_mask = int(mask_prob * sz + rand)``, i.e. 15% in expectation, rounded at
    random). Vectorised over the batch: every maskable position draws a uniform score and a sequence
    selects its ``n`` lowest scores (a uniformly random ``n``-subset), so no Python loop per sequence."""
    B, T = tokens.shape
    maskable = (tokens != PAD) & (tokens != CLS) & (tokens != EOS)
    lengths = maskable.sum(1)
    n = (mask_prob * lengths.float() + torch.rand(B, generator=gen)).long().clamp(min=1)
    n = torch.minimum(n, lengths)
    score = torch.rand(B, T, generator=gen).masked_fill(~maskable, 2.0)
    rank = score.argsort(1).argsort(1)  # rank of each position's score within its sequence
    chosen = (rank < n[:, None]) & maskable
    targets = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(B, T, generator=gen)
    to_mask = chosen & (u < 1 - leave_unmasked_prob - random_token_prob)
    to_rand = chosen & (u >= 1 - leave_unmasked_prob - random_token_prob) & (u < 1 - leave_unmasked_prob)
    random_bases = torch.tensor(BASES)[torch.randint(4, (B, T), generator=gen)]
    inputs = torch.where(to_mask, torch.full_like(tokens, MASK), tokens)
    inputs = torch.where(to_rand, random_bases, inputs)
    return inputs, targets


def mlm_loss(model: RNAFM, inputs, targets):
    logits = model(inputs)["logits"]
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-100)


@torch.no_grad()
def masked_accuracy(model: RNAFM, seqs: list[str], seed: int, batch_size: int = 32, max_len: int = 1022,
                    pairs: list | None = None):
    """Accuracy of the argmax over A/C/G/U at 15% masked positions (all replaced by ``<mask>``).

    With ``pairs`` (each sequence's base pairs, 0-based (i, j)), a dict instead: accuracy at all masked
    positions, at masked positions that are paired in the structure, and at unpaired ones. A model
    that has learned base pairing predicts a paired position from its partner, so its paired accuracy
    rises above its unpaired accuracy; local context alone does not separate the two."""
    gen = torch.Generator().manual_seed(seed)
    hit = torch.zeros(2, dtype=torch.long)  # [unpaired, paired]
    tot = torch.zeros(2, dtype=torch.long)
    model.eval()
    dev = next(model.parameters()).device
    for i in range(0, len(seqs), batch_size):
        toks = encode(seqs[i:i + batch_size], max_len)
        paired = torch.zeros_like(toks, dtype=torch.bool)
        if pairs is not None:
            for b, ps in enumerate(pairs[i:i + batch_size]):
                idx = [k + 1 for p in (ps or []) for k in p if k + 1 < toks.shape[1] - 1]
                paired[b, idx] = True
        inputs, targets = mask_tokens(toks, gen, leave_unmasked_prob=0.0, random_token_prob=0.0)
        logits = model(inputs.to(dev))["logits"][..., BASES].float().cpu()
        sel = (targets != -100) & torch.isin(targets, torch.tensor(BASES))
        pred = torch.tensor(BASES)[logits.argmax(-1)]
        ok = (pred == targets) & sel
        for k, where in enumerate((~paired, paired)):
            hit[k] += int((ok & where).sum())
            tot[k] += int((sel & where).sum())
    overall = int(hit.sum()) / max(int(tot.sum()), 1)
    if pairs is None:
        return overall
    return {"all": overall, "paired": int(hit[1]) / max(int(tot[1]), 1),
            "unpaired": int(hit[0]) / max(int(tot[0]), 1), "n_paired": int(tot[1]), "n_unpaired": int(tot[0])}


def masked_positions(seqs: list[str], seed: int, max_len: int = 1022) -> list[list[int]]:
    """The 0-based sequence positions :func:`masked_accuracy` masks for ``seed`` (same draws), so
    the k-mer tables are scored on exactly those positions."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(seqs), 32):
        toks = encode(seqs[i:i + 32], max_len)
        _, targets = mask_tokens(toks, gen, leave_unmasked_prob=0.0, random_token_prob=0.0)
        for b in range(len(toks)):
            out.append((targets[b] != -100).nonzero().squeeze(1).sub(1).tolist())
    return out


class KmerContextTable:
    """Predicts a nucleotide from its (k-1)//2 neighbours on each side by counts over the pretraining
    data, backing off to shorter contexts and to the base frequencies when a context was never seen.
    It sees the *true* neighbours (the MLM sees other masks among them): a generous baseline."""

    def __init__(self, k: int):
        if k % 2 == 0 or k < 1:
            raise ValueError("k must be odd (a centre and equal context on each side)")
        self.k, self.h = k, k // 2
        self.counts: dict[int, np.ndarray] = {}  # half-width -> (5 ** (2h), 4) counts

    @staticmethod
    def _codes(s: str) -> np.ndarray:
        lut = np.full(256, 4, np.int64)
        for n, b in enumerate(b"ACGU"):
            lut[b] = n
        return lut[np.frombuffer(s.encode(), np.uint8)]

    def _contexts(self, a: np.ndarray, h: int, pos: np.ndarray):
        """Context ids of positions ``pos`` (all inside [h, len - h)), and whether all are bases."""
        code = np.zeros(len(pos), np.int64)
        ok = np.ones(len(pos), bool)
        for o in [*range(-h, 0), *range(1, h + 1)]:
            v = a[pos + o]
            ok &= v < 4
            code = code * 4 + np.minimum(v, 3)
        return code, ok

    def fit(self, seqs: list[str]) -> "KmerContextTable":
        a = self._codes(("N" * self.h).join([""] + list(seqs) + [""]))
        for h in range(self.h, -1, -1):
            pos = np.arange(h, len(a) - h)
            code, ok = self._contexts(a, h, pos)
            ok &= a[pos] < 4
            c = np.zeros((4 ** (2 * h), 4), np.int64)
            np.add.at(c, (code[ok], a[pos][ok]), 1)
            self.counts[h] = c
        return self

    def predict_positions(self, s: str, positions, k: int | None = None) -> np.ndarray:
        """Predicted base codes (0..3 for A, C, G, U); ``k`` < the fitted k uses the shorter contexts
        only (a k-mer table is the fitted table cut to half-width (k-1)//2)."""
        a = self._codes(s)
        pos = np.asarray(positions, np.int64)
        pred = np.full(len(pos), -1, np.int64)
        for h in range(min(self.h, (k or self.k) // 2), -1, -1):
            todo = np.flatnonzero((pred < 0) & (pos - h >= 0) & (pos + h < len(a)))
            if len(todo) == 0:
                continue
            code, ok = self._contexts(a, h, pos[todo])
            c = self.counts[h][code]
            seen = ok & (c.sum(1) > 0)
            pred[todo[seen]] = c[seen].argmax(1)
        return pred

    def accuracy(self, seqs: list[str], positions: list[list[int]], k: int | None = None, pairs: list | None = None):
        """Accuracy at ``positions``; with ``pairs`` a dict as :func:`masked_accuracy` gives (all / paired /
        unpaired)."""
        hit = np.zeros(2, np.int64)  # [unpaired, paired]
        tot = np.zeros(2, np.int64)
        for n, (s, ps) in enumerate(zip(seqs, positions)):
            ps = [i for i in ps if i < len(s) and s[i] in "ACGU"]
            if not ps:
                continue
            paired = {k_ for p in (pairs[n] or []) for k_ in p} if pairs is not None else set()
            where = np.array([i in paired for i in ps], np.int64)
            ok = self.predict_positions(s, ps, k) == self._codes(s)[ps]
            np.add.at(hit, where, ok.astype(np.int64))
            np.add.at(tot, where, 1)
        overall = int(hit.sum()) / max(int(tot.sum()), 1)
        if pairs is None:
            return overall
        return {"all": overall, "paired": int(hit[1]) / max(int(tot[1]), 1),
                "unpaired": int(hit[0]) / max(int(tot[0]), 1), "n_paired": int(tot[1]), "n_unpaired": int(tot[0])}


# ---------------------------------------------------------------- pretraining


@dataclass
class PretrainConfig:
    """One pretraining run: the model, the optimiser (AdamW, linear warm-up then fairseq's inverse
    square-root decay), and the budget (tokens or wall time, whichever ends first)."""

    model: dict  # RNAFMConfig fields
    tokens: int = 20_000_000  # training tokens (sequence tokens, not counting padding)
    max_seconds: float = 3600.0  # stop earlier when this wall time is spent
    batch_tokens: int = 8192  # tokens a step (padding included), sequences packed by length
    crop: int = 256  # longer sequences are cropped at random to this many nucleotides
    lr: float = 1e-3  # peak; a small model takes a larger step than the paper's 1e-4
    warmup_steps: int = 300
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 2
    checkpoint_every_s: float = 300.0
    device: str = "auto"
    eval_every_steps: int = 0  # learning curve: validation masked accuracy (paired / unpaired) every so many steps
    precision: str = "fp32"  # "bf16": autocast the forward pass to bfloat16 (GPU pretraining)
    schedule_offset: int = 0  # continued pretraining: the learning-rate schedule resumes at this step
    rewarmup_steps: int = 0  # ... ramped up linearly over these steps (fresh AdamW moments need a warm-up too)

    def to_dict(self) -> dict:
        return asdict(self)


def length_batches(lengths: list[int], batch_tokens: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of indices of similar length with at most ``batch_tokens`` padded tokens, shuffled."""
    order = np.argsort(np.array(lengths) + rng.random(len(lengths)))
    batches, cur, longest = [], [], 0
    for i in order:
        longest2 = max(longest, lengths[i])
        if cur and longest2 * (len(cur) + 1) > batch_tokens:
            batches.append(np.array(cur))
            cur, longest2 = [], lengths[i]
        cur.append(i)
        longest = longest2
    if cur:
        batches.append(np.array(cur))
    rng.shuffle(batches)
    return batches


#: PretrainConfig.precision -> Lightning's precision
PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}


def pretrain(seqs: list[str], cfg: PretrainConfig, val_seqs: list[str] | None = None, log=print,
             on_checkpoint=None, val_pairs: list | None = None, init_state: dict | None = None,
             max_steps: int | None = None, trainer_cfg: dict | None = None) -> tuple[RNAFM, dict]:
    """Train an RNA-FM of ``cfg.model`` by MLM on ``seqs`` until ``cfg.tokens`` or ``cfg.max_seconds``
    (or ``max_steps``, for tests), through the shared Lightning trainer (:mod:`paperlib.lightning_modules`).

    ``on_checkpoint(model, info)`` is called every ``checkpoint_every_s`` seconds and at the end.
    ``val_pairs`` (base pairs of ``val_seqs``) adds paired / unpaired masked accuracy to every
    evaluation; with ``cfg.eval_every_steps`` the evaluations form ``info["learning_curve"]``.
    ``init_state`` starts from a state dict (continued pretraining) instead of the official init.
    ``trainer_cfg``: Lightning trainer settings (accelerator, devices, strategy, precision); None: those of
    ``cfg.device`` and ``cfg.precision`` (``fp32`` -> ``32-true``, ``bf16`` -> ``bf16-mixed``: the forward pass
    autocast to bfloat16). Batches are drawn on the CPU from the seed's own generators (length-packed, cropped,
    masked), so a seed gives the same batches on any device; on one device a step is the old loop's step exactly
    (``tests/test_lightning_loops.py``)."""
    from ..lightning_modules import LoopModule, fit_loop, generated_loader
    from ..training import trainer_settings

    if cfg.precision not in PRECISION:
        raise ValueError(f"precision must be fp32 or bf16, not {cfg.precision!r}")
    if not seqs:
        raise ValueError("pretrain needs at least one sequence")
    torch.set_num_threads(cfg.threads)
    if trainer_cfg is None:
        trainer_cfg = trainer_settings(cfg.device, PRECISION[cfg.precision])
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = RNAFM(RNAFMConfig(**cfg.model))
    if init_state is not None:
        model.load_state_dict({k: v.float() for k, v in init_state.items()})

    def make_optimizer(m):
        decay = [p for n, p in m.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in m.named_parameters() if p.ndim < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
        # inverse square-root schedule after linear warm-up (fairseq's inverse_sqrt, as RNA-FM)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + cfg.schedule_offset + 1) / cfg.warmup_steps,
                               math.sqrt(cfg.warmup_steps / (s + cfg.schedule_offset + 1)))
            * (min(1.0, (s + 1) / cfg.rewarmup_steps) if cfg.rewarmup_steps else 1.0))
        return opt, sched

    lengths = [min(len(s), cfg.crop) + 2 for s in seqs]

    def batches():
        """(inputs, targets, sequence tokens, epoch) for ever: epochs of length-packed batches, each sequence
        cropped at random to ``cfg.crop``, then masked."""
        epoch = 0
        while True:
            for idx in length_batches(lengths, cfg.batch_tokens, rng):
                batch = []
                for i in idx:
                    s = seqs[i]
                    if len(s) > cfg.crop:
                        start = int(rng.integers(0, len(s) - cfg.crop + 1))
                        s = s[start:start + cfg.crop]
                    batch.append(s)
                inputs, targets = mask_tokens(encode(batch), gen)
                yield inputs, targets, sum(len(s) for s in batch), epoch
            epoch += 1

    st = {"steps": 0, "seen": 0, "epoch": 0, "t0": 0.0, "last_ckpt": 0.0}
    history: list[dict] = []
    curve: list[dict] = []

    def evaluate(model):
        if not val_seqs:
            return {}
        r = masked_accuracy(model, val_seqs, seed=0, pairs=val_pairs)
        model.train()
        r = r if isinstance(r, dict) else {"all": r}
        out = {"val_masked_accuracy": r["all"]}
        if "paired" in r:
            out.update(val_masked_accuracy_paired=r["paired"], val_masked_accuracy_unpaired=r["unpaired"])
        return out

    def after_step(module, batch, loss):
        model = module.model
        st["steps"] += 1
        st["seen"] += batch[2]
        st["epoch"] = batch[3]
        steps, seen = st["steps"], st["seen"]
        elapsed = time.perf_counter() - st["t0"]
        if steps % 50 == 0:
            history.append({"step": steps, "tokens": seen, "loss": loss, "wall_s": elapsed})
            log(f"step {steps} tokens {seen:,} loss {loss:.4f} {seen / elapsed:,.0f} tok/s")
        done = seen >= cfg.tokens or elapsed >= cfg.max_seconds or (max_steps is not None and steps >= max_steps)
        if cfg.eval_every_steps and val_seqs and (steps % cfg.eval_every_steps == 0 or done):
            curve.append({"step": steps, "tokens": seen, "wall_s": elapsed, **evaluate(model)})
            c = curve[-1]
            log(f"step {steps}: val masked acc {c['val_masked_accuracy']:.3f}" + (
                f" (paired {c['val_masked_accuracy_paired']:.3f}, unpaired {c['val_masked_accuracy_unpaired']:.3f})"
                if "val_masked_accuracy_paired" in c else ""))
        if on_checkpoint and (done or time.perf_counter() - st["last_ckpt"] >= cfg.checkpoint_every_s):
            info = {"steps": steps, "tokens_seen": seen, "epochs_started": st["epoch"] + 1, "wall_s": elapsed,
                    "tokens_per_s": seen / elapsed, "history": history, "learning_curve": curve}
            info.update(curve[-1] if curve and curve[-1]["step"] == steps else evaluate(model))
            info = {k: v for k, v in info.items() if k not in ("step", "tokens")}
            on_checkpoint(model, info)
            st["last_ckpt"] = time.perf_counter()
        if done:
            module.trainer.should_stop = True

    module = LoopModule(model, lambda m, b: mlm_loss(m, b[0], b[1]), make_optimizer, clip_norm=1.0,
                        after_step=after_step)
    accelerator = trainer_cfg.get("accelerator", "cpu")
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        model = model.to("cuda")  # for the step-0 evaluation (the trainer would move it at the start of fit)
    st["t0"] = st["last_ckpt"] = time.perf_counter()
    if cfg.eval_every_steps and val_seqs:
        curve.append({"step": 0, "tokens": 0, "wall_s": 0.0, **evaluate(model)})
    model.train()
    fit_loop(module, generated_loader(batches), trainer_cfg, max_epochs=1)  # one endless epoch, ended by the budget
    wall = time.perf_counter() - st["t0"]
    info = {"steps": st["steps"], "tokens_seen": st["seen"], "epochs_started": st["epoch"] + 1, "wall_s": wall,
            "tokens_per_s": st["seen"] / wall, "history": history, "learning_curve": curve}
    return module.model.eval(), info

