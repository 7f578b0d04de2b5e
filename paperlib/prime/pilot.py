"""The tuning pilot of the PRIME reproduction, on tuning seeds that no evaluation run uses.

Run once before the evaluation grid (``python -m paperlib.prime.pilot``); writes
``reproductions/prime/pilot.json`` with every grid point's area under the training-accuracy curve
(AUC, the selection criterion), its first-hit ratio against RLOO, and the choices:

1. the SFT model's sampled accuracy on the RL prompts (the issue asks for 0.2-0.4);
2. the policy learning rate of RLOO and of the oracle arm (``policy_lrs``), each by its AUC;
3. the positive control's first-hit ratio (oracle vs RLOO, each at its chosen learning rate);
4. PRIME's PRM learning rate x beta (``prm_lrs`` x ``betas``) at RLOO's chosen policy learning rate,
   by AUC.

A choice at the upper edge of its grid is flagged (``edge_choices``): the optimum may lie beyond it.
The first grid (policy lr {1e-5, 3e-5}, PRM lr {1e-5, 3e-5}; ``pilot-grid1.json``) chose 3e-5 for
every learning rate, the upper edge, and the oracle control did not beat RLOO there (first-hit
ratio 1.01); the grids below extend it upwards. Every grid point's training-accuracy curve is kept,
and a rerun with the same SFT model and base settings reuses the points it already has (``--resume``
is the default), so an interrupted pilot continues where it stopped. With ``--false-positive 0.2 --out reproductions/prime/pilot_q02.json`` the same grid and the same rule re-tune
every learning rate and beta for the noisy verifier that ``pilot_noisy.py`` chose (the first quick run on it
used the exact verifier's choices, and PRIME collapsed on 2 of 5 evaluation seeds); its choices become the
notebook's defaults. PRIME keeps RLOO's policy learning rate (the paper uses one policy learning rate for both;
   a separate PRIME policy-lr stage did not fit the CPU budget); the frozen arm uses PRIME's settings
   (its PRM is trained to convergence either way).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..data import arithmetic
from .experiment import area_under_curve, first_hit_ratio, run_all
from ..rl.sft import SFTConfig, train_sft
from .trainer import RLConfig, evaluate

TUNING_SEEDS = (100,)
POLICY_LRS = (1e-5, 3e-5, 1e-4, 3e-4)
PRM_LRS = (1e-5, 3e-5, 1e-4)
BETAS = (0.05, 0.2, 0.5)
# the quick profile's RL settings (notebooks/prime.py parameters); the pilot tunes the rest
BASE = dict(steps=100, batch_prompts=16, n_samples=4, mini_batches=4, prm_mini_batches=4, min_terms=6, max_terms=7,
            min_digits=2, max_digits=2, width=3, max_new_tokens=128, eval_every=25, eval_samples=2)
WINDOW = 10


def main(out: str = "reproductions/prime/pilot.json", workers: int = 2, steps: int | None = None,
         sft_cfg: SFTConfig | None = None, eval_prompts: int = 64, log=print, resume: bool = True,
         false_positive: float = 0.0) -> dict:
    t0 = time.time()
    sft_cfg = sft_cfg or SFTConfig()
    sft, info = train_sft(sft_cfg, log=log)
    base = dict(BASE, steps=steps or BASE["steps"], max_new_tokens=sft_cfg.block_size)
    if false_positive:  # the training verifier's false-positive share (tasks.ArithmeticTask); 0 keeps old keys
        base["false_positive"] = false_positive
    probe = RLConfig(**base)
    evalset = arithmetic.sample_problems(eval_prompts, 778, base["min_terms"], base["max_terms"], base["max_digits"],
                                         width=base["width"], min_digits=base["min_digits"])
    sft_acc = evaluate(sft, evalset, probe, samples=4, seed=1)
    log(f"SFT sampled accuracy on the RL prompts: {sft_acc:.3f}")
    res = {"tuning_seeds": list(TUNING_SEEDS), "base": base, "window": WINDOW, "sft_config": asdict(sft_cfg),
           "sft_sampled_acc": sft_acc, "sft_final_loss": info.get("final_loss"), "sft_loss_floor": info.get("loss_floor"),
           "criterion": "area under the training-accuracy curve (mean over steps) on the tuning seed"}

    prev = json.loads(Path(out).read_text()) if out and resume and Path(out).exists() else {}
    known = {}
    def plain(x):  # as read back from JSON (tuples become lists)
        return json.loads(json.dumps(x))

    if prev.get("base") == plain(base) and prev.get("sft_config") == plain(res["sft_config"]):
        known = {tuple(k): v for k, v in prev.get("curves", [])}

    def point(c):
        return (c.arm, c.seed, c.policy_lr, c.prm_lr, c.beta)

    def grid(cfgs):
        todo = [c for c in cfgs if point(c) not in known]
        if len(todo) < len(cfgs):
            log(f"{len(cfgs) - len(todo)} of {len(cfgs)} grid points reused from {out}")
        for c, r in zip(todo, run_all(sft, todo, None, workers=workers, log=log) if todo else []):
            known[point(c)] = r["history"]["train_acc"]
            if out:  # keep what has run, so an interrupted pilot resumes here
                Path(out).parent.mkdir(parents=True, exist_ok=True)
                Path(out).write_text(json.dumps(dict(res, curves=[[list(k), v] for k, v in known.items()],
                                                     partial=True), indent=1))
        return [known[point(c)] for c in cfgs]

    def auc(c):
        return area_under_curve(c)

    # stage 1: policy lr of RLOO and of the oracle control
    cfgs = [RLConfig(arm=a, seed=s, policy_lr=lr, **base) for a in ("rloo", "oracle") for lr in POLICY_LRS
            for s in TUNING_SEEDS]
    curves = grid(cfgs)
    stage1 = [dict(arm=c.arm, policy_lr=c.policy_lr, seed=c.seed, auc=auc(k), final=float(np.mean(k[-WINDOW:])))
              for c, k in zip(cfgs, curves)]
    chosen = {a: max((r for r in stage1 if r["arm"] == a), key=lambda r: r["auc"])["policy_lr"] for a in ("rloo", "oracle")}
    curve_of = {(c.arm, c.policy_lr, c.seed): k for c, k in zip(cfgs, curves)}
    ratios = [first_hit_ratio(curve_of[("oracle", chosen["oracle"], s)], curve_of[("rloo", chosen["rloo"], s)], WINDOW)
              for s in TUNING_SEEDS]
    res["policy_lr_grid"] = stage1
    res["oracle_first_hit"] = ratios
    log(f"chosen policy lr {chosen}; oracle first-hit ratio {[round(r['ratio'], 3) for r in ratios]}")
    # stage 2: PRM lr x beta for PRIME at RLOO's policy lr
    cfgs = [RLConfig(arm="prime", seed=s, policy_lr=chosen["rloo"], prm_lr=pl, beta=b, **base)
            for pl in PRM_LRS for b in BETAS for s in TUNING_SEEDS]
    curves = grid(cfgs)
    stage2 = [dict(prm_lr=c.prm_lr, beta=c.beta, seed=c.seed, auc=auc(k), final=float(np.mean(k[-WINDOW:])),
                   first_hit_ratio=first_hit_ratio(k, curve_of[("rloo", chosen["rloo"], c.seed)], WINDOW)["ratio"])
              for c, k in zip(cfgs, curves)]
    best = max(stage2, key=lambda r: r["auc"])
    res["prm_grid"] = stage2
    res["chosen"] = {"rloo_policy_lr": chosen["rloo"], "oracle_policy_lr": chosen["oracle"],
                     "prime_policy_lr": chosen["rloo"], "prm_lr": best["prm_lr"], "beta": best["beta"]}
    log(f"chosen PRM lr {best['prm_lr']}, beta {best['beta']}")
    edges = {k: v for k, v, grid_ in (("rloo_policy_lr", chosen["rloo"], POLICY_LRS),
                                       ("oracle_policy_lr", chosen["oracle"], POLICY_LRS),
                                       ("prm_lr", best["prm_lr"], PRM_LRS), ("beta", best["beta"], BETAS))
             if len(grid_) > 1 and v == max(grid_)}
    res["edge_choices"] = edges
    if edges:
        log(f"WARNING: chosen at the upper edge of the grid (the optimum may lie beyond): {edges}")
    res["curves"] = [[list(k), v] for k, v in known.items()]
    res["wall_s"] = time.time() - t0
    log(f"pilot done in {res['wall_s']:.0f} s: {res['chosen']}")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reproductions/prime/pilot.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--fresh", action="store_true", help="rerun every grid point (default: reuse those in --out)")
    ap.add_argument("--false-positive", type=float, default=0.0,
                    help="share of wrong answers the training verifier passes (pilot_noisy.py chose 0.2)")
    a = ap.parse_args()
    main(a.out, a.workers, a.steps, resume=not a.fresh, false_positive=a.false_positive)
