"""The supervised loops that moved to the shared Lightning trainer give the numbers of the hand-written loops they
replaced, on the CPU: each test keeps the old loop as a small reference and compares weights and losses with
``torch.equal`` (bitwise). Bitwise, not a tolerance: the same batches, the same ops in the same order and the same
random draws must give the same bits on one machine and thread count; anything less would mean a batch, a draw or
an update changed, which the smoke goldens (``paperlib verify``) would then show as moved measurements."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F


def _same_state(a: torch.nn.Module, b: torch.nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# ---------------------------------------------------------------- A-LoL value head

def _old_fit_value_head(states, mask, targets, epochs=10, lr=1e-3, batch=16, seed=0, max_value=1.0):
    """The hand-written loop fit_value_head had before (paperlib/alol/value.py at 51587c5)."""
    from paperlib.alol.value import ValueHeadAttention

    torch.manual_seed(seed)
    head = ValueHeadAttention(states.shape[-1], max_value=max_value).to(states.device)
    opt = torch.optim.AdamW(head.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(targets, dtype=torch.float32, device=states.device)
    best, best_state, history = float("inf"), None, []
    for _ in range(epochs):
        head.train()
        losses = []
        for idx in torch.randperm(len(y), generator=g).split(batch):
            loss = F.mse_loss(head(states[idx], mask[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
        if history[-1] < best:
            best, best_state = history[-1], copy.deepcopy(head.state_dict())
    head.load_state_dict(best_state)
    return head.eval(), history


def test_value_head_equals_hand_written_loop():
    from paperlib.alol.value import fit_value_head

    g = torch.Generator().manual_seed(3)
    states = torch.randn(37, 6, 16, generator=g)  # 37 rows: the last batch of each epoch is short
    mask = torch.ones(37, 6, dtype=torch.bool)
    mask[::3, :2] = False  # left padding
    targets = torch.rand(37, generator=g).numpy()
    old, h_old = _old_fit_value_head(states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    new, h_new = fit_value_head(states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    assert h_new == h_old and len(h_new) == 4
    _same_state(new, old)
    # the global RNG is left where the old loop left it: what runs next draws the same numbers
    _old_fit_value_head(states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    after_old = torch.rand(3)
    fit_value_head(states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    assert torch.equal(torch.rand(3), after_old)
