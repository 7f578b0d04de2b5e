"""DAPO's critic: V_phi(s), the probability that the reference policy finishes state s correctly.

A copy of the reference model (the SFT transformer, or a pretrained LM behind ``paperlib.nn.hf``: the
same code, since both give ``return_hidden``) with a scalar head on the last token of the state, trained apart from
the actor (before it, never with it) on the Monte-Carlo values of ``rollouts.stage_a``: the
cross-entropy between sigma(V_phi(s)) and the share of correct completions (a soft label; the MC
estimate is the regression target of the paper's critic, Section 3 stage A; the paper's exact loss
was not available to us, see REPORT.md).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..nn.gpt import GPT, pack_prompts
from .rollouts import _device, _task


class Critic(nn.Module):
    def __init__(self, body: GPT):
        super().__init__()
        self.body = copy.deepcopy(body)
        for p in self.body.parameters():
            p.requires_grad_(True)
        self.head = nn.Linear(body.cfg.n_embd, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.head.to(_device(self.body))  # float32, as the body's master weights

    def forward(self, tokens, mask) -> torch.Tensor:
        """Logit of the value at each sequence's last real token: (B,)."""
        h = self.body(tokens, mask, return_hidden=True)
        last = mask.long().cumsum(1).argmax(1)  # index of the last real token
        h = h[torch.arange(len(tokens), device=h.device), last]
        if not torch.is_autocast_enabled(h.device.type):
            h = h.to(self.head.weight.dtype)  # a body in bf16 without autocast
        return self.head(h).squeeze(-1).float()

    @torch.no_grad()
    def values(self, problems, prompt_ids: list[int], prefixes: list[list[int]], chunk: int = 512,
               task=None) -> np.ndarray:
        """V_phi(prompt + prefix) in [0, 1] for each pair (``task``: see ``paperlib.dapo.tasks``)."""
        task = _task(task)
        self.eval()
        out = []
        for a in range(0, len(prefixes), chunk):
            heads = [task.head_ids(problems[i]) for i in prompt_ids[a:a + chunk]]
            x, m, _ = pack_prompts(heads, [list(p) for p in prefixes[a:a + chunk]], task.PAD, device=_device(self))
            out.append(torch.sigmoid(self(x, m)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)


def train_critic(sft: GPT, problems, states, epochs: int, lr: float, batch_size: int, seed: int,
                 log=None, task=None) -> tuple[Critic, list[float]]:
    """The critic fitted to the states' MC values (``State.mc_value``): Adam, ``epochs`` passes in
    shuffled mini-batches, on the reference model's device. Returns (critic, per-batch losses)."""
    task = _task(task)
    torch.manual_seed(seed)
    critic = Critic(sft)
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    dev = _device(critic)
    target = torch.tensor([s.mc_value for s in states], dtype=torch.float32).to(dev)
    losses = []
    critic.train()
    for ep in range(epochs):
        order = rng.permutation(len(states))
        for a in range(0, len(order), batch_size):
            idx = order[a:a + batch_size]
            heads = [task.head_ids(problems[states[i].prompt]) for i in idx]
            x, m, _ = pack_prompts(heads, [states[i].prefix for i in idx], task.PAD, device=dev)
            loss = F.binary_cross_entropy_with_logits(critic(x, m), target[torch.as_tensor(idx, device=dev)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(critic.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        if log:
            log(f"critic epoch {ep + 1}/{epochs}: loss {np.mean(losses[-max(1, len(order) // batch_size):]):.4f}")
    critic.eval()
    return critic, losses


def value_trace(critic: Critic, problem, response_ids, task=None) -> np.ndarray:
    """V_phi at each state of one solution: before step 1, after each step (terminal states are not
    scored by the critic)."""
    task = _task(task)
    pres = task.step_prefixes(problem, response_ids)
    return critic.values([problem], [0] * len(pres), pres, task=task)
