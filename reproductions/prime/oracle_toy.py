"""Can a perfect process reward speed RL up at all, under PRIME's own advantage estimator? A toy with the
decision structure of our chain-sum task, run through the real ``paperlib.rl.rloo_returns`` (PRIME's
``compute_rloo_returns``: per-source leave-one-out, then returns by a reverse cumulative sum, gamma 1).

Why: the pilot (``pilot.json``) found the oracle-PRM control no faster than outcome-only RLOO (first-hit ratio
1.01 on tuning seed 100, at every policy learning rate), so C1 cannot be assessed in that set-up. This script
asks, without training a GPT, whether the estimator and the optimiser leave room for the effect.

The toy: a rollout is ``n_steps`` worked steps of ``tokens_per_step`` tokens; the last token of each step is a
decision that is wrong with probability sigmoid(theta[c]), c the step's context (one of 64, as the digit pairs
and carries of a step; drawn per prompt; difficulties fixed, mostly easy, a few hard, the mean set so that the
starting accuracy is 0.3). Every other token is deterministic. Parameterisations: ``context`` (one logit per
context) and ``features`` (logit = base[c] + phi[c] . w, a 16-dimensional w shared by all contexts, as weights
shared by a network). The outcome reward is 1 on the last token when no step is wrong (with probability ``q``
also when one is: a verifier false positive, e.g. a right answer after wrong steps); the oracle's is -1 on the
last token of the first wrong step (``paperlib.prime.trainer.oracle_rewards``). Arms: ``rloo`` (outcome only),
``oracle`` (outcome + oracle through the return-to-go, the notebook's oracle arm), ``oracle_local`` (the oracle
reward credited to its own token only, gamma 0: *not* PRIME's estimator, a reference). Per RL step: 16 prompts
x 4 rollouts, PRIME's accuracy filter [0.2, 0.8] (up to 3 generation rounds), advantages whitened over the
batch's tokens, one policy-gradient step on the token-mean loss with Adam (as PRIME) or plain SGD.

Reported: for each set-up and each learning rate of a small grid (every arm the same rate), the median over
evaluation seeds of ``first_hit_ratio`` (an oracle arm's first-hit step of RLOO's final accuracy over RLOO's,
same seed) and each arm's final accuracy. No choice is made from these numbers.

    PYTHONPATH=. python reproductions/prime/oracle_toy.py [--seeds 6] [--out reproductions/prime/oracle_toy.json]

``--chains`` runs the second grid instead (``oracle_toy_chains.json``): does a longer chain or a lower starting
accuracy give the control room with an exact verifier? Both parameterisations with Adam, 256 contexts, chains of
6, 12 and 20 decisions, starting accuracy 0.1 and 0.3, false-positive rate 0 and 0.4, three learning rates each,
8 seeds.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from paperlib.prime.experiment import first_hit_ratio
from paperlib.rl import rloo_returns

ARMS = ("rloo", "oracle", "oracle_local")
SETUPS = [  # (parameterisation, optimiser, learning rates, verifier false-positive rate)
    ("context", "adam", (0.01, 0.03, 0.1), 0.0),
    ("features", "adam", (0.01, 0.03, 0.1), 0.0),
    ("context", "sgd", (3.0, 10.0, 30.0), 0.0),
    ("features", "adam", (0.03, 0.1), 0.4),
]


def run(arm: str, lr: float, seed: int, params: str = "context", optimiser: str = "adam", q: float = 0.0,
        n_steps: int = 6, start_acc: float = 0.3, contexts: int = 64, dim: int = 16, steps: int = 100,
        batch_prompts: int = 16, n_samples: int = 4, tokens_per_step: int = 8) -> list[float]:
    """True training accuracy per RL step (all sampled rollouts, before the filter)."""
    g = torch.Generator().manual_seed(seed)
    task = torch.Generator().manual_seed(1000)  # the contexts' difficulties and features: one task for all runs
    p0 = 1.0 - start_acc ** (1.0 / n_steps)
    pc = torch.rand(contexts, generator=task) ** 3
    pc = (pc * p0 / pc.mean()).clamp(1e-4, 0.95)
    base = torch.log(pc / (1 - pc))
    phi = torch.randn(contexts, dim, generator=task) / dim ** 0.5
    w = (torch.zeros(dim) if params == "features" else base.clone()).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr) if optimiser == "adam" else torch.optim.SGD([w], lr=lr)
    L = n_steps * tokens_per_step
    dec = torch.arange(n_steps) * tokens_per_step + tokens_per_step - 1
    B = batch_prompts * n_samples
    curve = []
    for _ in range(steps):
        theta = base + phi @ w if params == "features" else w
        E, I, R, seen = [], [], [], []
        for _round in range(3):
            idx = torch.randint(contexts, (batch_prompts, 1, n_steps), generator=g).expand(-1, n_samples, -1)
            idx = idx.reshape(B, n_steps)
            err = torch.rand(B, n_steps, generator=g) < torch.sigmoid(theta.detach())[idx]
            correct = (~err.any(1)).float()
            seen.append(correct)
            reward = torch.where(torch.rand(B, generator=g) < q, torch.ones(B), correct)
            group = reward.view(-1, n_samples).mean(1)
            keep = ((group >= 0.2) & (group <= 0.8)).repeat_interleave(n_samples)
            E.append(err[keep]), I.append(idx[keep]), R.append(reward[keep])
            if sum(map(len, E)) >= B:
                break
        curve.append(float(torch.cat(seen).mean()))
        err, idx, reward = torch.cat(E)[:B], torch.cat(I)[:B], torch.cat(R)[:B]
        n = len(err)
        if n < n_samples:
            continue
        mask = torch.ones(n, L, dtype=torch.bool)
        outcome, last = torch.zeros(n, L), torch.zeros(n, L, dtype=torch.bool)
        outcome[:, -1], last[:, -1] = reward, True
        sources = [(outcome, last, 1.0)]
        if arm != "rloo":
            oracle = torch.zeros(n, L)
            wrong = err.any(1)
            first = err.float().argmax(1)
            oracle[wrong.nonzero().squeeze(1), dec[first[wrong]]] = -1.0
            sources.append((oracle, mask, 0.0 if arm == "oracle_local" else 1.0))
        adv, _ = rloo_returns(sources, mask, n_samples)
        logp = torch.where(err, torch.nn.functional.logsigmoid(theta[idx]), torch.nn.functional.logsigmoid(-theta[idx]))
        loss = -(adv[:, dec] * logp).sum() / (n * L)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return curve


CHAINS = dict(n_steps=(6, 12, 20), start_acc=(0.1, 0.3), q=(0.0, 0.4), contexts=256,
              lrs={"context": (0.01, 0.03, 0.1), "features": (0.03, 0.1, 0.3)})


def chains(seeds: int, out: str) -> None:
    """The ``--chains`` grid (module docstring)."""
    t0, rows = time.time(), []
    for params in ("context", "features"):
        for n_steps in CHAINS["n_steps"]:
            for start_acc in CHAINS["start_acc"]:
                for q in CHAINS["q"]:
                    for lr in CHAINS["lrs"][params]:
                        curves = {arm: [run(arm, lr, s, params, "adam", q, n_steps=n_steps, start_acc=start_acc,
                                            contexts=CHAINS["contexts"]) for s in range(seeds)] for arm in ARMS}
                        row = {"params": params, "n_steps": n_steps, "start_acc": start_acc,
                               "false_positive_rate": q, "lr": lr,
                               "final_acc": {arm: float(np.mean([np.mean(c[-10:]) for c in cs]))
                                             for arm, cs in curves.items()}}
                        for arm in ("oracle", "oracle_local"):
                            r = [first_hit_ratio(x, y, 10)["ratio"] for x, y in zip(curves[arm], curves["rloo"])]
                            row[f"{arm}_ratio_median"] = float(np.median(r))
                        rows.append(row)
                        print(f"[{time.time() - t0:4.0f} s] {params:8s} {n_steps:2d} steps, start {start_acc}, q {q}, "
                              f"lr {lr}: first-hit ratio oracle {row['oracle_ratio_median']:.2f}, local-credit "
                              f"{row['oracle_local_ratio_median']:.2f}", flush=True)
    exact = [r["oracle_ratio_median"] for r in rows if r["false_positive_rate"] == 0.0]
    noisy = [r["oracle_ratio_median"] for r in rows if r["false_positive_rate"] > 0.0]
    summary = {"exact_verifier_oracle_ratio_range": [min(exact), max(exact)],
               "false_positive_oracle_ratio_range": [min(noisy), max(noisy)]}
    print(summary)
    Path(out).write_text(json.dumps({"script": "reproductions/prime/oracle_toy.py --chains", "grid": CHAINS,
                                     "seeds": list(range(seeds)), "steps": 100, "summary": summary, "rows": rows,
                                     "wall_s": round(time.time() - t0, 1)}, indent=1) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--out", default="reproductions/prime/oracle_toy.json")
    ap.add_argument("--chains", action="store_true", help="the chain-length x starting-accuracy grid instead")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.chains:
        return chains(8 if a.seeds == 6 else a.seeds, "reproductions/prime/oracle_toy_chains.json"
                      if a.out == "reproductions/prime/oracle_toy.json" else a.out)
    t0 = time.time()
    rows = []
    for params, optimiser, lrs, q in SETUPS:
        for lr in lrs:
            curves = {arm: [run(arm, lr, s, params, optimiser, q) for s in range(a.seeds)] for arm in ARMS}
            row = {"params": params, "optimiser": optimiser, "lr": lr, "false_positive_rate": q,
                   "final_acc": {arm: float(np.mean([np.mean(c[-10:]) for c in cs])) for arm, cs in curves.items()}}
            for arm in ("oracle", "oracle_local"):
                r = [first_hit_ratio(x, y, 10)["ratio"] for x, y in zip(curves[arm], curves["rloo"])]
                row[f"{arm}_ratio_median"] = float(np.median(r))
                row[f"{arm}_ratios"] = [round(float(v), 3) for v in r]
            rows.append(row)
            print(f"[{time.time() - t0:4.0f} s] {params:8s} {optimiser:4s} lr {lr:<5} q {q}: final accuracy "
                  + ", ".join(f"{k} {v:.2f}" for k, v in row["final_acc"].items())
                  + f"; first-hit ratio oracle {row['oracle_ratio_median']:.2f}, "
                  f"local-credit oracle {row['oracle_local_ratio_median']:.2f}", flush=True)
    Path(a.out).write_text(json.dumps({"script": "reproductions/prime/oracle_toy.py", "seeds": list(range(a.seeds)),
                                       "steps": 100, "n_steps": 6, "start_acc": 0.3, "rows": rows,
                                       "wall_s": round(time.time() - t0, 1)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
