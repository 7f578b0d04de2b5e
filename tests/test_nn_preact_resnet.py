"""PreAct ResNet-18 (paperlib.nn.preact_resnet): the shapes and size of the CIFAR network."""
import torch

from paperlib.nn import preact_resnet18


def test_shapes_and_parameter_count():
    torch.manual_seed(0)
    net = preact_resnet18(10)
    # 11,172,170 parameters: the CIFAR-10 PreAct ResNet-18 of the adversarial-training literature
    assert sum(p.numel() for p in net.parameters()) == 11_172_170
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert preact_resnet18(100)(torch.rand(2, 3, 32, 32)).shape == (2, 100)
    assert preact_resnet18(10, in_channels=1)(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    stages = [m for m in net.layers]
    assert len(stages) == 8 and [b.conv1.stride[0] for b in stages] == [1, 1, 2, 1, 2, 1, 2, 1]
    assert stages[0].shortcut is None and stages[2].shortcut is not None


def test_normalisation_is_inside_the_model_and_gradients_reach_the_input():
    torch.manual_seed(0)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    plain, normed = preact_resnet18(10), preact_resnet18(10, mean=mean, std=std)
    state = {k: v for k, v in plain.state_dict().items() if k not in ("mean", "std")}
    normed.load_state_dict(state, strict=False)  # same weights; mean and std are the normalised one's buffers
    assert torch.equal(normed.mean.flatten(), torch.tensor(mean))
    plain.eval(), normed.eval()
    x = torch.rand(3, 3, 32, 32, requires_grad=True)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(normed(x), plain((x - m) / s))
    normed(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
