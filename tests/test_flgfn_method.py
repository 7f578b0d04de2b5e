"""The FL-GFN method: environments, objectives on exact flows, sampling, incomplete trajectories."""
import itertools
import math

import numpy as np
import pytest
import torch

from paperlib.flgfn import (GFlowNet, db_residual, fl_db_residual, hypergrid, l1_error, loss, make_env, sample,
                            set_generation, subtb_loss, tb_residual, terminal_distribution, truncate)
from paperlib.flgfn.envs import coordinate_reward


def exact_flows(env):
    """True flows with a uniform backward policy: F(s) = R(s) [if s can stop] + sum_children F(s') P_B(s|s'),
    solved backwards in depth order; P_F(a|s) = F(s') P_B(s|s') / F(s), P_F(stop|s) = R(s) / F(s)."""
    n_par = env.parent_mask.sum(1).double()
    R = torch.where(env.can_stop, env.log_reward.double().exp(), torch.zeros(env.n_states, dtype=torch.float64))
    F = torch.zeros(env.n_states, dtype=torch.float64)
    for d in range(int(env.depth.max()), -1, -1):
        for s in (env.depth == d).nonzero().flatten().tolist():
            kids = env.child[s][env.child[s] >= 0]
            F[s] = R[s] + (F[kids] / n_par[kids]).sum()
    pf = torch.zeros(env.n_states, env.n_actions, dtype=torch.float64)
    for s in range(env.n_states):
        for a in range(env.n_moves):
            c = int(env.child[s, a])
            if c >= 0:
                pf[s, a] = F[c] / n_par[c] / F[s]
        pf[s, env.stop] = R[s] / F[s]
    return F, pf, n_par


@pytest.mark.parametrize("env", [hypergrid(2, 4), hypergrid(3, 3), set_generation(6, 3)], ids=lambda e: e.name)
def test_true_flows_zero_every_objective(env):
    F, pf, n_par = exact_flows(env)
    assert torch.allclose(pf.sum(1), torch.ones(env.n_states, dtype=torch.float64))
    s, a = (env.child >= 0).nonzero(as_tuple=True)
    c = env.child[s, a]
    logF, E = F.log(), env.energy.double()
    log_pb = -n_par[c].log()
    stop = torch.zeros(len(s), dtype=torch.bool)
    r_db = db_residual(logF[s], pf[s, a].log(), logF[c], log_pb, env.log_reward.double()[s], stop)
    r_fl = fl_db_residual(logF[s] + E[s], pf[s, a].log(), logF[c] + E[c], log_pb, E[c] - E[s], stop)
    assert r_db.abs().max() < 1e-9 and r_fl.abs().max() < 1e-9
    # stop transitions: F(x) P_F(stop|x) = R(x), i.e. F~(x) P_F(stop|x) = 1
    t = env.can_stop.nonzero().flatten()
    ones = torch.ones(len(t), dtype=torch.bool)
    zero = torch.zeros(len(t), dtype=torch.float64)
    assert db_residual(logF[t], pf[t, env.stop].log(), zero, zero, env.log_reward.double()[t], ones).abs().max() < 1e-9
    assert fl_db_residual(logF[t] + E[t], pf[t, env.stop].log(), zero, zero, zero, ones).abs().max() < 1e-9
    # the terminal distribution of the true P_F is R / Z, and F(s0) = Z
    assert math.isclose(float(F[env.s0]), float(torch.where(env.can_stop, env.log_reward.double().exp(), 0).sum()),
                        rel_tol=1e-9)


def test_wrong_flows_give_nonzero_fl_residual():
    env = hypergrid(2, 4)
    F, pf, n_par = exact_flows(env)
    s, a = (env.child >= 0).nonzero(as_tuple=True)
    c = env.child[s, a]
    E = env.energy.double()
    stop = torch.zeros(len(s), dtype=torch.bool)
    # forgetting the energy term (plain F read as F~) breaks the constraint wherever the energy changes
    r = fl_db_residual(F.log()[s], pf[s, a].log(), F.log()[c], -n_par[c].log(), E[c] - E[s], stop)
    assert r.abs().max() > 0.1


