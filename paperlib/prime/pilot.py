"""The tuning pilot of the PRIME reproduction, on tuning seeds that no evaluation run uses.

Run once before the evaluation grid (``python -m paperlib.prime.pilot``); writes
``reproductions/prime/pilot.json`` with every grid point's area under the training-accuracy curve
(AUC, the selection criterion), its first-hit ratio against RLOO, and the choices:

1. the SFT model's sampled accuracy on the RL prompts (the issue asks for 0.2-0.4);
2. the policy learning rate of RLOO and of the oracle arm (``policy_lrs``), each by its AUC;
3. the positive control's first-hit ratio (oracle vs RLOO, each at its chosen learning rate);
4. PRIME's PRM learning rate x beta (``prm_lrs`` x ``betas``) at RLOO's chosen policy learning rate,
   by AUC. PRIME keeps RLOO's policy learning rate (the paper uses one policy learning rate for both;
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
from .sft import SFTConfig, train_sft
from .trainer import RLConfig, evaluate

TUNING_SEEDS = (100,)
POLICY_LRS = (1e-5, 3e-5)
PRM_LRS = (1e-5, 3e-5)
BETAS = (0.05, 0.2, 0.5)
# the quick profile's RL settings (notebooks/prime.py parameters); the pilot tunes the rest
BASE = dict(steps=100, batch_prompts=16, n_samples=4, mini_batches=4, prm_mini_batches=4, min_terms=6, max_terms=7,
            min_digits=2, max_digits=2, width=3, max_new_tokens=128, eval_every=25, eval_samples=2)
WINDOW = 10


def main(out: str = "reproductions/prime/pilot.json", workers: int = 2, steps: int | None = None,
         sft_cfg: SFTConfig | None = None, eval_prompts: int = 64, log=print) -> dict:
    t0 = time.time()
    sft_cfg = sft_cfg or SFTConfig()
    sft, info = train_sft(sft_cfg, log=log)
    base = dict(BASE, steps=steps or BASE["steps"], max_new_tokens=sft_cfg.block_size)
    probe = RLConfig(**base)
    evalset = arithmetic.sample_problems(eval_prompts, 778, base["min_terms"], base["max_terms"], base["max_digits"],
                                         width=base["width"], min_digits=base["min_digits"])
    sft_acc = evaluate(sft, evalset, probe, samples=4, seed=1)
    log(f"SFT sampled accuracy on the RL prompts: {sft_acc:.3f}")
    res = {"tuning_seeds": list(TUNING_SEEDS), "base": base, "window": WINDOW, "sft_config": asdict(sft_cfg),
           "sft_sampled_acc": sft_acc, "sft_final_loss": info.get("final_loss"), "sft_loss_floor": info.get("loss_floor"),
           "criterion": "area under the training-accuracy curve (mean over steps) on the tuning seed"}

    def grid(cfgs):
        rs = run_all(sft, cfgs, None, workers=workers, log=log)
        return [r["history"]["train_acc"] for r in rs]

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
    a = ap.parse_args()
    main(a.out, a.workers, a.steps)
