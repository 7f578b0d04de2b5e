"""Unit tests of the DAPO reproduction: the objectives, stage A's states and actions, the oracle
critic of the positive control, the critic check, the actor's training, and the shared SFT module's
cache key (moved from paperlib.prime without a change of key)."""
from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest
import torch

from paperlib.data import arithmetic
from paperlib.dapo.claims import seed_spread
from paperlib.dapo.experiment import (DAPOConfig, completion_rates, critic_check, dapo_examples, dpo_pairs,
                                      oracle_state_value, train_actor)
from paperlib.dapo.objective import dapo_loss, dpo_loss
from paperlib.dapo.rollouts import StageA, State, first_action, oracle_value, step_prefixes
from paperlib.nn.gpt import GPT, GPTConfig


def problem(terms=(12, 30, 45), width=3):
    rng = np.random.default_rng(0)
    p = arithmetic.make_problem(rng, len(terms), 2, width=width)
    p.terms = list(terms)
    left, p.steps = terms[0], []
    for t in terms[1:]:
        p.steps.append((left, t, left + t))
        left += t
    return p


def ids(text, eos=True):
    return arithmetic.encode(text) + ([arithmetic.EOS] if eos else [])


def test_dapo_loss_is_zero_at_the_target_and_pulls_towards_it():
    adv = torch.tensor([0.3, -0.6])
    ref = torch.tensor([-1.0, -2.0])
    beta = 0.5
    assert float(dapo_loss(ref + adv / beta, ref, adv, beta)) == pytest.approx(0.0, abs=1e-7)
    pol = ref.clone().requires_grad_(True)
    dapo_loss(pol, ref, adv, beta).backward()
    # a gradient step raises the log-prob of the positive-advantage step and lowers the other
    assert pol.grad[0] < 0 < pol.grad[1]
    with pytest.raises(ValueError):
        dapo_loss(pol, ref, adv, 0.0)


def test_dpo_loss_log2_at_zero_margin_and_falls_with_margin():
    z = torch.zeros(3)
    assert float(dpo_loss(z, z, z, z, 0.1)) == pytest.approx(math.log(2))
    better = dpo_loss(torch.ones(3), z, z, z, 0.1)
    assert float(better) < math.log(2)
    with pytest.raises(ValueError):
        dpo_loss(z, z, z, z, -1.0)


def test_states_and_actions_of_a_solution():
    p = problem()
    sol = ids(p.solution)
    pres = step_prefixes(sol)
    assert len(pres) == len(p.terms)  # before step 1, after each of the 2 steps (the answer is not a state)
    assert pres[0] == [] and all(pre[-1] == arithmetic.STEP_END for pre in pres[1:])
    act, term = first_action(sol)
    assert not term and arithmetic.decode(act).endswith(";")
    act, term = first_action(sol[len(pres[-1]):])
    assert term and act[-1] == arithmetic.EOS and arithmetic.decode(act).startswith("A")


def test_oracle_value_marks_the_first_wrong_step():
    p = problem()
    right = p.solution.split(";")
    assert oracle_value(p, ids(right[0] + ";", eos=False)) == 1.0
    l, t, s = p.steps[0]
    wrong = f"{arithmetic.lsb(l, 3)}+{arithmetic.lsb(t, 3)}={arithmetic.lsb(s + 1, 3)};"
    assert oracle_value(p, ids(wrong, eos=False)) == 0.0
    assert oracle_value(p, ids(p.solution)) == 1.0
    bad_answer = p.solution.rsplit("A", 1)[0] + "A" + arithmetic.lsb(p.answer + 1, 3)
    assert oracle_value(p, ids(bad_answer)) == 0.0


def test_oracle_critic_advantages_are_centred_on_a_state():
    """From a right state, a right step gains value and a wrong one loses it all (the control's advantage
    is the reference policy's, not a bare -1 on wrong steps)."""
    p = problem()
    l, t, s = p.steps[0]
    right = ids(p.solution.split(";")[0] + ";", eos=False)
    wrong = ids(f"{arithmetic.lsb(l, 3)}+{arithmetic.lsb(t, 3)}={arithmetic.lsb(s + 1, 3)};", eos=False)
    st = State(0, [], 0, completions=[right, wrong], rewards=[1.0, 0.0])
    st2 = State(0, right, 1, completions=[[]], rewards=[1.0])
    a = StageA([p], [st, st2], [])
    rates = completion_rates(a)
    assert rates == {2: 0.5, 1: 1.0}
    v0 = oracle_state_value(p, [], rates)
    assert oracle_state_value(p, right, rates) - v0 > 0 > oracle_state_value(p, wrong, rates) - v0


