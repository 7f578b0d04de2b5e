"""The reference policy pi_ref of A-LoL: the small GPT trained by NLL on the offline data (every
response, whatever its reward), as the official code's reference is the NLL-trained model
(``-algo nll``); cached by everything that determines its weights."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from ..cache import artifact_key
from ..data import cache_dir
from ..nn.gpt import GPT, GPTConfig, load_checkpoint, save_checkpoint
from ..training import NextTokenModule, TensorDataModule, make_trainer, seed_everything
from .data import OfflineData


@dataclass
class ReferenceConfig:
    examples: int = 300000  # (prompt, response) presentations: epochs over the train split
    batch_size: int = 64
    lr: float = 2e-3
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 64
    seed: int = 0

    def gpt_config(self, task) -> GPTConfig:
        return GPTConfig(vocab_size=task.vocab_size, block_size=task.block_size, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.n_embd)


def _rows(task, data: OfflineData, block_size: int):
    """Right-padded ``<bos> prompt response <eos>`` rows and the mask of scored positions."""
    tokens, mask, P = task.encode_batch([p.prompt for p in data.problems], data.responses)
    # left-padded prompts -> shift each row left so that padding sits at the end (positions start at 0)
    rows, masks = [], []
    for t, m in zip(tokens, mask):
        real = t[m]
        if len(real) > block_size:
            raise ValueError(f"a row of {len(real)} tokens exceeds block_size={block_size}")
        rows.append(real)
        n_prompt = int(m[:P].sum())
        masks.append(torch.arange(len(real) - 1) >= n_prompt - 1)
    T = max(len(r) for r in rows)
    out = torch.full((len(rows), T), task.PAD, dtype=torch.long)
    loss_mask = torch.zeros((len(rows), T - 1), dtype=torch.bool)
    for i, (r, lm) in enumerate(zip(rows, masks)):
        out[i, :len(r)] = r
        loss_mask[i, :len(lm)] = lm
    return out, loss_mask


def train_reference(task, data: OfflineData, cfg: ReferenceConfig, data_key: str, use_cache: bool = True, log=print):
    """pi_ref for ``data`` (identified by ``data_key``, e.g. its generator arguments). Returns
    (model in eval mode, info)."""
    key = artifact_key("alol/reference", {"cfg": asdict(cfg), "task": task.name, "block": task.block_size, "data": data_key}, __name__, type(task).__module__)
    path = cache_dir("alol", "reference") / f"{key}.pt"
    if use_cache and path.exists():
        model, info = load_checkpoint(path, cfg.gpt_config(task))
        log(f"reference loaded from cache {path.name}")
        return model, {**info, "cached": True}
    seed_everything(cfg.seed)
    tokens, loss_mask = _rows(task, data, task.block_size)
    epochs = max(1, round(cfg.examples / len(data)))
    module = NextTokenModule(GPT(cfg.gpt_config(task)), cfg.lr, pad_id=task.PAD)
    t0 = time.time()
    make_trainer(None, max_epochs=epochs).fit(
        module, datamodule=TensorDataModule((tokens, loss_mask), batch_size=cfg.batch_size, seed=cfg.seed))
    info = {"config": asdict(cfg), "task": task.name, "data": data_key, "epochs": epochs, "train_s": time.time() - t0,
            "final_loss": sum(module.losses[-50:]) / max(1, len(module.losses[-50:])),
            "loss_curve": module.losses[:: max(1, len(module.losses) // 200)]}
    model = module.model.cpu().eval()
    save_checkpoint(path, model, info)
    log(f"reference trained in {info['train_s']:.0f} s ({epochs} epochs over {len(data):,} rows, loss {info['final_loss']:.3f})")
    return model, info
