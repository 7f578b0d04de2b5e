"""PRIME: Process Reinforcement through IMplicit rEwards (Cui et al. 2025, arXiv:2502.01456)."""
