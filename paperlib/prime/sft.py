"""Supervised fine-tuning of the small GPT on worked solutions (PRIME's SFT stage, scaled down),
through Lightning, cached by everything that determines the weights."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..cache import artifact_key
from ..data import cache_dir
from ..nn.gpt import GPT, GPTConfig, load_checkpoint, save_checkpoint
from ..training import NextTokenModule, TensorDataModule, make_trainer, seed_everything
from ..data import arithmetic


@dataclass
class SFTConfig:
    chunk_examples: int = 50000  # fresh worked solutions per training round (one pass each)
    max_examples: int = 300000  # stop after this many even if the loss has not reached its floor
    loss_tolerance: float = 0.01  # converged when the loss is within this of the data's entropy floor
    p_slip: float = 0.0  # probability that a carry into the hundreds is forgotten (the earlier single-slip task)
    p_error: float = 0.15  # probability that a step is written with one error (arithmetic.ERROR_KINDS)
    error_kinds: tuple = arithmetic.ERROR_KINDS
    min_terms: int = 3  # SFT data: chains of 2-7 steps (short chains teach the addition quickly)
    max_terms: int = 8
    min_digits: int = 2
    max_digits: int = 2
    width: int = 3  # zero-filled numbers: digits to add sit at fixed distances (learns ~4x faster)
    batch_size: int = 64
    lr: float = 2e-3
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 128
    seed: int = 1234

    def key(self) -> str:
        return artifact_key("prime/sft", asdict(self), __name__)

    def gpt_config(self) -> GPTConfig:
        return GPTConfig(vocab_size=arithmetic.VOCAB_SIZE, block_size=self.block_size, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.n_embd)


def encode_prompts(problems, device="cpu"):
    """BOS + prompt for each problem, left-padded: (tokens (B, P), real-token mask)."""
    tokens, mask, _ = arithmetic.encode_batch([p.prompt for p in problems], device=device)
    return tokens, mask


def encode_solutions(problems, block_size: int):
    """BOS + prompt + solution + EOS, right-padded, and a mask of the positions whose *next* token
    is a solution token (the SFT loss is on the response only)."""
    rows, masks = [], []
    for p in problems:
        prompt = [arithmetic.BOS] + arithmetic.encode(p.prompt)
        full = prompt + arithmetic.encode(p.solution) + [arithmetic.EOS]
        if len(full) > block_size:
            raise ValueError(f"a worked solution of {len(full)} tokens exceeds block_size={block_size}")
        rows.append(full)
        masks.append([0] * (len(prompt) - 1) + [1] * (len(full) - len(prompt)))
    T = max(map(len, rows))
    tokens = torch.full((len(rows), T), arithmetic.PAD, dtype=torch.long)
    loss_mask = torch.zeros((len(rows), T - 1), dtype=torch.bool)
    for i, (r, m) in enumerate(zip(rows, masks)):
        tokens[i, :len(r)] = torch.tensor(r)
        loss_mask[i, :len(m)] = torch.tensor(m, dtype=torch.bool)
    return tokens, loss_mask


def entropy_floor(problems, p_slip: float, p_error: float = 0.0, error_kinds=arithmetic.ERROR_KINDS) -> float:
    """The lowest achievable SFT loss (nats per response token) on these data. With ``p_error``: the
    entropy of each step's written form (``arithmetic.step_distribution``, which by the chain rule
    is the sum of its tokens' conditional entropies) over the response tokens. Otherwise each carry
    into the slip column is a coin flip with probability ``p_slip``; every other token is determined."""
    if p_error > 0:
        width = problems[0].width if problems else 0
        h = 0.0
        for prob in problems:
            for (l, t, s), term in zip(prob.steps, prob.terms[1:]):
                ps = np.array([w for _, w in arithmetic.step_distribution(l, term, p_error, error_kinds, width)])
                h -= float((ps * np.log(ps)).sum())
        return h / sum(len(prob.solution) + 1 for prob in problems)
    h = 0.0 if p_slip in (0.0, 1.0) else -(p_slip * math.log(p_slip) + (1 - p_slip) * math.log(1 - p_slip))
    decisions = sum(1 for prob in problems for l, t, _ in prob.steps if 1 in arithmetic.carries(l, t))
    tokens = sum(len(prob.solution) + 1 for prob in problems)
    return decisions * h / tokens


def train_sft(cfg: SFTConfig, trainer_cfg: dict | None = None, use_cache: bool = True, log=print):
    """The SFT model (``GPT``, eval mode) for ``cfg``: loaded from the cache when one was trained
    with the same configuration, else trained and cached. Returns (model, info dict).

    Training runs in rounds of ``chunk_examples`` fresh solutions (one pass each, a one-cycle
    learning rate per round) until the mean loss of a round's last 50 batches is within
    ``loss_tolerance`` of the data's entropy floor, or ``max_examples`` were used. Small
    transformers learn this task through a sudden transition whose timing varies with the seed,
    so a fixed budget would sometimes stop before it; the rule is the same for every seed.
    """
    import time

    path = cache_dir("prime", "sft") / f"{cfg.key()}.pt"
    if use_cache and path.exists():
        model, info = load_checkpoint(path, cfg.gpt_config())
        log(f"SFT model loaded from cache {path.name} ({model.num_params():,} parameters)")
        return model, info
    seed_everything(cfg.seed)
    module = NextTokenModule(GPT(cfg.gpt_config()), cfg.lr, pad_id=arithmetic.PAD)
    t0 = time.time()
    used, rounds, floor, converged = 0, 0, float("nan"), False
    while used < cfg.max_examples:
        n = min(cfg.chunk_examples, cfg.max_examples - used)
        problems = arithmetic.sample_problems(n, cfg.seed + rounds, cfg.min_terms, cfg.max_terms, cfg.max_digits,
                                        cfg.p_slip, cfg.width, min_digits=cfg.min_digits, p_error=cfg.p_error,
                                        error_kinds=cfg.error_kinds)
        floor = entropy_floor(problems, cfg.p_slip, cfg.p_error, cfg.error_kinds)
        tokens, loss_mask = encode_solutions(problems, cfg.block_size)
        make_trainer(trainer_cfg, max_epochs=1).fit(
            module, datamodule=TensorDataModule((tokens, loss_mask), batch_size=cfg.batch_size, seed=cfg.seed + rounds))
        used, rounds = used + n, rounds + 1
        last = sum(module.losses[-50:]) / max(1, len(module.losses[-50:]))
        log(f"SFT round {rounds}: {used:,} examples, loss {last:.4f} (floor {floor:.4f}), {time.time() - t0:.0f} s")
        if last <= floor + cfg.loss_tolerance:
            converged = True
            break
    info = {"config": asdict(cfg), "params": module.model.num_params(), "train_s": time.time() - t0,
            "examples": used, "rounds": rounds, "converged": converged, "loss_floor": floor,
            "final_loss": sum(module.losses[-50:]) / max(1, len(module.losses[-50:])),
            "loss_curve": module.losses[:: max(1, len(module.losses) // 200)]}
    model = module.model.cpu().eval()
    save_checkpoint(path, model, info)
    log(f"SFT model trained in {info['train_s']:.0f} s ({info['params']:,} parameters, {used:,} examples, "
        f"loss {info['final_loss']:.4f}, floor {floor:.4f}{'' if converged else ', NOT converged'})")
    return model, info
