"""PreAct ResNet-18 (He, Zhang, Ren, Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016), the
CIFAR variant used throughout the adversarial-training literature (e.g. Rice, Wong, Kolter, "Overfitting in
adversarially robust deep learning", ICML 2020, preactresnet.py): a 3x3 stem, four stages of two
pre-activation basic blocks (64, 128, 256, 512 channels, strides 1, 2, 2, 2), BN-ReLU, global average
pooling and a linear head. Inputs are images in [0, 1]; the optional per-channel ``mean`` / ``std`` are
applied inside the model so that attacks work in pixel space.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut (a 1x1 conv of the pre-activation where the shape changes)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.shortcut = (nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
                         if stride != 1 or in_planes != planes else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet(nn.Module):
    def __init__(self, num_blocks: Sequence[int] = (2, 2, 2, 2), num_classes: int = 10, in_channels: int = 3,
                 width: int = 64, mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        c = in_channels
        self.register_buffer("mean", torch.tensor(mean if mean is not None else [0.0] * c).view(1, c, 1, 1))
        self.register_buffer("std", torch.tensor(std if std is not None else [1.0] * c).view(1, c, 1, 1))
        self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
        layers, in_planes = [], width
        for i, n in enumerate(num_blocks):
            planes = width * 2 ** i
            for j in range(n):
                layers.append(PreActBlock(in_planes, planes, stride=(1 if i == 0 or j > 0 else 2)))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(in_planes)
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(self.conv1((x - self.mean) / self.std))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)
        return self.linear(out)


def preact_resnet18(num_classes: int = 10, in_channels: int = 3, **kwargs) -> PreActResNet:
    """PreAct ResNet-18 (11.2M parameters at 10 classes)."""
    return PreActResNet((2, 2, 2, 2), num_classes, in_channels, **kwargs)
