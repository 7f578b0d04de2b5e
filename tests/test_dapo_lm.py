"""DAPO on a pretrained-LM task (``paperlib.dapo.tasks.ReasoningSteps`` on ``nn.hf.HFCausalLM``), on a tiny
random Llama with a character tokenizer built from a config (no download): free-form responses cut into steps
and states, the critic on the LM's hidden states, the actor's step log-probs through the adapter, one update of
each trained arm, a frozen reference, and a whole seed end to end."""
import copy

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("reasoning_gym")

from test_prime_lm import tiny_chat_lm  # noqa: E402

from paperlib.dapo.critic import Critic, train_critic  # noqa: E402
from paperlib.dapo.experiment import (DAPOConfig, _logp, critic_check, dapo_examples, dpo_pairs,  # noqa: E402
                                      sampled_accuracy, seed_arms, train_actor)
from paperlib.dapo.rollouts import StageA, State, stage_a  # noqa: E402
from paperlib.dapo.tasks import ReasoningSteps, line_steps  # noqa: E402
from paperlib.data import reasoning  # noqa: E402


@pytest.fixture(scope="module")
def lm():
    return tiny_chat_lm()


@pytest.fixture(scope="module")
def task(lm):
    return ReasoningSteps(lm, "chain_sum", min_terms=3, max_terms=3, min_digits=1, max_digits=1)


