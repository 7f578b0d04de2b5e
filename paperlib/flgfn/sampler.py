"""The GFlowNet sampler: one network for P_F, P_B and the (forward-looking) state flow, trajectory
sampling with exploration, each objective's loss on a batch, and the exact terminal distribution.

Follows the official set code (ling-pan/FL-GFN, ``set/gflownet.py``): one MLP (LeakyReLU) whose
output holds the forward logits, the backward logits and one log-flow; invalid actions masked before
the softmax; a learned backward policy; trajectories sampled from the policy mixed with a uniform
choice among valid actions (``exp_weight``); DB / FL-DB averaged over transitions, TB over trajectories;
Adam with a separate, larger learning rate for TB's log Z. For FL-DB the network's log-flow output is
read as log F~(s) (the forward-looking flow), so F(s) = F~(s) exp(-E(s)) is never formed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .envs import DagEnv
from .losses import db_residual, fl_db_residual, subtb_loss, tb_residual

METHODS = ("db", "fl-db", "fl-db-incomplete", "tb", "subtb")
NEG = -1e9


def make_mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n, (i, o) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(i, o))
        if n < len(sizes) - 2:
            layers.append(nn.LeakyReLU())
    return nn.Sequential(*layers)


class GFlowNet(nn.Module):
    """MLP(state features) -> [forward logits (moves, stop) | backward logits (moves) | log flow]; log Z for TB."""

    def __init__(self, env: DagEnv, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.env = env
        self.net = make_mlp([env.features.shape[1]] + [hidden] * layers + [env.n_actions + env.n_moves + 1])
        self.log_z = nn.Parameter(torch.zeros(()))
        self.register_buffer("fmask", env.forward_mask)
        self.register_buffer("bmask", env.parent_mask)

    def forward(self, states: torch.Tensor):
        """log P_F [.., n_actions], log P_B [.., n_moves] (uniform-safe where no parent) and log flow."""
        out = self.net(self.env.features[states])
        na, nm = self.env.n_actions, self.env.n_moves
        log_pf = torch.log_softmax(out[..., :na].masked_fill(~self.fmask[states], NEG), -1)
        log_pb = torch.log_softmax(out[..., na:na + nm].masked_fill(~self.bmask[states], NEG), -1)
        return log_pf, log_pb, out[..., -1]


@dataclass
class Batch:
    """B trajectories, padded: ``states`` [B, T+1] (s_0 .. s_n, then s_0 as padding), ``actions`` [B, T]
    (-1 after the end), ``length`` [B] (transitions, stop included), ``keep`` [B, T] (transitions used
    by the loss: all of them, or a prefix for incomplete trajectories)."""

    states: torch.Tensor
    actions: torch.Tensor
    length: torch.Tensor
    keep: torch.Tensor


@torch.no_grad()
def sample(model: GFlowNet, batch_size: int, exp_weight: float, generator: torch.Generator) -> Batch:
    """Roll out ``batch_size`` trajectories from s0 with P_F mixed with a uniform choice over the valid
    actions, weight ``exp_weight`` (the official ``sample_many``)."""
    env = model.env
    dev = env.device
    s = torch.full((batch_size,), env.s0, dtype=torch.long, device=dev)
    done = torch.zeros(batch_size, dtype=torch.bool, device=dev)
    states, actions = [s.clone()], []
    while not bool(done.all()):
        log_pf, _, _ = model(s)
        mask = model.fmask[s].float()
        probs = (1 - exp_weight) * log_pf.exp() + exp_weight * mask / mask.sum(1, keepdim=True)
        a = _multinomial(probs, generator)
        a = torch.where(done, torch.full_like(a, -1), a)
        moving = ~done & (a != env.stop)
        s = torch.where(moving, env.child[s, a.clamp(0, env.n_moves - 1)], s)
        actions.append(a)
        states.append(s.clone())
        done = done | (a == env.stop)
    acts = torch.stack(actions, 1)
    length = (acts >= 0).sum(1)
    st = torch.stack(states, 1)  # after a stop the state repeats; it is never read as s'
    return Batch(st, acts, length, acts >= 0)


def _multinomial(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw per row; with a CPU generator and the model on a GPU, drawn on the CPU, so that a seed
    gives the same stream on any device."""
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _rand(n: int, generator: torch.Generator, device) -> torch.Tensor:
    """``n`` uniforms from ``generator`` (on its own device), placed on ``device``."""
    gdev = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(n, generator=generator, device=gdev).to(device)