def test_tb_and_subtb_zero_on_a_true_trajectory():
    env = hypergrid(2, 4)
    F, pf, n_par = exact_flows(env)
    path = [0]
    for a in (0, 1, 0, 1):  # right, up, right, up, then stop
        path.append(int(env.child[path[-1], a]))
    log_pf = torch.stack([pf[s, a].log() for s, a in zip(path, (0, 1, 0, 1))] + [pf[path[-1], env.stop].log()])
    log_pb = torch.cat([-n_par[torch.tensor(path[1:])].log(), torch.zeros(1, dtype=torch.float64)])
    logR = env.log_reward.double()[path[-1]]
    assert abs(float(tb_residual(F[0].log(), log_pf.sum(), log_pb.sum(), logR))) < 1e-9
    flows = torch.cat([F[torch.tensor(path)].log(), logR.reshape(1)])
    assert float(subtb_loss(flows, log_pf, log_pb, 0.9)) < 1e-18
    assert float(subtb_loss(flows + 0.3 * torch.arange(len(flows)), log_pf, log_pb, 0.9)) > 1e-3


def test_fl_db_equals_db_under_the_reparameterisation():
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(50, generator=g) for _ in range(6)]
    stop = torch.rand(50, generator=g) < 0.3
    lf, lpf, lfn, lpb, Es, En = x
    r_db = db_residual(lf, lpf, lfn, lpb, -Es, stop)
    r_fl = fl_db_residual(lf + Es, lpf, lfn + En, lpb, En - Es, stop)
    assert torch.allclose(r_db, r_fl, atol=1e-5)


def test_target_distributions():
    env = hypergrid(2, 8)
    p = env.target_distribution()
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-12)
    r = coordinate_reward(8)
    brute = np.outer(r, r).ravel()
    assert np.allclose(p.numpy(), brute / brute.sum())
    assert p.argmax() != 0 and float(p.max()) > 20 * float(p.min())  # modes near the corners, background low
    env = set_generation(7, 3, energies=np.linspace(-1, 1, 7))
    p = env.target_distribution()
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-12)
    subsets = list(itertools.combinations(range(7), 3))
    w = np.array([np.exp(-np.linspace(-1, 1, 7)[list(c)].sum()) for c in subsets])
    assert int(env.can_stop.sum()) == len(subsets)
    assert np.allclose(np.sort(p[env.can_stop].numpy()), np.sort(w / w.sum()))


def test_terminal_distribution_matches_sampling():
    env = hypergrid(2, 3)
    torch.manual_seed(0)
    model = GFlowNet(env, hidden=16)
    p = terminal_distribution(model)
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-6)  # float32 policy
    batch = sample(model, 20000, 0.0, torch.Generator().manual_seed(1))
    last = batch.states.gather(1, (batch.length - 1)[:, None]).squeeze(1)
    freq = torch.bincount(last, minlength=env.n_states).double() / len(last)
    assert (freq - p).abs().max() < 0.02


def test_sampled_trajectories_are_valid():
    env = set_generation(6, 3)
    model = GFlowNet(env, hidden=16)
    b = sample(model, 64, 0.5, torch.Generator().manual_seed(0))
    assert (b.length == 4).all()  # three additions, then the forced stop
    for i in range(64):
        n = int(b.length[i])
        assert int(b.actions[i, n - 1]) == env.stop and (b.actions[i, n:] == -1).all()
        for t in range(n - 1):
            assert int(env.child[b.states[i, t], b.actions[i, t]]) == int(b.states[i, t + 1])
        assert bool(env.can_stop[b.states[i, n - 1]])


