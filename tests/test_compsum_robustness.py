"""Robust accuracy under AutoAttack and its parts (paperlib.compsum.robustness, through torchattacks)."""
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("torchattacks")

from paperlib.compsum import clean_accuracy, robust_accuracy  # noqa: E402
from paperlib.compsum.robustness import SUITES, robust_accuracy_under, robust_examples  # noqa: E402
from paperlib.nn import MLP  # noqa: E402
from paperlib.training import seed_everything  # noqa: E402

EPS = 0.1


def _four_class(n=600, seed=0):
    """Four overlapping classes of 1x4x5 'images' in [0, 1]: learnable, not perfectly, and breakable at EPS
    (torchattacks expects (N, C, H, W) inputs; its targeted DLR loss needs at least 4 classes)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    centres = 0.5 + 0.15 * torch.tensor([[1.0] * 10 + [0.0] * 10, [-1.0] * 10 + [0.0] * 10,
                                         [0.0] * 10 + [1.0] * 10, [0.0] * 10 + [-1.0] * 10])
    x = centres[y] + 0.12 * torch.randn(n, 20, generator=g)
    return x.clamp(0, 1).view(n, 1, 4, 5), y


@pytest.fixture(scope="module")
def trained():
    seed_everything(0)
    torch.set_num_threads(1)
    x, y = _four_class()
    net = MLP(20, (32,), 4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(300):
        idx = torch.randint(0, len(x), (128,))
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    return net.eval(), *_four_class(n=300, seed=1)


def test_epsilon_zero_gives_clean_accuracy_with_the_attacks_running(trained):
    net, x, y = trained
    clean = clean_accuracy(net, x, y)
    assert 0.7 < clean < 1
    for suite in ("apgd-ce", "apgd-ce+apgd-t"):
        mask = robust_examples(net, x, y, 0.0, suite, steps=5)
        assert torch.equal(mask, net(x).argmax(1) == y)


def test_more_attacks_never_raise_robust_accuracy_and_robust_is_at_most_clean(trained):
    net, x, y = trained
    clean_mask = net(x).argmax(1) == y
    ce = robust_examples(net, x, y, EPS, "apgd-ce", steps=10, batch_size=128)
    both = robust_examples(net, x, y, EPS, "apgd-ce+apgd-t", steps=10, batch_size=128)
    assert both.dtype == torch.bool and len(both) == len(y)
    assert not (both & ~ce).any()  # an example robust to the pair is robust to its first attack
    assert not (ce & ~clean_mask).any()
    assert both.float().mean() < clean_mask.float().mean() - 0.2  # the attacks really work
    # APGD is at least as strong as a single-start PGD-20 with the same budget order of magnitude
    pgd20 = robust_accuracy(net, x, y, EPS, EPS / 10, 20, generator=torch.Generator().manual_seed(0))
    assert both.float().mean().item() <= pgd20 + 0.02


def test_same_seed_same_result_and_model_mode_restored(trained):
    net, x, y = trained
    net.train()
    a = robust_examples(net, x, y, EPS, "apgd-ce+apgd-t", steps=5, seed=3)
    assert net.training
    net.eval()
    b = robust_examples(net, x, y, EPS, "apgd-ce+apgd-t", steps=5, seed=3)
    assert torch.equal(a, b)
    assert robust_accuracy_under(net, x, y, EPS, "apgd-ce+apgd-t", steps=5, seed=3) == pytest.approx(a.float().mean().item())


def test_full_autoattack_runs_and_is_no_weaker(trained):
    net, x, y = trained
    x, y = x[:60], y[:60]
    aa = robust_examples(net, x, y, EPS, "autoattack", steps=5, square_queries=50)
    part = robust_examples(net, x, y, EPS, ("apgd-ce",), steps=5)
    assert not (aa & ~part).any()
    assert set(SUITES["autoattack"]) == {"apgd-ce", "apgd-t", "fab-t", "square"}


def test_unknown_suite_is_an_error(trained):
    net, x, y = trained
    with pytest.raises(ValueError, match="unknown attack suite"):
        robust_examples(net, x, y, EPS, "pgd-1000")
