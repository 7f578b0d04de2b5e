"""Pilot of the comp-sum quick profile (issue 12): fixes every free choice on pilot seeds that are never
evaluation seeds, and sizes the number of evaluation seeds by a power computation against the margins of
reproductions/compsum/claims.yaml (which were written before this pilot ran).

What it chooses, each on the pilot seeds' validation data:
- the SGD learning rate of every (number of classes, tau) of the mixture study, from a decade grid;
- the Adam learning rate of each adversarial method (PGD, TRADES beta 6, ADV-COMP-SUM nu 1), on the first
  pilot seed;
- the 3-point nu and beta grids of the quick profile: each method's best setting (mean validation robust
  accuracy over the pilot seeds) on a wide grid, with its neighbours.
Then it measures the claims' per-seed numbers on the pilot seeds with those choices, and for every condition
reports the seed standard deviation, the minimum detectable effect at several seed counts and the seeds
needed to detect the margin (paperlib.repro.claims.mde / seeds_needed).

    PYTHONPATH=. python scripts/compsum_pilot.py [--workers 2] [--out reproductions/compsum/pilot.json]

Measured: 726 s on 2 CPU cores shared with other jobs (load about 3).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import yaml

from paperlib.compsum import claims as cc
from paperlib.compsum.experiment import (AdversarialStudy, MixtureStudy, arms, config_dict, run_adversarial_study,
                                         run_mixture_study)
from paperlib.repro.claims import load_spec, mde, seeds_needed

ROOT = Path(__file__).resolve().parents[1]
PILOT_SEEDS = [100, 101, 102, 103]  # never evaluation seeds (those are 0, 1, 2, ...)
CLASS_COUNTS = [10, 30, 100]
TAUS = [0.0, 0.5, 1.0, 1.5, 2.0]
MIX_LR_GRID = [0.001, 0.01, 0.1, 1.0, 10.0]
ADV_LR_GRID = [0.0003, 0.001, 0.003]
NU_GRID = [0.25, 0.5, 1.0, 2.0, 4.0]
BETA_GRID = [1.0, 3.0, 6.0, 9.0, 12.0, 18.0]
SEED_COUNTS = [4, 6, 8, 10, 12, 16, 24]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def neighbours(grid: list[float], best: float, k: int = 3) -> list[float]:
    """The ``k`` consecutive grid values centred on ``best`` (shifted inwards at the grid's edges)."""
    i = grid.index(best)
    lo = min(max(0, i - k // 2), len(grid) - k)
    return grid[lo:lo + k]


def pick_mixture_lrs(rows: list[dict]) -> dict[int, dict[float, float]]:
    out: dict[int, dict[float, float]] = {}
    for C in CLASS_COUNTS:
        out[C] = {}
        for tau in TAUS:
            mean_val = {lr: np.mean([r["val_acc"] for r in rows if r["classes"] == C and r["tau"] == tau and r["lr"] == lr])
                        for lr in MIX_LR_GRID}
            out[C][tau] = max(MIX_LR_GRID, key=lambda lr: mean_val[lr])  # ties: the smaller rate
    return out


def condition_values(cond: dict, m: dict[str, list[float]]) -> list[float]:
    a = m[cond["measurement"]]
    return [x - y for x, y in zip(a, m[cond["minus"]])] if cond.get("minus") else list(a)


def power_table(measurements: dict[str, list[float]]) -> list[dict]:
    spec = load_spec(yaml.safe_load((ROOT / "reproductions/compsum/claims.yaml").read_text()))
    out = []
    for kind in ("claims", "checks"):
        for e in spec[kind]:
            for c in e["conditions"]:
                vals = condition_values(c, measurements)
                sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan
                target = abs(c["paper_effect"]) if c.get("paper_effect") is not None else (c["margin"] or None)
                out.append({"id": e["id"], "kind": kind[:-1], "measurement": c["measurement"], "minus": c.get("minus"),
                            "test": c["test"], "margin": c["margin"], "pilot_values": vals,
                            "pilot_mean": float(np.mean(vals)), "pilot_sd": sd,
                            "mde_at": {n: mde(c["test"], sd, n) for n in SEED_COUNTS},
                            "seeds_needed_for_margin": seeds_needed(c["test"], sd, target)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "reproductions/compsum/pilot.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    trainer_cfg = {"accelerator": "cpu", "devices": 1}

    mix = MixtureStudy()
    log(f"mixtures: {len(CLASS_COUNTS)} class counts x {len(PILOT_SEEDS)} seeds x {len(TAUS)} taus x {len(MIX_LR_GRID)} rates")
    mix_rows = run_mixture_study(mix, CLASS_COUNTS, PILOT_SEEDS, TAUS, lambda C, tau: MIX_LR_GRID, trainer_cfg,
                                 args.workers, log)
    mix_lrs = pick_mixture_lrs(mix_rows)
    chosen_mix_rows = [r for r in mix_rows if r["lr"] == mix_lrs[r["classes"]][r["tau"]]]
    mix_m = cc.mixture_measurements(chosen_mix_rows, CLASS_COUNTS, TAUS, PILOT_SEEDS)
    log(f"mixture learning rates: {mix_lrs}")

    study = AdversarialStudy()
    lr_arms = []
    for lr in ADV_LR_GRID:
        lr_arms += [a.__class__(f"{a.name} lr={lr:g}", a.method, lr, a.nu, a.beta)
                    for a in arms([1.0], [6.0], {"pgd": lr, "trades": lr, "adv_comp_sum": lr})]
    log(f"adversarial learning rates on seed {PILOT_SEEDS[0]}: {len(lr_arms)} runs")
    lr_rows = run_adversarial_study(study, PILOT_SEEDS[:1], lr_arms, trainer_cfg, args.workers, log=log)
    adv_lrs = {m: max((r for r in lr_rows if r["method"] == m), key=lambda r: r["val_robust"])["lr"]
               for m in ("pgd", "trades", "adv_comp_sum")}
    log(f"adversarial learning rates: {adv_lrs}")

    grid_arms = arms(NU_GRID, BETA_GRID, adv_lrs)
    log(f"adversarial grids on {len(PILOT_SEEDS)} seeds: {len(grid_arms)} arms")
    grid_rows = run_adversarial_study(study, PILOT_SEEDS, grid_arms, trainer_cfg, args.workers, log=log)

    def mean_val(fam, key, value):
        return float(np.mean([r["val_robust"] for r in grid_rows if r["family"] == fam and r[key] == value]))

    best_nu = max(NU_GRID, key=lambda v: mean_val("adv-comp-sum", "nu", v))
    best_beta = max(BETA_GRID, key=lambda v: mean_val("trades", "beta", v))
    nus, betas = neighbours(NU_GRID, best_nu), neighbours(BETA_GRID, best_beta)
    log(f"best on validation: nu={best_nu} beta={best_beta}; quick grids nus={nus} betas={betas}")
    chosen = [r for r in grid_rows if r["family"] == "pgd" or r["nu"] in nus or r["beta"] in betas]
    adv_m, adv_info = cc.adversarial_measurements(chosen, PILOT_SEEDS)

    measurements = {**mix_m, **adv_m}
    power = power_table(measurements)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("train_loss_curve", "val_curve")} for r in rows]
    out = {"seeds": PILOT_SEEDS, "wall_s": time.perf_counter() - t0,
           "mixture": {"study": config_dict(mix), "lr_grid": MIX_LR_GRID,
                       "chosen_lr": {str(C): {str(t): lr for t, lr in v.items()} for C, v in mix_lrs.items()},
                       "rows": strip(mix_rows)},
           "adversarial": {"study": config_dict(study), "lr_grid": ADV_LR_GRID, "chosen_lr": adv_lrs,
                           "lr_rows": strip(lr_rows), "nu_grid": NU_GRID, "beta_grid": BETA_GRID,
                           "mean_val_robust": {"nu": {str(v): mean_val("adv-comp-sum", "nu", v) for v in NU_GRID},
                                               "beta": {str(v): mean_val("trades", "beta", v) for v in BETA_GRID}},
                           "chosen_nus": nus, "chosen_betas": betas, "picked": adv_info, "rows": strip(grid_rows)},
           "measurements": measurements, "power": power}
    Path(args.out).write_text(json.dumps(out, indent=1, default=float) + "\n")
    log(f"wrote {args.out} in {out['wall_s']:.0f} s")
    for p in power:
        log(f"{p['id']} {p['measurement']}{' - ' + p['minus'] if p['minus'] else ''}: mean {p['pilot_mean']:+.4f} "
            f"sd {p['pilot_sd']:.4f}; MDE at 8 seeds {p['mde_at'][8]}; seeds for the margin {p['seeds_needed_for_margin']}")


if __name__ == "__main__":
    main()
