"""GFlowNet training objectives on per-transition tensors: DB, FL-DB, TB, SubTB(lambda).

Every function takes log-quantities already gathered along sampled trajectories, so the same code
checks the exact flows of a tiny environment (tests) and trains the network (``sampler``).

Notation (Pan et al., ICML 2023, Sections 2-3): F(s) the state flow, P_F / P_B the forward / backward
policies, R(x) = exp(-E(x)) the reward of a terminal object. A transition is either a move s -> s'
or *stop* at s (terminate with x = s). Conventions shared by all functions:

- ``log_flow`` / ``log_flow_next``: log F at s and at s' (for DB) or log F~ (for FL-DB);
- ``log_pf``: log P_F(action | s); ``log_pb``: log P_B(s | s') for moves (ignored for stop);
- ``is_stop``: the transition is the stop action.
"""
from __future__ import annotations

import torch


def db_residual(log_flow, log_pf, log_flow_next, log_pb, log_reward, is_stop):
    """Detailed balance (Bengio et al. 2023, the DB constraint; Pan et al. Eq. (3)):
    F(s) P_F(s'|s) = F(s') P_B(s|s') for moves, and F(x) P_F(stop|x) = R(x) at the end, so that the
    terminal flow equals the reward (the official ``DBFlowNetAgent.learn_from`` puts log R on the last
    transition). ``log_reward`` is log R(s) (read only where ``is_stop``). Returns the log-ratio whose
    square is the loss."""
    target = torch.where(is_stop, log_reward, log_flow_next + log_pb)
    return log_flow + log_pf - target


def fl_db_residual(log_flow_tilde, log_pf, log_flow_tilde_next, log_pb, energy_delta, is_stop):
    """Forward-looking detailed balance (Pan et al., Section 3, the FL-DB constraint):
    with the reparameterisation F(s) = F~(s) exp(-E(s)) (E(s) the energy accrued at s),

        F~(s) P_F(s'|s) = F~(s') P_B(s|s') exp(-E(s -> s')),   E(s -> s') = E(s') - E(s),

    and F~(x) P_F(stop|x) = 1 at the end (F(x) = R(x) = exp(-E(x)) means F~(x) = 1). No terminal reward
    appears: every transition carries its own energy term (local credit), and a transition can be
    trained without the rest of its trajectory (incomplete trajectories). As the official
    ``learn_from_fl`` (``set/gflownet.py``), the residual adds the transition's energy where DB has
    log R on the last transition only. Substituting log F~ = log F + E gives exactly ``db_residual``."""
    move = log_flow_tilde_next + log_pb - energy_delta
    target = torch.where(is_stop, torch.zeros_like(move), move)
    return log_flow_tilde + log_pf - target


def tb_residual(log_z, sum_log_pf, sum_log_pb, log_reward):
    """Trajectory balance (Malkin et al. 2022; Pan et al. Eq. (2)), one value per trajectory:
    log Z + sum log P_F = log R(x) + sum log P_B."""
    return log_z + sum_log_pf - log_reward - sum_log_pb


def subtb_loss(log_flows, log_pf, log_pb, lam: float = 0.9):
    """Sub-trajectory balance SubTB(lambda) (Madan et al., ICLR 2023, Eq. (8)) for ONE trajectory.

    ``log_flows``: [n + 1] log F along the trajectory's nodes u_0 .. u_n, where the last node stands for
    the terminal flow (log R(x)); ``log_pf`` / ``log_pb``: [n] per edge (stop edges have log_pb = 0).
    Every pair i < j contributes (log F(u_i) + sum_{i<=t<j} log P_F - log F(u_j) - sum log P_B)^2 with
    weight lam^(j - i); the loss is their weighted mean."""
    n = len(log_pf)
    if len(log_flows) != n + 1 or len(log_pb) != n:
        raise ValueError(f"need n + 1 = {n + 1} flows and n = {n} backward log-probabilities")
    cpf = torch.cat([log_pf.new_zeros(1), torch.cumsum(log_pf, 0)])
    cpb = torch.cat([log_pb.new_zeros(1), torch.cumsum(log_pb, 0)])
    i, j = torch.triu_indices(n + 1, n + 1, offset=1)
    res = log_flows[i] + (cpf[j] - cpf[i]) - log_flows[j] - (cpb[j] - cpb[i])
    w = lam ** (j - i).to(res.dtype)
    return (w * res ** 2).sum() / w.sum()
