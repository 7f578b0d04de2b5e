"""Shared networks."""
from .cnn import SmallCNN
from .mlp import MLP
from .preact_resnet import PreActResNet, preact_resnet18

__all__ = ["MLP", "SmallCNN", "PreActResNet", "preact_resnet18"]
