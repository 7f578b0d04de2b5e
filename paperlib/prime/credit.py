"""Process-level credit (claim C3): does the lowest-scoring step of a wrong solution locate its
first wrong step?

Held-out worked solutions come from the task generator with one or more forgotten carries, so the
first wrong step is known. Each solution is scored per token by

* the implicit PRM: q_t = log pi_phi - log pi_ref (paper Eq. 3);
* the frozen SFT model alone: log pi_ref(y_t) (its lowest-probability step);
* an RL policy's log-ratio against the SFT model: log pi_theta - log pi_ref (no PRM training);

token scores are summed per step (the paper's step-level reward: the sum of q over the step's
tokens) and the step with the lowest score is the located error.
"""
from __future__ import annotations

import numpy as np
import torch

from ..nn.gpt import GPT, response_log_probs
from ..data import arithmetic


def wrong_solutions(n: int, seed: int, min_terms: int, max_terms: int, max_digits: int, p_slip: float = 0.0,
                    width: int = 0, min_digits: int = 1, p_error: float = 0.0):
    """``n`` generated solutions with at least one error (first wrong step known): forgotten carries
    (``p_slip``) or errors of several kinds (``p_error``, as in the SFT data)."""
    out, s = [], seed
    while len(out) < n:
        out += [p for p in arithmetic.sample_problems(4 * n, s, min_terms, max_terms, max_digits, p_slip, width,
                                                    min_digits=min_digits, p_error=p_error)
                if p.first_error is not None]
        s += 1
    return out[:n]


def encode_with_responses(problems, device="cpu"):
    """Left-padded prompts followed by the given solutions (+ EOS), right-padded."""
    return arithmetic.encode_batch([p.prompt for p in problems], [p.solution for p in problems], device)


@torch.no_grad()
def token_log_probs(model: GPT, tokens, mask, prompt_len: int):
    model.eval()
    return response_log_probs(model, tokens, mask, prompt_len)


def lowest_step_hits(token_scores: torch.Tensor, tokens: torch.Tensor, prompt_len: int, problems) -> np.ndarray:
    """1 where the step with the lowest summed score is the problem's first wrong step."""
    hits = []
    for i, p in enumerate(problems):
        resp = tokens[i, prompt_len:].tolist()
        spans = arithmetic.step_spans(resp)
        step_scores = [float(token_scores[i, a:b].sum()) for a, b in spans]
        hits.append(int(int(np.argmin(step_scores)) == p.first_error))
    return np.array(hits)


def localisation_rates(problems, ref: GPT, prm: GPT | None = None, policy: GPT | None = None) -> dict:
    """Hit rates of each scorer on ``problems`` (and the chance rate: 1 / number of steps)."""
    tokens, mask, P = encode_with_responses(problems)
    ref_lp = token_log_probs(ref, tokens, mask, P)
    out = {"sft_logprob": float(lowest_step_hits(ref_lp, tokens, P, problems).mean()),
           "chance": float(np.mean([1.0 / (len(p.steps) + 1) for p in problems]))}
    if prm is not None:
        out["implicit_prm"] = float(lowest_step_hits(token_log_probs(prm, tokens, mask, P) - ref_lp, tokens, P, problems).mean())
    if policy is not None:
        out["policy_logratio"] = float(lowest_step_hits(token_log_probs(policy, tokens, mask, P) - ref_lp, tokens, P, problems).mean())
    return out