def truncate(batch: Batch, fraction: float, generator: torch.Generator) -> Batch:
    """Incomplete trajectories: each trajectory, with probability ``fraction``, keeps only its first k
    moves, k uniform in 1 .. m-1 for a trajectory of m moves (then stop), so that it never reaches its
    terminal state: neither the terminal object nor its reward (nor the stop decision) is seen.
    Trajectories of fewer than two moves stay whole."""
    B, T = batch.actions.shape
    moves = batch.length - 1  # every trajectory ends with stop
    dev = batch.actions.device
    cut_me = (_rand(B, generator, dev) < fraction) & (moves >= 2)
    u = _rand(B, generator, dev)
    cut = 1 + (u * (moves - 1).clamp(min=1)).floor().long()
    kept = torch.where(cut_me, cut, batch.length)
    keep = torch.arange(T, device=dev)[None, :] < kept[:, None]
    return Batch(batch.states, batch.actions, batch.length, keep)


def transition_terms(model: GFlowNet, batch: Batch):
    """Per transition [B, T]: log P_F(a|s), log P_B(s|s') (0 for stop), log flow at s and at s', stop flags."""
    env = model.env
    log_pf_all, log_pb_all, log_flow = model(batch.states)  # [B, T+1, .]
    a = batch.actions.clamp(min=0)
    s, s_next = batch.states[:, :-1], batch.states[:, 1:]
    is_stop = batch.actions == env.stop
    log_pf = log_pf_all[:, :-1].gather(2, a[..., None]).squeeze(2)
    log_pb = log_pb_all[:, 1:].gather(2, a.clamp(max=env.n_moves - 1)[..., None]).squeeze(2)
    log_pb = torch.where(is_stop, torch.zeros_like(log_pb), log_pb)
    return log_pf, log_pb, log_flow[:, :-1], log_flow[:, 1:], s, s_next, is_stop


def loss(model: GFlowNet, batch: Batch, method: str, subtb_lambda: float = 0.9) -> torch.Tensor:
    """The objective ``method`` on ``batch`` (mean over used transitions for DB / FL-DB, over trajectories
    for TB / SubTB)."""
    env = model.env
    log_pf, log_pb, lf, lf_next, s, s_next, is_stop = transition_terms(model, batch)
    keep = batch.keep
    if method == "db":
        r = db_residual(lf, log_pf, lf_next, log_pb, env.log_reward[s], is_stop)
        return (r[keep] ** 2).mean()
    if method in ("fl-db", "fl-db-incomplete"):
        r = fl_db_residual(lf, log_pf, lf_next, log_pb, env.energy[s_next] - env.energy[s], is_stop)
        return (r[keep] ** 2).mean()
    if method == "tb":
        last = batch.states.gather(1, (batch.length - 1)[:, None]).squeeze(1)
        r = tb_residual(model.log_z, (log_pf * keep).sum(1), (log_pb * keep).sum(1), env.log_reward[last])
        return (r ** 2).mean()
    if method == "subtb":
        out = []
        for b in range(len(batch.length)):
            n = int(batch.length[b])
            last = batch.states[b, n - 1]
            flows = torch.cat([lf[b, :n], env.log_reward[last].reshape(1)])
            out.append(subtb_loss(flows, log_pf[b, :n], log_pb[b, :n], subtb_lambda))
        return torch.stack(out).mean()
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


@torch.no_grad()
def terminal_distribution(model: GFlowNet) -> torch.Tensor:
    """The sampler's exact terminal distribution P_T(x) (no exploration): push probability mass from s0
    through P_F level by level (the DAG's depth is a topological order), then P_T(x) = P(x) P_F(stop|x)."""
    env = model.env
    log_pf, _, _ = model(torch.arange(env.n_states, device=env.device))
    pf = log_pf.double().exp()
    p = torch.zeros(env.n_states, dtype=torch.float64, device=env.device)
    p[env.s0] = 1.0
    for d in range(int(env.depth.max()) + 1):
        at = (env.depth == d).nonzero(as_tuple=True)[0]
        src, a = (env.child[at] >= 0).nonzero(as_tuple=True)
        src = at[src]
        p.index_add_(0, env.child[src, a], p[src] * pf[src, a])
    return p * pf[:, env.stop]


def l1_error(model: GFlowNet, target: torch.Tensor | None = None) -> float:
    """sum_x |P_T(x) - R(x)/Z| (0 = exact; 2 = disjoint supports)."""
    target = model.env.target_distribution() if target is None else target
    return float((terminal_distribution(model) - target.to(model.env.device)).abs().sum())
