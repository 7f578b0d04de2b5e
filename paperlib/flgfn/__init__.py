"""Forward-looking GFlowNets, from Ling Pan, Nikolay Malkin, Dinghuai Zhang, Yoshua Bengio, *Better Training of
GFlowNets with Local Credit and Incomplete Trajectories*, ICML 2023 (PMLR 202:26878-26890,
[arXiv:2302.01687](https://arxiv.org/abs/2302.01687)); official code: https://github.com/ling-pan/FL-GFN
(read at commit b777e17: ``set/gflownet.py`` for the set task, DB, TB and FL-DB; ``mols/`` for molecules).

The method: ``envs`` (a hypergrid with an additive energy and set generation with per-element energies, both
enumerated), ``losses`` (DB, FL-DB, TB, SubTB on per-transition tensors), ``sampler`` (the network, sampling
with exploration, incomplete trajectories, the exact terminal distribution). The paper's experiments:
``experiment`` (runs over seeds) and ``claims`` (the per-seed numbers the claims are judged on).
"""
from .envs import DagEnv, hypergrid, make_env, set_generation
from .losses import db_residual, fl_db_residual, subtb_loss, tb_residual
from .sampler import METHODS, GFlowNet, l1_error, loss, sample, terminal_distribution, truncate

__all__ = ["DagEnv", "hypergrid", "set_generation", "make_env", "db_residual", "fl_db_residual", "tb_residual",
           "subtb_loss", "METHODS", "GFlowNet", "sample", "truncate", "loss", "terminal_distribution", "l1_error"]
