"""Comp-sum losses and their adversarial variant, from Mao, Mohri, Zhong,
"Cross-Entropy Loss Functions: Theoretical Analysis and Applications", ICML 2023 (arXiv 2304.07288).

The method: ``losses`` (the comp-sum family, Eq. (1)), ``adversarial`` (PGD, the smooth adversarial comp-sum
loss, TRADES, PGD training), ``module`` (one LightningModule for every objective), ``robustness`` (robust
accuracy under AutoAttack and its parts). The paper's experiments: ``experiment`` (runs over seeds) and
``claims`` (the per-seed numbers the claims are judged on).
"""
from .adversarial import (adv_comp_sum_loss, clean_accuracy, pgd_attack, pgd_robust_examples, pgd_training_loss,
                          robust_accuracy, trades_loss)
from .losses import comp_sum_loss, phi_tau
from .module import METHODS, CompSumClassifier

__all__ = ["comp_sum_loss", "phi_tau", "pgd_attack", "robust_accuracy", "pgd_robust_examples", "clean_accuracy",
           "adv_comp_sum_loss", "trades_loss", "pgd_training_loss", "CompSumClassifier", "METHODS"]
