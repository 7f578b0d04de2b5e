"""PRIME's training loop: the update order of the PRM (scores before each mini-batch's own update,
later mini-batches after earlier updates; a frozen PRM never changes), the oracle control's reward,
and C1's first-hit statistic."""
import copy

import numpy as np
import pytest
import torch

from paperlib.data import arithmetic
from paperlib.nn.gpt import GPT, GPTConfig, response_log_probs
from paperlib.prime.experiment import area_under_curve, first_hit_ratio
from paperlib.prime.trainer import (PromptStream, RLConfig, group_mini_batches, oracle_rewards, prm_scores, rollout,
                                    rows, train_rl)


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=arithmetic.VOCAB_SIZE, block_size=96, n_layer=1, n_head=2, n_embd=16))


def cfg(**kw):
    base = dict(batch_prompts=4, n_samples=2, min_terms=3, max_terms=4, max_new_tokens=60, prm_lr=1e-2, beta=0.5)
    base.update(kw)
    return RLConfig(**base)


def batch(c, model, seed=0):
    r = rollout(model, PromptStream(c, seed).take(c.batch_prompts), c, torch.Generator().manual_seed(seed))
    r.acc = torch.tensor([1.0, 0.0] * (len(r.acc) // 2))  # both labels in every group
    return r


def q_of(prm, ref, r):
    with torch.no_grad():
        return (response_log_probs(prm, r.tokens, r.mask, r.prompt_len)
                - response_log_probs(ref, r.tokens, r.mask, r.prompt_len)) * r.response_mask


def test_mini_batches_are_consecutive_whole_groups():
    mbs = group_mini_batches(16, 4, 4)
    assert [m.tolist() for m in mbs] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]
    assert [m.tolist() for m in group_mini_batches(8, 4, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_prm_scores_each_mini_batch_before_its_update_and_after_the_earlier_ones():
    c = cfg(prm_mini_batches=2)
    ref = tiny_gpt(0).eval()
    prm = tiny_gpt(1)  # a PRM that differs from the reference, so q != 0
    r = batch(c, ref)
    first, second = (rows(r, i) for i in group_mini_batches(len(r.acc), c.n_samples, 2))
    snap0 = copy.deepcopy(prm)
    q, *_ = prm_scores(prm, ref, r, c, torch.optim.SGD(prm.parameters(), lr=c.prm_lr))
    h = len(first.acc)
    # mini-batch 1 was scored by the PRM before any update
    assert torch.allclose(q[:h], q_of(snap0, ref, first), atol=1e-5)
    # mini-batch 2 was scored after the update on mini-batch 1 (not by the initial PRM) ...
    snap1 = copy.deepcopy(snap0)
    prm_scores(snap1, ref, first, cfg(prm_mini_batches=1), torch.optim.SGD(snap1.parameters(), lr=c.prm_lr))
    assert torch.allclose(q[h:], q_of(snap1, ref, second), atol=1e-5)
    assert not torch.allclose(q[h:], q_of(snap0, ref, second), atol=1e-4)
    # ... and before its own update
    assert not torch.allclose(q[h:], q_of(prm, ref, second), atol=1e-4)


def test_a_frozen_prm_never_changes():
    c = cfg()
    ref = tiny_gpt(0).eval()
    prm = tiny_gpt(1)
    before = {k: v.clone() for k, v in prm.state_dict().items()}
    r = batch(c, ref)
    q1, *_ = prm_scores(prm, ref, r, c, None)
    q2, *_ = prm_scores(prm, ref, r, c, None)
    assert torch.equal(q1, q2)
    assert all(torch.equal(before[k], v) for k, v in prm.state_dict().items())
    # and through a whole frozen-arm run: the PRM trained offline is not touched by RL
    out = train_rl(ref, cfg(arm="prime_frozen", steps=3, frozen_prm_steps=4, frozen_eval_every=2, frozen_val_prompts=2,
                            acc_low=0.0, acc_high=1.0))
    assert out["offline_prm"]["batches"] >= 2
    assert all(not p.requires_grad for p in out["prm"].parameters())


def test_online_prm_changes_and_oracle_reward_sits_on_first_wrong_step():
    c = cfg()
    ref = tiny_gpt(0).eval()
    r = batch(c, ref)
    prm = copy.deepcopy(ref)
    before = [p.clone() for p in prm.parameters()]
    prm_scores(prm, ref, r, c, torch.optim.Adam(prm.parameters(), lr=1e-2))
    assert any(not torch.equal(a, b) for a, b in zip(before, prm.parameters()))
    # the oracle reward on generated worked solutions with a known first error
    probs = [p for p in arithmetic.sample_problems(40, 3, 3, 5, 2, width=3, min_digits=2, p_error=0.4)]
    tokens, mask, P = arithmetic.encode_batch([p.prompt for p in probs], [p.solution for p in probs])
    from paperlib.prime.trainer import Rollouts
    ro = Rollouts(tokens, mask, P, torch.tensor([arithmetic.verify(p.terms, p.solution) for p in probs]), probs)
    o = oracle_rewards(ro)
    for i, p in enumerate(probs):
        resp = tokens[i, P:].tolist()
        if p.first_error is None and ro.acc[i] == 1:
            assert o[i].abs().sum() == 0
        elif p.first_error is not None:
            spans = arithmetic.step_spans(resp)
            assert o[i].sum() == -1 and int(o[i].argmin()) == spans[p.first_error][1] - 1


def test_first_hit_uses_the_same_statistic_for_both_arms():
    rloo = [0.2] * 5 + [0.5] * 15  # reaches its final level (0.5) early: a hit at step 9 with window 4
    fast = [0.2] * 2 + [0.5] * 18
    r = first_hit_ratio(fast, rloo, window=4)
    assert r["reference"] == pytest.approx(0.5) and r["t_rloo"] == 9 and r["t_arm"] == 6
    assert r["ratio"] == pytest.approx(6 / 9) and r["reached"]
    never = first_hit_ratio([0.1] * 20, rloo, window=4)
    assert not never["reached"] and never["t_arm"] == 21 and never["ratio"] == pytest.approx(21 / 9)
    # the old statistic divided by the horizon T = 20 would have called RLOO's own curve 0.45 of itself
    assert first_hit_ratio(rloo, rloo, 4)["ratio"] == 1.0
    with pytest.raises(ValueError):
        first_hit_ratio([0.1] * 5, rloo, 4)
    assert area_under_curve([0.0, 0.5, 1.0]) == pytest.approx(0.5)


def test_noisy_verifier_passes_a_fixed_share_of_wrong_answers_and_accuracy_stays_exact():
    from paperlib.prime.tasks import ArithmeticTask, lucky_draw
    from paperlib.prime.trainer import evaluate

    probs = arithmetic.sample_problems(400, 5, 3, 5, 2, width=3, min_digits=2, p_error=0.3)
    wrong = [p for p in probs if arithmetic.verify(p.terms, p.solution) == 0.0]
    right = [p for p in probs if arithmetic.verify(p.terms, p.solution) == 1.0]
    assert len(wrong) > 100 and right
    exact, noisy = ArithmeticTask(3, 5, 2, 2, 3), ArithmeticTask(3, 5, 2, 2, 3, false_positive=0.4)
    ids = lambda p: arithmetic.encode(p.solution) + [arithmetic.EOS]  # noqa: E731
    passed = [noisy.reward(p, ids(p)) for p in wrong]
    assert all(exact.reward(p, ids(p)) == 0.0 for p in wrong)
    assert 0.3 < np.mean(passed) < 0.5  # about 0.4 of the wrong answers pass
    assert all(noisy.reward(p, ids(p)) == 1.0 for p in right)  # never a false negative
    assert [noisy.reward(p, ids(p)) for p in wrong] == passed  # one verdict per rollout, every time
    assert all(noisy.exact_reward(p, ids(p)) == 0.0 for p in wrong)
    # the verdict follows the text only: trailing padding after EOS does not change it
    p = wrong[0]
    assert noisy.reward(p, ids(p) + [arithmetic.PAD] * 3) == noisy.reward(p, ids(p))
    assert 0.0 <= lucky_draw(p.prompt, p.solution) < 1.0
    with pytest.raises(ValueError, match="false_positive"):
        ArithmeticTask(3, 5, 2, 2, 3, false_positive=1.0)
    with pytest.raises(ValueError, match="false_positive"):
        cfg(false_positive=-0.1)
    # rollouts: the training reward carries the false positives, training and held-out accuracy do not
    c = cfg(false_positive=0.9, max_new_tokens=60)
    model = tiny_gpt(1).eval()
    r = rollout(model, PromptStream(c, 0).take(8), c, torch.Generator().manual_seed(0))
    assert r.exact is not None and bool((r.acc >= r.exact).all())
    assert float(r.acc.sum()) > float(r.exact.sum())  # an untrained model is wrong: most pass at 0.9
    held_out = PromptStream(c, 1).take(8)
    assert evaluate(model, held_out, c, samples=2) == evaluate(model, held_out, cfg(max_new_tokens=60), samples=2)
    h = train_rl(model, cfg(false_positive=0.9, steps=2, acc_low=0.0, acc_high=1.0))["history"]
    assert h["train_reward"][0] > h["train_acc"][0]