class ValueTable:
    """A stand-in critic whose value is 1 until the first wrong step, 0 after it."""

    def __init__(self, p):
        self.p = p

    def values(self, problems, prompt_ids, prefixes, chunk=512, task=None):
        return np.array([oracle_value(problems[i], pre) for i, pre in zip(prompt_ids, prefixes)])


def test_critic_check_finds_the_first_wrong_step_of_a_perfect_critic():
    probs = [p for p in arithmetic.sample_problems(200, 3, 4, 6, 2, width=3, min_digits=2, p_error=0.3)
             if p.first_error is not None][:40]
    out = critic_check(ValueTable(None), probs)
    assert out["hit_rate"] == 1.0 and out["chance"] < 0.5
    assert out["drop_at_first_wrong"] == pytest.approx(-1.0) and out["drop_at_right_steps"] == pytest.approx(0.0)
    assert out["value_around_first_wrong"]["0"] == 1.0 and out["value_around_first_wrong"]["1"] == 0.0


def tiny_stage_a():
    p = problem()
    sol = ids(p.solution)
    l, t, s = p.steps[0]
    wrong = ids(f"{arithmetic.lsb(l, 3)}+{arithmetic.lsb(t, 3)}={arithmetic.lsb(s + 1, 3)};"
                + f"A{arithmetic.lsb(p.answer + 1, 3)}")
    st = State(0, [], 0, completions=[sol, wrong], rewards=[1.0, arithmetic.verify(p.terms, arithmetic.decode(wrong))])
    return StageA([p], [st], [(0, sol, 1.0)], generated=3), sol, wrong


def test_dapo_examples_use_the_critics_value_difference():
    a, sol, wrong = tiny_stage_a()
    ex = dapo_examples(a, ValueTable(None))
    assert len(ex["tails"]) == 2 and ex["action_start"] == [0, 0]
    assert ex["adv"].tolist() == [0.0, -1.0]  # V(s+right) - V(s) = 0, V(s+wrong) - V(s) = -1
    pairs = dpo_pairs(a, 4, seed=0)
    # the pool: the base solution and the two completions; 2 correct x 1 wrong
    assert len(pairs["chosen"]) == 2 and all(c == sol for c in pairs["chosen"]) and all(r == wrong for r in pairs["rejected"])


def test_training_the_actor_moves_the_step_log_ratio_towards_the_scaled_advantage():
    torch.manual_seed(0)
    sft = GPT(GPTConfig(vocab_size=arithmetic.VOCAB_SIZE, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    a, sol, wrong = tiny_stage_a()
    ex = dapo_examples(a, ValueTable(None))
    cfg = DAPOConfig(updates=40, batch_size=2, dapo_lr=3e-3, dapo_beta=1.0)
    policy, losses = train_actor(sft, "dapo", ex, cfg)
    assert losses[-1] < 0.1 * losses[0]
    from paperlib.dapo.experiment import _logp
    d = (_logp(policy, ex["heads"], ex["tails"], ex["action_start"]) - _logp(sft, ex["heads"], ex["tails"], ex["action_start"])).detach()
    assert abs(float(d[0])) < 0.3 and float(d[1]) < -0.7  # targets 0 and -1


def test_config_refuses_unknown_arms():
    with pytest.raises(ValueError, match="unknown arm"):
        DAPOConfig(arms=("sft", "ppo"))


def test_seed_spread():
    s = seed_spread([0.1, 0.3])
    assert s["mean"] == pytest.approx(0.2) and s["sd"] == pytest.approx(math.sqrt(0.02)) and s["min"] == 0.1
    with pytest.raises(ValueError):
        seed_spread([])


def test_the_sft_key_covers_config_and_code():
    """The shared SFT model's key is the cache's usual formula: configuration and code version."""
    from paperlib.cache import artifact_key
    from paperlib.rl import sft

    inputs = asdict(sft.SFTConfig())
    assert sft.sft_key(inputs) == artifact_key(sft.KIND, inputs, "paperlib.rl.sft")
    assert sft.sft_key(dict(inputs, seed=1)) != sft.sft_key(inputs)
