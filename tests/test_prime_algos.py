"""PRIME's pieces against hand-worked values: RLOO returns, the PRM loss, the filter, PPO-clip."""
import math

import pytest
import torch

from paperlib.prime.prm import (accuracy_filter, batch_norm_scores, implicit_process_reward, pairwise_accuracy,
                                prm_loss)
from paperlib.rl import masked_whiten, ppo_clip_loss, reverse_cumsum, rloo_returns


def test_rloo_outcome_only_is_leave_one_out_then_whitened():
    # 2 prompts x K=3 rollouts, responses of lengths 2, 3, 1 | 3, 3, 2; reward 1, 0, 1 | 0, 0, 1 on the last token
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1], [1, 1, 1], [1, 1, 0]], dtype=torch.float)
    acc = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    last = [1, 2, 0, 2, 2, 1]
    rew = torch.zeros(6, 3)
    rmask = torch.zeros(6, 3, dtype=torch.bool)
    for i, (a, t) in enumerate(zip(acc, last)):
        rew[i, t] = a
        rmask[i, t] = True
    adv, ret = rloo_returns([(rew, rmask, 1.0)], mask, n_samples=3)
    # leave-one-out by hand: r_i - mean of the other two
    loo = [1 - 0.5, 0 - 1.0, 1 - 0.5, 0 - 0.5, 0 - 0.5, 1 - 0.0]
    # gamma = 1: every token up to the reward carries it
    expected = torch.zeros(6, 3)
    for i, (v, t) in enumerate(zip(loo, last)):
        expected[i, : t + 1] = v
    assert torch.allclose(ret, expected)
    vals = expected[mask.bool()]
    white = (expected - vals.mean()) / vals.std(unbiased=True)
    assert torch.allclose(adv[mask.bool()], white[mask.bool()], atol=1e-5)


def test_rloo_dense_source_matches_official_formula():
    # one group of K=2, per-token process scores; official: r * K/(K-1) - sum_j mean_j / (K-1)
    scores = torch.tensor([[0.2, -0.4, 0.0], [0.1, 0.3, 0.5]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.float)
    _, ret = rloo_returns([(scores, mask.bool(), 1.0)], mask, n_samples=2)
    mean0, mean1 = (0.2 - 0.4) / 2, (0.1 + 0.3 + 0.5) / 3
    base = mean0 + mean1
    r0 = [0.2 * 2 - base, -0.4 * 2 - base, 0.0]
    r1 = [0.1 * 2 - base, 0.3 * 2 - base, 0.5 * 2 - base]
    exp0 = [r0[0] + r0[1], r0[1], 0.0]
    exp1 = [sum(r1), r1[1] + r1[2], r1[2]]
    assert torch.allclose(ret, torch.tensor([exp0, exp1]), atol=1e-6)


def test_reverse_cumsum_with_discount():
    x = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.allclose(reverse_cumsum(x, 1.0), torch.tensor([[6.0, 5.0, 3.0]]))
    assert torch.allclose(reverse_cumsum(x, 0.5), torch.tensor([[1 + 0.5 * (2 + 0.5 * 3), 2 + 1.5, 3.0]]))


def test_rloo_rejects_ragged_groups():
    with pytest.raises(ValueError, match="groups of 3"):
        rloo_returns([(torch.zeros(4, 2), torch.ones(4, 2, dtype=torch.bool), 1.0)], torch.ones(4, 2), 3)


def test_prm_loss_is_bce_of_beta_sum_q():
    prm_lp = torch.tensor([[-0.1, -0.2, -5.0], [-1.0, -0.5, -0.3]])
    ref_lp = torch.tensor([[-0.3, -0.2, -1.0], [-0.5, -0.5, -0.3]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.float)
    q = implicit_process_reward(prm_lp, ref_lp, mask)
    assert torch.allclose(q, torch.tensor([[0.2, 0.0, 0.0], [-0.5, 0.0, 0.0]]))
    acc = torch.tensor([1.0, 0.0])
    beta = 0.05
    s0, s1 = beta * 0.2, beta * -0.5
    expected = -(math.log(1 / (1 + math.exp(-s0))) + math.log(1 - 1 / (1 + math.exp(-s1)))) / 2
    assert prm_loss(q, acc, mask, beta).item() == pytest.approx(expected, rel=1e-6)


def test_prm_loss_gradient_raises_log_prob_of_correct_rollouts():
    lp = torch.zeros(2, 2, requires_grad=True)
    mask = torch.ones(2, 2)
    prm_loss(implicit_process_reward(lp, torch.zeros(2, 2), mask), torch.tensor([1.0, 0.0]), mask).backward()
    assert (lp.grad[0] < 0).all() and (lp.grad[1] > 0).all()  # descent raises row 0, lowers row 1


def test_batch_norm_bounds_reverse_cumsum():
    s = torch.tensor([[1.0, 2.0, -0.5], [0.5, 0.5, 0.5]])
    n = batch_norm_scores(s)
    assert n.flip(-1).cumsum(-1).abs().max().item() == pytest.approx(1.0, rel=1e-5)
    assert torch.allclose(n, s / 2.5, atol=1e-6)  # row 0's reverse cumsum 2.5, 1.5, -0.5


def test_accuracy_filter_keeps_groups_in_range():
    acc = torch.tensor([0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1.0])
    keep = accuracy_filter(acc, n_samples=4, low=0.2, high=0.8)
    assert keep.tolist() == [False, True, True, True, False]


def test_pairwise_accuracy_by_hand():
    mask = torch.ones(4, 1)
    acc = torch.tensor([1.0, 0.0, 1.0, 1.0])
    scores = torch.tensor([[0.3], [0.1], [0.5], [0.7]])  # groups of 2: right; both correct -> 0.5
    assert pairwise_accuracy(scores, acc, mask, 2) == pytest.approx(0.75)
    assert pairwise_accuracy(-scores, acc, mask, 2) == pytest.approx(0.25)


def test_ppo_clip_equals_policy_gradient_at_ratio_one():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, requires_grad=True)
    lp = torch.log_softmax(logits, -1)
    adv = torch.randn(3, 4)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.float)
    loss, clipfrac, kl = ppo_clip_loss(lp.detach(), lp, adv, mask, clip=0.2)
    g_ppo, = torch.autograd.grad(loss, logits)
    lp2 = torch.log_softmax(logits, -1)
    pg = -(adv * lp2 * mask).sum() / mask.sum()
    g_pg, = torch.autograd.grad(pg, logits)
    assert torch.allclose(g_ppo, g_pg, atol=1e-6)
    assert clipfrac.item() == 0.0 and kl.item() == pytest.approx(0.0, abs=1e-7)


def test_ppo_clip_stops_gradient_outside_the_trust_region():
    old = torch.zeros(1, 2)
    new = torch.tensor([[0.5, -0.5]], requires_grad=True)  # ratios e^0.5 > 1.2 and e^-0.5 < 0.8
    loss, clipfrac, _ = ppo_clip_loss(old, new, torch.tensor([[1.0, -1.0]]), torch.ones(1, 2), 0.2)
    loss.backward()
    assert torch.all(new.grad == 0) and clipfrac.item() == 1.0


def test_masked_whiten_ignores_masked_entries():
    x = torch.tensor([[1.0, 2.0, 100.0], [3.0, 4.0, -100.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]], dtype=torch.float)
    w = masked_whiten(x, mask)[mask.bool()]
    assert w.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert w.std(unbiased=True).item() == pytest.approx(1.0, rel=1e-5)
