"""Pilot of the A-LoL quick profile on tuning seeds (never evaluation seeds), run before the evaluation run.

It runs the notebook with the quick profile's sizes on the pilot seeds from an empty cache (references
included, so its clock is the cold clock of the quick profile) and then

* fixes the value head's learning rate, the one free choice left: the rate of ``--value-lrs`` with the
  lowest held-out MSE (2-fold over the dev prompts' pi_ref outputs, mean over splits and pilot seeds);
* measures every claim condition of ``reproductions/alol/claims.yaml`` on the pilot seeds: the seed sd of
  each paired difference, the MDE at several seed counts (at the Bonferroni level (alpha / 2) / m for a
  Holm-corrected claim of m conditions, as the engine reports it) and the seeds needed to detect the
  condition's margin (or paper effect) with 80% power (``paperlib.repro.claims.mde`` / ``seeds_needed``);
* times the run: the references' part and the per-seed part, and predicts the cold wall time of n seeds;
* applies the rule stated before it ran: the evaluation uses the fewest seeds (at least 5) that detect
  every claim condition's margin, capped at the most seeds whose predicted cold wall time stays under
  ``--budget-s``; where the cap binds, pilot.json lists each condition's MDE at the chosen count.

    PYTHONPATH=. python -m paperlib.alol.pilot [--seeds 100 101 102] [--out reproductions/alol/pilot.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from ..repro.claims import ALPHA, load_spec, mde, seeds_needed

ROOT = Path(__file__).resolve().parents[2]
EVAL_SEEDS_MIN = 5
SEED_COUNTS = [3, 5, 6, 8, 10, 12, 16]


def condition_stats(spec: dict, measurements: dict, n_seeds: list[int]) -> list[dict]:
    rows = []
    for kind in ("claims", "checks"):
        for entry in spec[kind]:
            conds = entry["conditions"]
            holm = entry.get("correction") == "holm"
            alpha = ALPHA / 2 / len(conds) if holm else ALPHA / 2
            for c in conds:
                x = np.asarray(measurements[c["measurement"]], float)
                if c.get("minus"):
                    x = x - np.asarray(measurements[c["minus"]], float)
                sd = float(x.std(ddof=1))
                target = abs(float(c["paper_effect"])) if c.get("paper_effect") is not None else float(c["margin"]) or None
                rows.append({"kind": kind, "id": entry["id"], "measurement": c["measurement"], "minus": c.get("minus"),
                             "test": c["test"], "value": c["value"], "margin": c["margin"], "target": target,
                             "alpha": alpha, "pilot_values": x.tolist(), "pilot_mean": float(x.mean()), "pilot_sd": sd,
                             "mde": {str(n): mde(c["test"], sd, n, alpha=alpha) for n in n_seeds},
                             "seeds_needed": seeds_needed(c["test"], sd, target, alpha=alpha)})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    ap.add_argument("--value-lrs", type=float, nargs="+", default=[0.0003, 0.001, 0.003])
    ap.add_argument("--budget-s", type=float, default=540.0, help="cold wall-time budget of the quick run")
    ap.add_argument("--out", default=str(ROOT / "reproductions/alol/pilot.json"))
    ap.add_argument("--profile", default="quick", help="the profile whose sizes the pilot runs (smoke: a test of this script)")
    ap.add_argument("--reuse", action="store_true", help="read the run already in --workdir instead of running it")
    ap.add_argument("--workdir", default=None, help="run folder (default: a fresh temporary one)")
    a = ap.parse_args(argv)
    profiles = yaml.safe_load((ROOT / "reproductions/alol/profiles.yaml").read_text())
    if set(a.seeds) & set(range(100)) or set(a.seeds) & set(profiles["quick"]["seeds"]):
        raise SystemExit(f"pilot seeds {a.seeds} must be >= 100 (evaluation seeds are 0, 1, 2, ...)")
    work = Path(a.workdir or tempfile.mkdtemp(prefix="alol-pilot-"))
    cache = work / "cache"  # empty: the references are trained, as in a cold quick run
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERLIB_ROOT": str(ROOT), "PAPERLIB_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "paperlib", "reproduce", "alol", "--profile", a.profile, "--out", str(work / "out"),
           "--allow-dirty", "-q", "-p", f"seeds={a.seeds}", "-p", f"value_lr_grid={a.value_lrs}"]
    t0 = time.time()
    if a.reuse and (work / "out/alol/results.json").exists():
        print(f"reusing {work / 'out/alol/results.json'}")
    else:
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, env=env, check=True)
    wall = time.time() - t0
    res = json.loads((work / "out/alol/results.json").read_text())
    m, meas = res["metrics"], res["measurements"]

    cv = {lr: float(np.mean([v for k, v in m.items() if k.endswith(f"/value_cv_mse/lr={lr:g}")])) for lr in a.value_lrs}
    chosen_lr = min(cv, key=cv.get)

    spec = load_spec(yaml.safe_load((ROOT / "reproductions/alol/claims.yaml").read_text()))
    rows = condition_stats(spec, meas, SEED_COUNTS)
    claim_rows = [r for r in rows if r["kind"] == "claims"]
    needed = [r["seeds_needed"] for r in claim_rows]
    n_power = None if any(n is None for n in needed) else max(EVAL_SEEDS_MIN, max(needed))

    fixed_s = res["manifest"]["wall_s"] - m["time/runs_s"]  # start-up, data, references, value heads, claims
    per_seed_s = m["time/runs_s"] / len(a.seeds)
    predict = {str(n): fixed_s + n * per_seed_s for n in SEED_COUNTS}
    n_fit = int((a.budget_s - fixed_s) // per_seed_s)
    n_eval = min(n_power, n_fit) if n_power else n_fit
    n_eval = max(n_eval, EVAL_SEEDS_MIN)
    binding = n_power is None or n_power > n_eval
    at_eval = [{"id": r["id"], "measurement": r["measurement"], "minus": r["minus"], "target": r["target"],
                "pilot_sd": r["pilot_sd"], "mde": mde(r["test"], r["pilot_sd"], n_eval, alpha=r["alpha"]),
                "seeds_needed": r["seeds_needed"]} for r in claim_rows]
    out = {"seeds": a.seeds, "git_sha": res["manifest"].get("git_sha"), "dirty": res["manifest"].get("dirty"),
           "params": res["params"], "wall_s": wall, "notebook_wall_s": res["manifest"]["wall_s"],
           "timing": {"references_s": m["time/references_s"], "runs_s": m["time/runs_s"], "fixed_s": fixed_s,
                      "per_seed_s": per_seed_s, "ref_train_s": {k: v for k, v in m.items() if k.endswith("/train_s")},
                      "predicted_cold_wall_s": predict},
           "value_lr": {"grid": a.value_lrs, "heldout_mse": {f"{k:g}": v for k, v in cv.items()}, "chosen": chosen_lr},
           "rule": (f"evaluation seeds: the fewest (at least {EVAL_SEEDS_MIN}) whose MDE reaches every claim condition's "
                    f"target (margin, or paper effect) at 80% power, capped at the most seeds predicted to run cold in "
                    f"{a.budget_s:.0f} s"),
           "seeds_for_power": n_power, "seeds_that_fit": n_fit, "eval_seeds": n_eval, "budget_binds": binding,
           "at_eval_seeds": at_eval, "conditions": rows,
           "pilot_verdicts": {c["id"]: c["verdict"] for c in res["claims"] + res.get("checks", [])}}
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"value_lr: held-out MSE {cv} -> {chosen_lr:g}")
    print(f"timing: fixed {fixed_s:.0f} s + {per_seed_s:.0f} s per seed; predicted cold wall "
          + ", ".join(f"{n} seeds {t:.0f} s" for n, t in predict.items()))
    print(f"seeds for power {n_power}, that fit {n_fit}: evaluation seeds {n_eval}" + (" (budget binds)" if binding else ""))
    for r in at_eval:
        print(f"  {r['id']} {r['measurement']} - {r['minus']}: sd {r['pilot_sd']:.4f}, MDE at {n_eval} seeds "
              f"{r['mde']:.4f} (target {r['target']}), seeds needed {r['seeds_needed']}")
    print(f"wrote {a.out} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
