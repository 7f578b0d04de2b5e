"""A-LoL's losses against hand-computed values; negative-advantage examples get no gradient."""
import math

import pytest
import torch

from paperlib.alol.losses import METHODS, alol_loss, dpo_loss

# two responses, lengths 2 and 3 (padding in row 0)
LOGP = torch.tensor([[-0.5, -1.0, -9.0], [-0.2, -0.3, -2.0]])
REF = torch.tensor([[-0.7, -1.0, -9.0], [-0.1, -0.3, -1.5]])
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.float)
NLL = [1.5, 2.5]  # per-sequence sums of -logp over response tokens
R = torch.tensor([0.8, 0.4])
A = torch.tensor([0.3, -0.2])


def test_nll_and_weighted_nll():
    assert alol_loss("nll", LOGP, MASK).item() == pytest.approx((1.5 + 2.5) / 2)
    assert alol_loss("wnll", LOGP, MASK, reward=R).item() == pytest.approx((0.8 * 1.5 + 0.4 * 2.5) / 2)


def test_r_gold_weights_tokens_by_floored_policy_probability():
    w0 = 0.8 * (math.exp(-0.5) * 0.5 + math.exp(-1.0) * 1.0)
    w1 = 0.4 * (math.exp(-0.2) * 0.2 + math.exp(-0.3) * 0.3 + max(math.exp(-2.0), 0.1) * 2.0)
    assert alol_loss("r_gold", LOGP, MASK, reward=R).item() == pytest.approx((w0 + w1) / 2, rel=1e-6)


def test_sequence_ratio_is_clamped_to_one_plus_minus_eps():
    # row 0: log ratio +0.2 -> r = e^0.2 = 1.221; row 1: log ratio -0.1 + 0 - 0.5 = -0.6 -> r = 0.549
    r0, r1 = math.exp(0.2), math.exp(-0.6)
    got = alol_loss("r_lol", LOGP, MASK, reward=R, ref_logp=REF, eps=0.9).item()
    assert got == pytest.approx((0.8 * r0 * 1.5 + 0.4 * r1 * 2.5) / 2, rel=1e-6)
    got = alol_loss("r_lol", LOGP, MASK, reward=R, ref_logp=REF, eps=0.1).item()
    assert got == pytest.approx((0.8 * 1.1 * 1.5 + 0.4 * 0.9 * 2.5) / 2, rel=1e-6)


def test_a_lol_uses_positive_advantage_only():
    r0 = math.exp(0.2)
    assert alol_loss("a_lol", LOGP, MASK, advantage=A, ref_logp=REF).item() == pytest.approx(0.3 * r0 * 1.5 / 2, rel=1e-6)
    assert alol_loss("a_lol_ref_free", LOGP, MASK, advantage=A).item() == pytest.approx(0.3 * 1.5 / 2)


def test_a_lol_seq_clamps_each_token_ratio():
    # row 0 token ratios e^0.2, e^0 (row 1 has A < 0)
    expected = 0.3 * (math.exp(0.2) * 0.5 + 1.0 * 1.0) / 2
    assert alol_loss("a_lol_seq", LOGP, MASK, advantage=A, ref_logp=REF).item() == pytest.approx(expected, rel=1e-6)
    clamped = 0.3 * (1.1 * 0.5 + 1.0 * 1.0) / 2
    assert alol_loss("a_lol_seq", LOGP, MASK, advantage=A, ref_logp=REF, eps=0.1).item() == pytest.approx(clamped, rel=1e-6)


def test_a_lol_kl_adds_beta_times_log_ratio():
    kl = (0.2 + (-0.6)) / 2
    expected = 0.3 * 1.5 / 2 + 0.2 * kl
    assert alol_loss("a_lol_kl", LOGP, MASK, advantage=A, ref_logp=REF, kl_beta=0.2).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("method", ["a_lol", "a_lol_seq", "a_lol_ref_free"])
def test_negative_advantage_examples_receive_no_gradient(method):
    logp = LOGP.clone().requires_grad_(True)
    alol_loss(method, logp, MASK, advantage=A, ref_logp=REF).backward()
    assert torch.all(logp.grad[1] == 0)  # A = -0.2
    assert torch.any(logp.grad[0] != 0)


def test_dpo_loss_by_hand():
    c, r = torch.tensor([-3.0]), torch.tensor([-5.0])
    rc, rr = torch.tensor([-4.0]), torch.tensor([-4.0])
    expected = -math.log(1 / (1 + math.exp(-0.1 * 2.0)))
    assert dpo_loss(c, r, rc, rr, beta=0.1).item() == pytest.approx(expected, rel=1e-6)


def test_unknown_method_and_missing_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="unknown A-LoL method"):
        alol_loss("ppo", LOGP, MASK)
    with pytest.raises(ValueError, match="needs the advantages"):
        alol_loss("a_lol", LOGP, MASK, ref_logp=REF)
    with pytest.raises(ValueError, match="needs the reference"):
        alol_loss("a_lol", LOGP, MASK, advantage=A)
    assert set(METHODS) >= {"nll", "wnll", "r_gold", "r_lol", "a_lol", "a_lol_seq", "a_lol_kl", "a_lol_ref_free"}
