"""PGD, robust evaluation and the adversarial training objectives (arXiv 2304.07288, Section 6)."""
import pytest
import torch
import torch.nn.functional as F

from paperlib.compsum import (CompSumClassifier, adv_comp_sum_loss, clean_accuracy, comp_sum_loss, pgd_attack,
                              pgd_robust_examples, pgd_training_loss, robust_accuracy, trades_loss)
from paperlib.nn import MLP
from paperlib.training import TensorDataModule, make_trainer, seed_everything

EPS, STEP = 0.1, 0.03


def _two_class(n=1024, dim=20, seed=0, shift=0.08, noise=0.2):
    """Two overlapping classes in [0, 1]^dim separated along one direction: learnable (but not
    perfectly, so eps = 0 vs clean accuracy is a real check), and breakable at EPS."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.5 + shift * (2 * y[:, None] - 1).float() + noise * torch.randn(n, dim, generator=g)
    return x.clamp(0, 1), y


@pytest.fixture(scope="module")
def trained():
    """A small MLP trained a few hundred steps, so a broken attack would fail to lower its accuracy."""
    seed_everything(0)
    x, y = _two_class()
    net = MLP(x.shape[1], (32,), 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for i in range(300):
        idx = torch.randint(0, len(x), (128,))
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    return net, *_two_class(n=512, seed=1)


@pytest.mark.parametrize("objective", ["ce", "kl", "logit_l2"])
def test_pgd_stays_in_ball_and_box(trained, objective):
    net, x, y = trained
    x_adv = pgd_attack(net, x, y, EPS, STEP, 5, objective=objective, generator=torch.Generator().manual_seed(0))
    assert (x_adv - x).abs().max() <= EPS + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert not x_adv.requires_grad and (x_adv != x).any()


@pytest.mark.parametrize("objective", ["ce", "kl", "logit_l2"])
def test_pgd_eps0_or_no_steps_returns_x(trained, objective):
    net, x, y = trained
    assert torch.equal(pgd_attack(net, x, y, 0.0, STEP, 5, objective=objective), x)
    assert torch.equal(pgd_attack(net, x, y, EPS, STEP, 0, objective=objective), x)


def test_pgd_restores_mode_and_leaves_no_parameter_grads(trained):
    net, x, y = trained
    net.train()
    net.zero_grad(set_to_none=True)
    pgd_attack(net, x, y, EPS, STEP, 3)
    assert net.training and all(p.grad is None for p in net.parameters())
    net.eval()
    pgd_attack(net, x, y, EPS, STEP, 3)
    assert not net.training
    with pytest.raises(ValueError, match="objective"):
        pgd_attack(net, x, y, EPS, STEP, 3, objective="l1")


def test_attack_lowers_accuracy_and_robust_accuracy_is_consistent(trained):
    net, x, y = trained
    clean = clean_accuracy(net, x, y)
    gen = lambda: torch.Generator().manual_seed(0)
    robust = [robust_accuracy(net, x, y, EPS, STEP, k, batch_size=200, generator=gen()) for k in (0, 1, 5, 10, 20)]
    assert 0.85 < clean < 1
    assert robust[-1] < clean - 0.2  # the attack really works
    assert all(r <= clean for r in robust)
    assert all(b <= a for a, b in zip(robust, robust[1:]))  # more steps never help the model
    assert robust_accuracy(net, x, y, 0.0, STEP, 10) == clean
    adv_acc = clean_accuracy(net, pgd_attack(net, x, y, EPS, STEP, 20), y)
    assert adv_acc < clean - 0.2


def test_objectives_reduce_and_have_finite_gradients(trained):
    net, x, y = trained
    x, y = x[:64], y[:64]
    torch.testing.assert_close(trades_loss(net, x, y, 0.0, EPS, STEP, 3), F.cross_entropy(net(x), y))
    torch.testing.assert_close(adv_comp_sum_loss(net, x, y, 1.5, 0.0, EPS, STEP, 3), comp_sum_loss(net(x), y, 1.5))
    losses = [adv_comp_sum_loss(net, x, y, 1.5, 1.0, EPS, STEP, 3), adv_comp_sum_loss(net, x, y, 0.5, 1.0, 0.0, STEP, 3),
              trades_loss(net, x, y, 6.0, EPS, STEP, 3), pgd_training_loss(net, x, y, EPS, STEP, 3)]
    for loss in losses:
        grads = torch.autograd.grad(loss, list(net.parameters()))
        assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)
    # The adversarial terms are non-negative, so each objective is at least its clean part.
    assert losses[0] >= comp_sum_loss(net(x), y, 1.5) and losses[2] >= F.cross_entropy(net(x), y)


def test_module_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        CompSumClassifier(MLP(2, (4,), 2), method="mart")


@pytest.mark.parametrize("method", ["comp_sum", "adv_comp_sum", "trades", "pgd"])
def test_module_trains_one_epoch_above_chance(method):
    seed_everything(0)
    (x, y), (xv, yv) = _two_class(n=2048, shift=0.2, noise=0.06), _two_class(n=256, seed=1, shift=0.2, noise=0.06)
    module = CompSumClassifier(MLP(x.shape[1], (32,), 2), method=method, tau=1.5, nu=0.5, beta=1.0,
                               epsilon=0.02, step_size=0.01, attack_steps=2, lr=1e-2)
    make_trainer(max_epochs=1).fit(module, datamodule=TensorDataModule((x, y), (xv, yv), batch_size=32))
    assert len(module.history) == 1 and module.history[0] > 0
    assert clean_accuracy(module, xv, yv) > 0.75
    assert module.hparams.method == method and "net" not in module.hparams


def test_margin_attack_is_at_least_as_strong_as_its_start_and_counts_like_robust_accuracy(trained):
    net, x, y = trained
    gen = lambda: torch.Generator().manual_seed(0)
    mask = pgd_robust_examples(net, x, y, EPS, STEP, 10, gen(), objective="margin")
    assert mask.dtype == torch.bool and mask.float().mean().item() == pytest.approx(
        robust_accuracy(net, x, y, EPS, STEP, 10, generator=gen(), objective="margin"))
    assert mask.float().mean() < clean_accuracy(net, x, y) - 0.2
    assert torch.equal(pgd_robust_examples(net, x, y, 0.0, STEP, 10, objective="margin"), net(x).argmax(1) == y)
    with pytest.raises(ValueError, match="'ce' or 'margin'"):
        pgd_robust_examples(net, x, y, EPS, STEP, 10, objective="kl")


def test_early_stopping_keeps_and_restores_the_best_validation_epoch(one_torch_thread):
    seed_everything(0)
    (x, y), (xv, yv) = _two_class(n=1024, shift=0.2, noise=0.06), _two_class(n=256, seed=1, shift=0.2, noise=0.06)
    module = CompSumClassifier(MLP(x.shape[1], (32,), 2), method="pgd", epsilon=0.02, step_size=0.01, attack_steps=2,
                               lr=1e-2, val_attack_steps=3, val_step_size=0.01, keep_best=True)
    make_trainer(max_epochs=3, inference_mode=False).fit(
        module, datamodule=TensorDataModule((x, y), (xv, yv), batch_size=64))
    hist = module.val_history
    assert [h["epoch"] for h in hist] == [1, 2, 3] and all(h["val_robust"] <= h["val_acc"] for h in hist)
    best = max(hist, key=lambda h: h["val_robust"])  # the first of equal values
    assert module.best_epoch == best["epoch"]
    last = {k: v.clone() for k, v in module.net.state_dict().items()}
    module.restore_best()
    restored = module.net.state_dict()
    assert all(torch.equal(restored[k], module.best_state[k]) for k in restored)
    if module.best_epoch != 3:  # the restored weights are not the last epoch's
        assert any(not torch.equal(restored[k], last[k]) for k in restored)
    # the validation attack draws from its own generator: training with validation on or off is the same
    seed_everything(0)
    plain = CompSumClassifier(MLP(x.shape[1], (32,), 2), method="pgd", epsilon=0.02, step_size=0.01, attack_steps=2,
                              lr=1e-2)
    make_trainer(max_epochs=3).fit(plain, datamodule=TensorDataModule((x, y), None, batch_size=64))
    assert all(torch.equal(plain.net.state_dict()[k], last[k]) for k in last)


def test_augmentation_changes_the_training_batches_only(one_torch_thread):
    seed_everything(0)
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 2, (64,))
    module = CompSumClassifier(MLP(64, (8,), 2), augment=True)
    seen = []
    module.objective = lambda xb, yb: (seen.append(xb), module.net(xb).sum() * 0)[1]
    module.training_step((x, y), 0)
    assert seen[0].shape == x.shape and not torch.equal(seen[0], x)