def changed(a, b):
    return any(not torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def wrong_at(problem, k):
    """The problem's worked solution with step k's result off by one (later steps go on from it)."""
    terms, lines, left = problem.terms, [], problem.terms[0]
    for j, t in enumerate(terms[1:]):
        res = left + t + (1 if j == k else 0)
        lines.append(f"{left} {'+' if t >= 0 else '-'} {abs(t)} = {res}")
        left = res
    return "\n".join(lines) + f"\n<answer>{left}</answer>"


def test_a_free_form_response_is_cut_into_states_and_actions(lm, task):
    p = task.problems(1, seed=3)[0]
    ids = lm.response_ids(p.solution)  # "a + b = c\nc + d = e\n<answer>e</answer>" + EOS
    states = task.step_prefixes(p, ids)
    assert len(states) == len(p.terms)  # the empty prefix, then one per equation (the answer is no state)
    assert states[0] == []
    lines = p.solution.split("\n")
    for j, pre in enumerate(states[1:]):
        assert lm.decode(pre) == "\n".join(lines[:j + 1])  # each state ends at its equation's last character
    # the next step after state 1: the second equation (with its leading newline), not terminal
    act, term = task.first_action(p, states[1], ids[len(states[1]):])
    assert not term and lm.decode(act) == "\n" + lines[1]
    # after the last equation the next step is the answer, which ends the solution (EOS kept)
    act, term = task.first_action(p, states[-1], ids[len(states[-1]):])
    assert term and act[-1] == lm.eos_id and lm.decode(act).strip() == lines[-1]
    assert task.reward(p, ids) == 1.0 and task.reward(p, lm.response_ids(wrong_at(p, 0))) == 0.0


def test_step_labels_give_the_oracle_value_and_the_steps_left(lm, task):
    p = task.problems(1, seed=4)[0]
    bad = lm.response_ids(wrong_at(p, 1))
    states = task.step_prefixes(p, bad)
    assert [task.oracle_value(p, s) for s in states] == [1.0, 1.0, 0.0]  # the second equation is wrong
    assert [task.remaining_steps(p, s) for s in states] == [2, 1, 0]
    assert task.oracle_value(p, bad) == 0.0 and task.oracle_value(p, lm.response_ids(p.solution)) == 1.0
    gsm = ReasoningSteps(lm, "gsm_symbolic")
    with pytest.raises(ValueError, match="chain_sum"):
        gsm.oracle_value(p, states[1])


def test_line_steps_of_an_unlabelled_task():
    steps = line_steps("First 3 apples.\nThen 4 more = 7\n\n<answer>7</answer>")
    assert [s.text for s in steps] == ["First 3 apples.\n", "Then 4 more = 7\n", "<answer>7</answer>"]
    assert steps[-1].is_answer and not any(s.is_answer for s in steps[:-1])


def test_the_critic_on_the_lm_learns_and_leaves_the_lm_alone(lm, task):
    init = copy.deepcopy(lm)
    probs = task.problems(2, seed=5)
    states = []
    for i, p in enumerate(probs):
        for t, pre in enumerate(task.step_prefixes(p, lm.response_ids(p.solution))):
            states.append(State(i, pre, t, rewards=[float(t % 2)]))  # a value target the critic must fit
    critic = Critic(lm)
    v0 = critic.values(probs, [s.prompt for s in states], [s.prefix for s in states], task=task)
    assert v0.shape == (len(states),) and np.allclose(v0, 0.5)  # a zero head: sigma(0)
    trained, losses = train_critic(lm, probs, states, epochs=10, lr=3e-3, batch_size=len(states), seed=0, task=task)
    assert all(np.isfinite(losses))
    y = np.array([s.mc_value for s in states])
    v1 = trained.values(probs, [s.prompt for s in states], [s.prefix for s in states], task=task)
    bce = -np.mean(y * np.log(v1) + (1 - y) * np.log(1 - v1))
    assert bce < np.log(2) - 0.05, "the critic did not fit its targets"
    assert changed(trained.body, lm) and not changed(lm, init), "the reference LM was modified"
    assert trained.head.weight.grad is not None and torch.isfinite(trained.head.weight.grad).all()
    # the critic check on held-out solutions with one wrong step runs on the LM's states
    out = critic_check(trained, task.check_items(DAPOConfig(check_problems=3)), task)
    assert 0.0 <= out["hit_rate"] <= 1.0 and 0.0 < out["chance"] <= 0.5


def hand_stage_a(lm, task):
    """Two prompts, each state completed once right and once with a wrong step."""
    probs = task.problems(2, seed=6)
    states, rollouts = [], []
    for i, p in enumerate(probs):
        good, bad = lm.response_ids(p.solution), lm.response_ids(wrong_at(p, 0))
        rollouts += [(i, good, 1.0), (i, bad, 0.0)]
        for t, pre in enumerate(task.step_prefixes(p, good)):
            comps = [good[len(pre):]]
            if t == 0:
                comps.append(bad)
            states.append(State(i, pre, t, completions=comps, rewards=[task.reward(p, pre + c) for c in comps]))
    return StageA(probs, states, rollouts, generated=0)


@pytest.mark.parametrize("arm", ["dapo", "oracle", "dpo"])
def test_one_update_changes_the_actor_and_never_the_reference(lm, task, arm):
    init = copy.deepcopy(lm)
    a = hand_stage_a(lm, task)
    cfg = DAPOConfig(updates=1, batch_size=4, dapo_lr=1e-2, dpo_lr=1e-2, dapo_beta=0.3)
    if arm == "dpo":
        data = dpo_pairs(a, 4, seed=0, task=task)
        assert len(data["chosen"]) > 0
    else:
        critic = None
        if arm == "dapo":  # a critic whose head is not zero, so that states differ in value
            critic = Critic(lm)
            torch.nn.init.normal_(critic.head.weight, std=1.0)
        data = dapo_examples(a, critic, oracle=(arm == "oracle"), task=task)
        adv = data["adv"].numpy()
        assert len(adv) > 0 and np.abs(adv).max() > 0
        if arm == "oracle":  # the wrong first step loses value, the right ones do not
            prob_of = {tuple(task.head_ids(p)): p for p in a.problems}
            first = [(i, task.oracle_value(prob_of[tuple(h)], t)) for i, (h, t, s) in
                     enumerate(zip(data["heads"], data["tails"], data["action_start"])) if s == 0]
            assert {v for _, v in first} == {0.0, 1.0}
            assert all(adv[i] < 0 for i, v in first if v == 0.0) and all(adv[i] > 0 for i, v in first if v == 1.0)
    policy, losses = train_actor(lm, arm, data, cfg, task=task)
    assert len(losses) == 1 and np.isfinite(losses[0]) and losses[0] > 0
    assert changed(policy, lm), "one update left the actor's weights unchanged"
    assert not changed(lm, init), "the frozen reference changed"


def test_step_log_probs_sum_over_the_steps_tokens(lm, task):
    p = task.problems(1, seed=7)[0]
    ids = lm.response_ids(p.solution)
    s1 = task.step_prefixes(p, ids)[1]
    act, _ = task.first_action(p, s1, ids[len(s1):])
    head = task.head_ids(p)
    with torch.no_grad():
        step = _logp(lm, [head], [s1 + act], [len(s1)], task=task)
        whole, upto = _logp(lm, [head], [s1 + act], task=task), _logp(lm, [head], [s1], task=task)
    assert step.item() == pytest.approx((whole - upto).item(), abs=1e-4)


def test_a_whole_seed_runs_on_the_lm(lm, task):
    init = copy.deepcopy(lm)
    cfg = DAPOConfig(seed=0, n_prompts=2, n_rollouts=1, mc_samples=1, critic_epochs=1, updates=2, batch_size=2,
                     eval_prompts=2, eval_samples=1, check_problems=2, max_len=12, min_terms=3, max_terms=3,
                     eval_chunk=1)
    a = stage_a(lm, task.train_problems(cfg), 1, 2, 12, seed=1, task=task)
    assert len(a.states) >= 2 and all(len(s.completions) == 2 for s in a.states)
    acc = sampled_accuracy(lm, task.eval_problems(cfg), 1, 0, 12, task, chunk=1)
    assert 0.0 <= acc <= 1.0
    out = seed_arms(lm, cfg, task)
    assert set(out["acc"]) == {"sft", "dpo", "dapo", "oracle"} and set(out["mid_acc"]) == set(out["acc"])
    assert set(out["critic_check"]) >= {"hit_rate", "chance"}
    assert not changed(lm, init)


def test_a_reasoning_step_maps_to_its_token_on_a_merging_tokenizer():
    """Token boundaries need not match step boundaries: with tokens that hold several characters the
    state ends at the token holding the step's last character."""
    class Merged:
        eos_id = 99

        def __init__(self, text, cuts):
            self.text, self.cuts = text, cuts

        def token_char_ends(self, ids):
            return self.cuts[:len([i for i in ids if i != self.eos_id])]

        def decode(self, ids):
            n = len([i for i in ids if i != self.eos_id])
            return self.text[:self.cuts[n - 1]] if n else ""

    p = reasoning.make_problems("chain_sum", 1, seed=0, min_terms=3, max_terms=3, min_digits=1, max_digits=1)[0]
    text = p.solution
    first_end = text.index("\n")
    cuts = [first_end + 1] + list(range(first_end + 2, len(text) + 1))  # token 0 = line 1 + its newline
    fake = Merged(text, cuts)
    t = ReasoningSteps.__new__(ReasoningSteps)
    t.lm, t.name, t.EOS = fake, "chain_sum", 99
    ids = list(range(len(cuts))) + [99]
    states = t.step_prefixes(p, ids)
    assert states[1] == [0]  # the first state is the first token, which also holds the newline
