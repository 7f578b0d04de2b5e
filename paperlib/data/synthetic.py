"""Synthetic classification problems with a known Bayes accuracy.

Used for the comp-sum paper's claim that the comp-sum losses' H-consistency bounds depend on the number of
classes (arXiv 2304.07288, Section 4): a 10-class and a 100-class problem must be equally hard for the Bayes
classifier so that differences between losses come from the number of classes, not from the noise.
"""
from __future__ import annotations

import math

import numpy as np
import torch

MC_DRAWS = 20_000  # Monte-Carlo draws for calibrating and for estimating the Bayes accuracy


def _nearest_mean_thresholds(z: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """For each draw x = s z_y + e, the scale s* above which the nearest mean is z_y's.

    ||x - s z_y||^2 < ||x - s z_c||^2  <=>  s > -2 (z_y - z_c).e / ||z_y - z_c||^2, for every c != y, so
    nearest-mean accuracy is exactly P(s > s*): monotone in s.
    """
    proj = noise @ z.T  # e . z_c
    gram = z @ z.T
    sq = gram.diag()
    dist2 = sq[labels, None] + sq[None, :] - 2 * gram[labels]  # ||z_y - z_c||^2
    t = -2 * (proj.gather(1, labels[:, None]) - proj) / dist2.clamp_min(1e-12)
    t.scatter_(1, labels[:, None], -math.inf)
    return t.max(1).values


def gaussian_mixture(n_classes: int, dim: int, n_train_per_class: int, n_val_per_class: int, n_test_per_class: int,
                     bayes_accuracy: float = 0.8, seed: int = 0) -> dict:
    """Classes N(mu_c, I) with mu_c = scale * z_c, z_c ~ N(0, I/dim), equal priors.

    The Bayes classifier is nearest-mean; ``scale`` is set so that its accuracy is ``bayes_accuracy``.
    Accuracy is monotone in the scale, so the bisection solution is exactly a quantile of per-draw
    thresholds (see :func:`_nearest_mean_thresholds`), computed on ``MC_DRAWS`` fixed draws.
    Draws come from a generator derived from ``seed`` (independent of ``torch.manual_seed(seed)``).
    Returns train/val/test (x float32 (N, dim), y int64) pairs, "means" (C, dim), "scale" and
    "bayes_accuracy": a fresh, independent Monte-Carlo estimate of the achieved Bayes accuracy.
    """
    if not 1.0 / n_classes < bayes_accuracy < 1.0:
        raise ValueError(f"bayes_accuracy must lie in (1/n_classes, 1), got {bayes_accuracy}")
    # The mixture's own stream, derived from (seed, a tag) rather than ``seed`` itself: torch.manual_seed(s)
    # and torch.Generator().manual_seed(s) give the same numbers, so a model initialised after
    # seed_everything(seed) had weights that were a function of the class means (a freshly initialised
    # linear model scored about 2% on 10 classes, far below chance).
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 0x6D6978]).generate_state(1)[0]))
    z = torch.randn(n_classes, dim, generator=g) / math.sqrt(dim)

    def draws(n):
        labels = torch.arange(n) % n_classes
        return labels, torch.randn(n, dim, generator=g)

    scale = torch.quantile(_nearest_mean_thresholds(z, *draws(MC_DRAWS)), bayes_accuracy).item()
    achieved = (_nearest_mean_thresholds(z, *draws(MC_DRAWS)) < scale).float().mean().item()
    means = scale * z

    def split(n_per_class):
        y = torch.arange(n_classes).repeat_interleave(n_per_class)
        y = y[torch.randperm(len(y), generator=g)]
        return means[y] + torch.randn(len(y), dim, generator=g), y

    return {"train": split(n_train_per_class), "val": split(n_val_per_class), "test": split(n_test_per_class),
            "means": means, "scale": scale, "bayes_accuracy": achieved}
