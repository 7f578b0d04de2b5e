"""The reference value estimate V_ref(x) of A-LoL, as the official ``ValueHeadAttention``
(``utils/rl_utils.py``): attention pooling with one learned query over the frozen reference
model's last-layer hidden states of the prompt, a linear layer, sigmoid * max_value. It is fit by
MSE to the rewards of the reference's own greedy outputs on a dev split
(``train_value_function_on_val_predictions``), keeping the epoch with the lowest training MSE.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..nn.gpt import GPT


class ValueHeadAttention(nn.Module):
    def __init__(self, hidden: int, n_head: int = 8, max_value: float = 1.0, dropout: float = 0.1):
        super().__init__()
        if hidden % n_head:
            n_head = max(h for h in range(1, n_head + 1) if hidden % h == 0)
        self.attn = nn.MultiheadAttention(hidden, n_head, batch_first=True)
        self.query = nn.Parameter(torch.randn(hidden))
        self.summary = nn.Linear(hidden, 1)
        self.dropout = nn.Dropout(dropout)
        self.max_value = max_value

    def forward(self, h, pad_mask):
        """``h`` (B, P, C) prompt hidden states, ``pad_mask`` (B, P) True for real tokens: (B,)."""
        q = self.query.expand(h.shape[0], 1, -1)
        hd = self.dropout(h)
        pooled, _ = self.attn(q, hd, hd, key_padding_mask=~pad_mask)
        return torch.sigmoid(self.summary(self.dropout(pooled[:, 0])).squeeze(-1)) * self.max_value


@torch.no_grad()
def prompt_states(ref: GPT, prompts, prompt_mask, batch: int = 256):
    ref.eval()
    return torch.cat([ref(prompts[i:i + batch], prompt_mask[i:i + batch], return_hidden=True)
                      for i in range(0, len(prompts), batch)])


def fit_value_head(states, mask, targets, epochs: int = 10, lr: float = 1e-3, batch: int = 16, seed: int = 0,
                   max_value: float = 1.0, trainer_cfg: dict | None = None):
    """MSE fit of a ``ValueHeadAttention`` on precomputed prompt states; the epoch with the lowest
    mean training MSE is kept (as the official code). Trained through the shared Lightning trainer
    (:mod:`paperlib.lightning_modules`): ``trainer_cfg`` is its settings (accelerator, devices, precision; the
    notebook's ``trainer_settings(device, precision)``); None: one device of the states' kind in float32. The
    shuffles are drawn on the CPU, so a seed gives the same batches anywhere. Returns (head in eval mode, on the
    trainer's device, per-epoch MSE)."""
    from ..lightning_modules import LoopModule, device_trainer, fit_loop, generated_loader

    torch.manual_seed(seed)
    head = ValueHeadAttention(states.shape[-1], max_value=max_value)
    g = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(targets, dtype=torch.float32, device=states.device)
    mask = mask.to(states.device)
    n_batches = -(-len(y) // batch)

    def epoch():
        for idx in torch.randperm(len(y), generator=g).split(batch):
            yield states[idx], mask[idx], y[idx]

    def loss_fn(model, b):
        h, m, t = b
        return F.mse_loss(model(h, m), t)

    best = {"mse": float("inf"), "state": None}
    history: list[float] = []

    def after_epoch(module):
        history.append(float(np.mean(module.epoch_losses[-1])))
        if history[-1] < best["mse"]:
            best["mse"], best["state"] = history[-1], copy.deepcopy(module.model.state_dict())

    if trainer_cfg is None:
        trainer_cfg = device_trainer(states.device)
    module = LoopModule(head, loss_fn, lambda m: (torch.optim.AdamW(m.parameters(), lr=lr), None),
                        after_epoch=after_epoch)
    fit_loop(module, generated_loader(epoch, n_batches), trainer_cfg, max_epochs=epochs)
    head.load_state_dict(best["state"])
    return head.eval(), history
