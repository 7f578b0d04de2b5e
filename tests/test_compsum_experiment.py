"""The comp-sum runs (paperlib.compsum.experiment): one job gives the same numbers every time, in this
process or in a worker; the full profile's set-up (PreAct ResNet-18, SGD, crop and flip, PGD-10, early
stopping) builds and trains one tiny step on CPU on fake CIFAR-shaped tensors (no download)."""
import dataclasses

import pytest
import torch

from paperlib.compsum import experiment as ex

LOAD_IMAGES = ex.load_images  # before any test replaces it

TINY_MIX = dataclasses.replace(ex.MIXTURE_SETUPS["smoke"], train_per_class=10, epochs=2)
TINY_ADV = dataclasses.replace(ex.ADVERSARIAL_SETUPS["fmnist-mlp-smoke"], n_train=128, n_val=64, n_test=64,
                               hidden=(16,), epochs=2, batch_size=32, eval_steps=3)


def _fake_images(n_train=96, n_test=32, classes=10, shape=(3, 32, 32), seed=0):
    g = torch.Generator().manual_seed(seed)
    mk = lambda n: (torch.rand(n, *shape, generator=g), torch.arange(n) % classes)
    return {"train": mk(n_train), "test": mk(n_test)}


@pytest.fixture
def fake_fashion(monkeypatch):
    images = _fake_images(shape=(1, 28, 28), n_train=256)
    monkeypatch.setattr(ex, "load_images", lambda dataset: images)
    return images


def test_mixture_job_is_repeatable_and_reports_what_it_ran(one_torch_thread):
    a = ex.mixture_job(10, 3, 1.5, 0.1, TINY_MIX, {})
    b = ex.mixture_job(10, 3, 1.5, 0.1, TINY_MIX, {})
    assert {k: v for k, v in a.items() if k != "wall_s"} == {k: v for k, v in b.items() if k != "wall_s"}
    assert (a["classes"], a["seed"], a["tau"], a["lr"]) == (10, 3, 1.5, 0.1)
    assert len(a["train_loss_curve"]) == 2 and a["train_loss_curve"][1] < a["train_loss_curve"][0]
    assert 0.1 < a["test_acc"] <= 1 and not a["diverged"]


def test_arms_and_splits(fake_fashion):
    names = [a.name for a in ex.arms([0.5, 1], [6, 12], {"pgd": 1e-3, "trades": 3e-3, "adv_comp_sum": 1e-3})]
    assert names == ["pgd", "trades beta=6", "trades beta=12", "adv-comp-sum nu=0.5", "adv-comp-sum nu=1"]
    arm = ex.arms([], [6], {"pgd": 1, "trades": 3e-3, "adv_comp_sum": 1})[1]
    assert (arm.family, arm.method, arm.lr, arm.beta) == ("trades", "trades", 3e-3, 6.0)
    s0, s0b, s1 = (ex.adversarial_splits(TINY_ADV, s, fake_fashion) for s in (0, 0, 1))
    assert torch.equal(s0["train"][0], s0b["train"][0]) and not torch.equal(s0["train"][0], s1["train"][0])
    assert torch.equal(s0["test"][0], s1["test"][0])  # the test images are the same for every seed
    tr, va = set(map(tuple, s0["train"][0].flatten(1)[:, :4].tolist())), set(map(tuple, s0["val"][0].flatten(1)[:, :4].tolist()))
    assert not tr & va and len(s0["train"][0]) == 128 and len(s0["val"][0]) == 64
    with pytest.raises(ValueError, match="exceeds"):
        ex.adversarial_splits(dataclasses.replace(TINY_ADV, n_train=250), 0, fake_fashion)
    with pytest.raises(ValueError, match="dataset must be one of"):
        LOAD_IMAGES("imagenet")


def test_adversarial_job_is_repeatable_keeps_the_best_epoch_and_checks_itself(fake_fashion, one_torch_thread):
    arm = ex.Arm("trades beta=6", "trades", 3e-3, beta=6.0)
    a = ex.adversarial_job(arm, 0, TINY_ADV, {}, sanity=True)
    b = ex.adversarial_job(arm, 0, TINY_ADV, {})
    for k in ("test_clean", "test_robust", "val_clean", "val_robust", "best_epoch", "train_loss_curve"):
        assert a[k] == b[k], k
    assert a["best_epoch"] == max(a["val_curve"], key=lambda v: v["val_robust"])["epoch"]
    assert 0 <= a["test_robust"] <= a["test_clean"] <= 1
    s = a["sanity"]
    assert s["eps0_minus_clean"] == 0 and s["robust_minus_clean"] <= 0 and s["n"] == 32  # the fake test split


@pytest.mark.slow
def test_worker_processes_give_the_numbers_of_this_process():
    """Two spawned workers (one thread each) reproduce an in-process run exactly (real Fashion-MNIST)."""
    pytest.importorskip("torchattacks")
    from paperlib.data.fashion_mnist import SYSTEM_FASHION_DIR
    if not SYSTEM_FASHION_DIR.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    arm_list = ex.arms([1.0], [6.0], {"pgd": 1e-3, "trades": 3e-3, "adv_comp_sum": 1e-3})[1:]
    here = ex.run_adversarial_study(TINY_ADV, [0], arm_list, {}, workers=1, log=lambda m: None)
    there = ex.run_adversarial_study(TINY_ADV, [0], arm_list, {}, workers=2, log=lambda m: None)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_s")} for r in rows]
    assert strip(here) == strip(there)


def test_full_profile_builds_and_trains_one_step_on_cpu(monkeypatch, one_torch_thread):
    """The paper's set-up (adv_setup 'paper') on fake CIFAR-10-shaped tensors: PreAct ResNet-18, SGD at
    0.1 with cosine schedule and weight decay, crop and flip, PGD-10 at 8/255 inside TRADES, one training
    batch and one validation batch with the PGD-margin validation attack; the weights move."""
    images = _fake_images(n_train=48, n_test=8)
    monkeypatch.setattr(ex, "load_images", lambda dataset: images)
    paper = ex.ADVERSARIAL_SETUPS["paper"]
    assert (paper.model, paper.optimizer, paper.lr if hasattr(paper, "lr") else 0.1, paper.weight_decay, paper.cosine,
            paper.augment, paper.train_attack_steps, paper.eval_suite) == (
        "preact_resnet18", "sgd", 0.1, 5e-4, True, True, 10, "autoattack")
    assert paper.epsilon == pytest.approx(8 / 255) and paper.train_step_size == pytest.approx(2 / 255)
    study = dataclasses.replace(paper, n_train=32, n_val=8, n_test=8, epochs=1, batch_size=16, val_attack_steps=2)
    splits = ex.adversarial_splits(study, 0)
    arm = ex.Arm("trades beta=6", "trades", 0.1, beta=6.0)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in ex.make_net(study, (3, 32, 32), 10).state_dict().items()}
    module = ex.train_arm(arm, 0, study, splits, {"extra": {"limit_train_batches": 1, "limit_val_batches": 1}})
    net = module.net
    assert type(net).__name__ == "PreActResNet" and torch.equal(net.mean, torch.tensor(
        [0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
    assert module.hparams.optimizer == "sgd" and module.hparams.augment and module.hparams.attack_steps == 10
    assert len(module.history) == 1 and torch.isfinite(torch.tensor(module.history[0]))
    assert module.best_epoch == 1 and len(module.val_history) == 1
    changed = [k for k, v in net.state_dict().items() if k in before and v.dtype.is_floating_point
               and not torch.equal(v, before[k])]
    assert any("conv" in k for k in changed)  # the weights trained
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
