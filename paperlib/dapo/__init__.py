"""DAPO: Direct Advantage Policy Optimization (Liu, Wang, Liu, Zeng, Yan, Sun, Liu, Zhou 2024,
"Improving Multi-Step Reasoning Abilities of Large Language Models with Direct Advantage Policy
Optimization", arXiv:2412.18279). No official code was found.

Step-level offline RL in two stages that never train together:

A. ``rollouts``: reasoning states (prompt + the first t steps) from solutions of the reference policy,
   each completed several times by the same policy; the share of correct completions is a Monte-Carlo
   estimate of the state's value, and ``critic`` is trained on it (the probability that a partial
   solution ends correct);
B. ``objective``: each sampled next step a from state s gets the critic's advantage
   A(s, a) = V(s + a) - V(s) (the verifier's reward when a ends the solution), and the actor, starting
   from the reference policy, minimises the squared distance between its step log-ratio and A / beta.

``experiment`` runs the arms (the SFT policy, DPO on outcome-labelled pairs, DAPO, and the positive
control: DAPO with the task's oracle step labels) over seeds.
"""
from .critic import Critic
from .objective import dapo_loss, dpo_loss

__all__ = ["Critic", "dapo_loss", "dpo_loss"]