def test_truncate_keeps_a_prefix_without_the_end():
    env = hypergrid(2, 6)
    model = GFlowNet(env, hidden=16)
    b = sample(model, 400, 1.0, torch.Generator().manual_seed(0))
    t = truncate(b, 0.5, torch.Generator().manual_seed(1))
    kept = t.keep.sum(1)
    cut = kept < b.length
    eligible = b.length >= 3  # two moves or more, then stop
    assert not bool(cut[~eligible].any())
    assert 0.4 < cut[eligible].float().mean() < 0.6  # about half of them
    assert (kept[cut] <= b.length[cut] - 2).all()  # the last move (into the terminal state) is dropped too
    assert (kept >= 1).all()
    for i in range(len(kept)):  # a prefix: every kept transition precedes every dropped one
        assert bool(t.keep[i, :kept[i]].all()) and not bool(t.keep[i, kept[i]:].any())
    # a truncated trajectory never keeps its stop transition
    stops = (b.actions == env.stop) & t.keep
    assert not bool(stops[cut].any())
    assert torch.equal(truncate(b, 0.0, torch.Generator()).keep, b.keep)


@pytest.mark.parametrize("method", ["fl-db", "fl-db-incomplete", "db", "tb"])
def test_training_lowers_the_l1_error(method):
    from paperlib.flgfn.experiment import Study, kw, train_job
    study = Study("set", kw(n_elements=6, set_size=3, seed=1), steps=60, eval_every=30, hidden=32, batch_size=8)
    r = train_job(study, method, 0, 0.003, 0.5)
    assert r["steps"] == [0, 30, 60]
    assert r["l1"][-1] < r["l1"][0] - 0.05, r["l1"]
    assert not r["diverged"]


def test_loss_needs_no_terminal_reward_for_incomplete_fl_db():
    """FL-DB's loss on a truncated batch reads energies only: changing every terminal reward (not the
    per-state energies) leaves it unchanged, while DB's changes."""
    env = set_generation(6, 3)
    torch.manual_seed(0)
    model = GFlowNet(env, hidden=16)
    b = truncate(sample(model, 32, 0.5, torch.Generator().manual_seed(0)), 1.0, torch.Generator().manual_seed(1))
    before = float(loss(model, b, "fl-db-incomplete").detach())
    model.env.energy[env.can_stop] += 1.0  # shifts log R(x) of every terminal; energies of partial sets unchanged
    try:
        assert math.isclose(before, float(loss(model, b, "fl-db-incomplete").detach()), rel_tol=1e-6)
    finally:
        model.env.energy[env.can_stop] -= 1.0


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="hypergrid"):
        make_env("grid")
    with pytest.raises(ValueError, match="set_size"):
        set_generation(4, 5)
    from paperlib.flgfn.experiment import SETUPS, train_job
    with pytest.raises(ValueError, match="method must be one of"):
        train_job(SETUPS["set-smoke"], "fldb", 0, 1e-3, 0.5)


def test_device_and_precision_from_the_profile():
    """The loop takes its device and precision as parameters: explicit cpu gives the default's numbers bit
    for bit, bf16-mixed autocast runs and learns, and bad names fail before training."""
    import pytest
    from paperlib.flgfn.experiment import Study, kw, train_job
    study = Study("hypergrid", kw(dim=2, side=4), steps=20, eval_every=10, hidden=16, batch_size=8)
    base = train_job(study, "fl-db-incomplete", 0, 0.003, 0.5)
    cpu = train_job(study, "fl-db-incomplete", 0, 0.003, 0.5, device="cpu", precision="32-true")
    assert cpu["l1"] == base["l1"] and cpu["transitions_used"] == base["transitions_used"]
    bf = train_job(study, "db", 0, 0.003, 0.5, device="cpu", precision="bf16-mixed")
    assert np.isfinite(bf["l1"]).all() and not bf["diverged"]
    with pytest.raises(ValueError, match="precision"):
        train_job(study, "db", 0, 0.003, 0.5, precision="fp8")
    with pytest.raises(ValueError, match="device"):
        train_job(study, "db", 0, 0.003, 0.5, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            train_job(study, "db", 0, 0.003, 0.5, device="cuda")


def test_env_moves_to_a_device_whole():
    from paperlib.flgfn.envs import make_env
    env = make_env("set", n_elements=5, set_size=2)
    assert env.to("cpu") is env
    assert env.device == torch.device("cpu") and env.parent_mask.device == env.device
