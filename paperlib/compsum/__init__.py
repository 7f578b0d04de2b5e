"""Comp-sum losses and their adversarial variant, from Mao, Mohri, Zhong,
"Cross-Entropy Loss Functions: Theoretical Analysis and Applications", ICML 2023 (arXiv 2304.07288).
"""
from .adversarial import (adv_comp_sum_loss, clean_accuracy, pgd_attack, pgd_training_loss, robust_accuracy,
                          trades_loss)
from .losses import comp_sum_loss, phi_tau
from .module import METHODS, CompSumClassifier

__all__ = ["comp_sum_loss", "phi_tau", "pgd_attack", "robust_accuracy", "clean_accuracy", "adv_comp_sum_loss",
           "trades_loss", "pgd_training_loss", "CompSumClassifier", "METHODS"]
