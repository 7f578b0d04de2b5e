"""Supervised fine-tuning of the small GPT on worked solutions (PRIME's SFT stage, scaled down),
through Lightning, cached by everything that determines the weights."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import lightning as L
import torch
import torch.nn.functional as F

from ..data import cache_dir
from ..nn.gpt import GPT, GPTConfig
from ..training import TensorDataModule, make_trainer, seed_everything
from . import task


@dataclass
class SFTConfig:
    n_examples: int = 20000  # worked solutions
    p_slip: float = 0.15  # probability that a step forgets one of its carries
    min_terms: int = 3
    max_terms: int = 9
    max_digits: int = 3
    width: int = 0
    epochs: int = 4
    batch_size: int = 64
    lr: float = 3e-3
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 160
    seed: int = 1234

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def gpt_config(self) -> GPTConfig:
        return GPTConfig(vocab_size=task.VOCAB_SIZE, block_size=self.block_size, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.n_embd)


def encode_prompts(problems, device="cpu"):
    """BOS + prompt for each problem, left-padded: (tokens (B, P), real-token mask)."""
    seqs = [[task.BOS] + task.encode(p.prompt) for p in problems]
    P = max(map(len, seqs))
    tokens = torch.full((len(seqs), P), task.PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, P - len(s):] = torch.tensor(s)
    return tokens.to(device), (tokens != task.PAD).to(device)


def encode_solutions(problems, block_size: int):
    """BOS + prompt + solution + EOS, right-padded, and a mask of the positions whose *next* token
    is a solution token (the SFT loss is on the response only)."""
    rows, masks = [], []
    for p in problems:
        prompt = [task.BOS] + task.encode(p.prompt)
        full = prompt + task.encode(p.solution) + [task.EOS]
        if len(full) > block_size:
            raise ValueError(f"a worked solution of {len(full)} tokens exceeds block_size={block_size}")
        rows.append(full)
        masks.append([0] * (len(prompt) - 1) + [1] * (len(full) - len(prompt)))
    T = max(map(len, rows))
    tokens = torch.full((len(rows), T), task.PAD, dtype=torch.long)
    loss_mask = torch.zeros((len(rows), T - 1), dtype=torch.bool)
    for i, (r, m) in enumerate(zip(rows, masks)):
        tokens[i, :len(r)] = torch.tensor(r)
        loss_mask[i, :len(m)] = torch.tensor(m, dtype=torch.bool)
    return tokens, loss_mask


class SFTModule(L.LightningModule):
    def __init__(self, cfg: SFTConfig):
        super().__init__()
        self.cfg = cfg
        self.model = GPT(cfg.gpt_config())
        self.losses: list[float] = []

    def training_step(self, batch, _):
        tokens, loss_mask = batch
        T = int(loss_mask.sum(0).nonzero().max()) + 2  # trim the batch to its longest row
        tokens, loss_mask = tokens[:, :T], loss_mask[:, :T - 1]
        logits = self.model(tokens[:, :-1], tokens[:, :-1] != task.PAD)
        loss = F.cross_entropy(logits[loss_mask], tokens[:, 1:][loss_mask])
        self.losses.append(float(loss.detach()))
        return loss

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr, weight_decay=0.01)
        total = self.trainer.estimated_stepping_batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.cfg.lr, total_steps=total, pct_start=0.05)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def train_sft(cfg: SFTConfig, trainer_cfg: dict | None = None, use_cache: bool = True, log=print):
    """The SFT model (``GPT``, eval mode) for ``cfg``: loaded from the cache when one was trained
    with the same configuration, else trained and cached. Returns (model, info dict)."""
    path = cache_dir("prime", "sft") / f"{cfg.key()}.pt"
    if use_cache and path.exists():
        state = torch.load(path, map_location="cpu", weights_only=False)
        model = GPT(cfg.gpt_config())
        model.load_state_dict(state["model"])
        log(f"SFT model loaded from cache {path.name} ({model.num_params():,} parameters)")
        return model.eval(), state["info"]
    seed_everything(cfg.seed)
    problems = task.sample_problems(cfg.n_examples, cfg.seed, cfg.min_terms, cfg.max_terms, cfg.max_digits, cfg.p_slip,
                                 cfg.width)
    tokens, loss_mask = encode_solutions(problems, cfg.block_size)
    module = SFTModule(cfg)
    import time
    t0 = time.time()
    make_trainer(trainer_cfg, max_epochs=cfg.epochs).fit(
        module, datamodule=TensorDataModule((tokens, loss_mask), batch_size=cfg.batch_size, seed=cfg.seed))
    info = {"config": asdict(cfg), "params": module.model.num_params(), "train_s": time.time() - t0,
            "final_loss": sum(module.losses[-50:]) / max(1, len(module.losses[-50:])),
            "loss_curve": module.losses[:: max(1, len(module.losses) // 100)],
            "slip_fraction": sum(p.first_error is not None for p in problems) / len(problems)}
    model = module.model.cpu().eval()
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "info": info}, tmp)
    tmp.replace(path)
    log(f"SFT model trained in {info['train_s']:.0f} s ({info['params']:,} parameters, loss {info['final_loss']:.3f})")
    return model, info
