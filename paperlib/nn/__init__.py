"""Shared networks."""
from .cnn import SmallCNN
from .mlp import MLP

__all__ = ["MLP", "SmallCNN"]
