"""Can the positive control pass once the training verifier has false positives? A pilot on tuning seeds only.

Why: with the exact verifier the oracle-PRM control was no faster than RLOO (``pilot.json``: first-hit ratio 1.01
on tuning seed 100; the committed quick run: 1.15 [0.69, 1.60]), and the toy (``oracle_toy.py``, its ``chains``
grid) finds the same at every chain length (6-20 steps), starting accuracy (0.1-0.3) and learning rate: under
PRIME's estimator with Adam, a perfect first-error reward only speeds RL up when the outcome reward is wrong about
some rollouts (verifier false positives: 0.57-0.78 at 40%). In the paper's math data such rollouts exist (a right
final answer after wrong steps, which an exact-answer verifier passes); our chain sums have none, since every
error carries into the answer. ``false_positive`` = q makes the training verifier pass a fixed share q of wrong
answers (``paperlib.prime.tasks.ArithmeticTask``: a hash of prompt and response decides, so one rollout gets one
verdict in every arm); every accuracy reported stays the exact verifier's.

The rule (committed with this script, before it ran):
* grid q in {0.2, 0.4}; tuning seeds 100 and 101 (the evaluation seeds are 0-4); the committed SFT model and the
  quick profile's RL settings; RLOO and the oracle arm at the policy learning rates ``pilot.json`` chose (3e-5 each,
  chosen with the exact verifier; not re-tuned here, for time);
* for each q, the oracle arm's first-hit ratio against RLOO (``first_hit_ratio``, 10-step window) per tuning seed;
* the quick profile takes the smallest q whose median ratio over the two tuning seeds is at most 0.8 (room for the
  control's 95% interval to fall below 1 over 5 evaluation seeds); if none is, q stays 0 and C1 stays not assessed.
PRIME's PRM learning rate and beta keep ``pilot.json``'s choice (tuned with the exact verifier).

    PAPERLIB_CACHE_DIR=... flock /tmp/paperlib-heavy.lock python reproductions/prime/pilot_noisy.py
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from paperlib.prime.experiment import area_under_curve, first_hit_ratio, run_all
from paperlib.prime.pilot import BASE, WINDOW
from paperlib.prime.trainer import RLConfig
from paperlib.rl.sft import SFTConfig, train_sft

HERE = Path(__file__).resolve().parent
GRID = (0.2, 0.4)
TUNING_SEEDS = (100, 101)
THRESHOLD = 0.8


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "pilot_noisy.json"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="RL steps (default: the quick profile's 100)")
    a = ap.parse_args(argv)
    t0 = time.time()
    chosen_lr = json.loads((HERE / "pilot.json").read_text())["chosen"]
    sft_cfg = SFTConfig()
    sft, _ = train_sft(sft_cfg)
    base = dict(BASE, steps=a.steps or BASE["steps"], max_new_tokens=sft_cfg.block_size)
    cfgs = [RLConfig(arm=arm, seed=s, policy_lr=chosen_lr[f"{arm}_policy_lr"], false_positive=q, **base)
            for q in GRID for s in TUNING_SEEDS for arm in ("rloo", "oracle")]
    runs = run_all(sft, cfgs, None, workers=a.workers)
    curve = {(c.false_positive, c.seed, c.arm): r["history"] for c, r in zip(cfgs, runs)}
    window = min(WINDOW, base["steps"])
    rows = []
    for q in GRID:
        hits = [first_hit_ratio(curve[(q, s, "oracle")]["train_acc"], curve[(q, s, "rloo")]["train_acc"], window)
                for s in TUNING_SEEDS]
        row = {"false_positive": q, "oracle_ratios": [h["ratio"] for h in hits],
               "oracle_ratio_median": float(np.median([h["ratio"] for h in hits])),
               "auc": {arm: [area_under_curve(curve[(q, s, arm)]["train_acc"]) for s in TUNING_SEEDS]
                       for arm in ("rloo", "oracle")},
               "final_acc": {arm: [float(np.mean(curve[(q, s, arm)]["train_acc"][-window:])) for s in TUNING_SEEDS]
                             for arm in ("rloo", "oracle")},
               "mean_train_reward": {arm: [float(np.mean(curve[(q, s, arm)]["train_reward"])) for s in TUNING_SEEDS]
                                     for arm in ("rloo", "oracle")}}
        rows.append(row)
        print(f"q {q}: oracle first-hit ratio {row['oracle_ratios']} (median {row['oracle_ratio_median']:.2f}); "
              f"final exact accuracy {row['final_acc']}", flush=True)
    ok = [r["false_positive"] for r in rows if r["oracle_ratio_median"] <= THRESHOLD]
    res = {"script": "reproductions/prime/pilot_noisy.py", "rule": __doc__.split("The rule")[1].split("    PAPERLIB")[0],
           "grid": list(GRID), "tuning_seeds": list(TUNING_SEEDS), "threshold": THRESHOLD, "base": base,
           "policy_lrs": {k: v for k, v in chosen_lr.items() if k.endswith("policy_lr")}, "rows": rows,
           "chosen_false_positive": min(ok) if ok else 0.0,
           "curves": [[list(k), v["train_acc"]] for k, v in curve.items()], "wall_s": round(time.time() - t0, 1)}
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"chosen false_positive {res['chosen_false_positive']} ({res['wall_s']:.0f} s)")
    return res


if __name__ == "__main__":
    main()
