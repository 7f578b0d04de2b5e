"""The comp-sum loss family (arXiv 2304.07288, Eq. (1)): special cases, the paper's form, numerical safety."""
import pytest
import torch
import torch.nn.functional as F

from paperlib.compsum import comp_sum_loss, phi_tau


def _batch(scale=1.0, n=16, c=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g)


def _p_y(logits, y):
    return logits.softmax(-1).gather(1, y[:, None]).squeeze(1)


def test_special_cases():
    logits, y = _batch()
    p = _p_y(logits, y)
    torch.testing.assert_close(comp_sum_loss(logits, y, 1.0), F.cross_entropy(logits, y))
    torch.testing.assert_close(comp_sum_loss(logits, y, 2.0, "none"), 1 - p)
    torch.testing.assert_close(comp_sum_loss(logits, y, 0.0, "none"), 1 / p - 1)
    torch.testing.assert_close(comp_sum_loss(logits, y, 1, "sum"), F.cross_entropy(logits, y, reduction="sum"))


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_equals_phi_tau_of_sum_exp(tau):
    logits, y = _batch()
    logits = logits.double()
    margins = logits - logits.gather(1, y[:, None])
    u = margins.exp().sum(1) - 1  # sum over y' != y (the y' = y term is exp(0) = 1)
    torch.testing.assert_close(comp_sum_loss(logits, y, tau, "none"), phi_tau(u, tau))


def test_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        comp_sum_loss(*_batch(), 1.0, reduction="max")


@pytest.mark.parametrize("tau", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("true_is", ["argmax", "argmin"])
def test_finite_at_huge_logits(tau, true_is):
    logits, _ = _batch(scale=1e4)
    y = logits.argmax(1) if true_is == "argmax" else logits.argmin(1)
    logits.requires_grad_(True)
    loss = comp_sum_loss(logits, y, tau)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("tau", [0.0, 0.5])
@pytest.mark.parametrize("scale", [1e2, 1e4, 1e30])
def test_never_nan_below_one(tau, scale):
    logits, y = _batch(scale=scale)
    loss = comp_sum_loss(logits, y, tau, "none")
    assert not torch.isnan(loss).any() and (loss >= 0).all()
    y_best = logits.argmax(1)  # correctly classified with a huge margin: the loss is ~0, not NaN
    assert torch.isfinite(comp_sum_loss(logits, y_best, tau, "none")).all()


@pytest.mark.parametrize("tau", [0.0, 0.5])
def test_gradient_finite_at_moderate_logits(tau):
    logits, y = _batch(scale=10.0)
    logits.requires_grad_(True)
    loss = comp_sum_loss(logits, y, tau)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
