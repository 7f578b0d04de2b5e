"""Pilot of the flgfn quick profile: fixes every free choice on seeds that are never evaluation seeds, and
sizes the number of evaluation seeds by a power computation against the margins of
reproductions/flgfn/claims.yaml (written before this pilot ran).

- Tuning (seed 100): each (environment, method) gets the Adam learning rate and the exploration weight
  (uniform-action mixing, the official ``exp_weight``, which the official code grid-searches per method) with
  the lowest mean L1 over training, from LR_GRID x EXP_GRID; every method the same budget.
- Power (seeds 100-103, the chosen settings): every claim condition's seed standard deviation, the minimum
  detectable effect at several seed counts, and the seeds needed to detect its margin.

    PYTHONPATH=. python scripts/flgfn_pilot.py [--workers 2] [--out reproductions/flgfn/pilot.json]
    PYTHONPATH=. python scripts/flgfn_pilot.py --apply   # write its choices into notebooks/flgfn.py's defaults

The number of evaluation seeds, a rule fixed before the pilot ran: the largest number of seeds any claim
condition or control needs to detect its margin with 80% power at the pilot's seed sd, at least 4, at most 12,
and at most what fits the quick profile's 10 minutes (420 s of runs at the pilot's cost per seed on 2 workers).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import yaml

from paperlib.flgfn import claims as fc
from paperlib.flgfn.experiment import SETUPS, config_dict, run_study
from paperlib.flgfn.sampler import METHODS
from paperlib.repro.claims import load_spec, mde, seeds_needed

ROOT = Path(__file__).resolve().parents[1]
TUNING_SEEDS = [100]
PILOT_SEEDS = [100, 101, 102, 103]  # never evaluation seeds (those are 0, 1, 2, ...)
LR_GRID = [0.001, 0.003]
EXP_GRID = [0.0, 0.5]
ENVS = ["hypergrid", "set"]
SEED_COUNTS = [4, 6, 8, 10, 12, 16, 24]
MIN_SEEDS, MAX_SEEDS, RUN_BUDGET_S = 4, 12, 420.0
NOTEBOOK = ROOT / "notebooks/flgfn.py"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def condition_values(cond: dict, m: dict[str, list[float]]) -> list[float]:
    a = m[cond["measurement"]]
    return [x - y for x, y in zip(a, m[cond["minus"]])] if cond.get("minus") else list(a)


def power_table(measurements: dict[str, list[float]]) -> list[dict]:
    spec = load_spec(yaml.safe_load((ROOT / "reproductions/flgfn/claims.yaml").read_text()))
    out = []
    for kind in ("claims", "checks"):
        for e in spec[kind]:
            for c in e.get("controls", []) + e["conditions"]:
                vals = condition_values(c, measurements)
                sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan
                out.append({"id": e["id"], "kind": kind[:-1], "measurement": c["measurement"], "minus": c.get("minus"),
                            "test": c["test"], "margin": c["margin"], "pilot_values": vals,
                            "pilot_mean": float(np.mean(vals)), "pilot_sd": sd,
                            "mde_at": {n: mde(c["test"], sd, n) for n in SEED_COUNTS},
                            "seeds_needed_for_margin": seeds_needed(c["test"], sd, c["margin"] or None)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "reproductions/flgfn/pilot.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    out: dict = {"tuning_seeds": TUNING_SEEDS, "seeds": PILOT_SEEDS, "lr_grid": LR_GRID, "exp_grid": EXP_GRID,
                 "studies": {}, "chosen": {}, "tuning": []}
    measurements: dict[str, list[float]] = {}
    all_rows: list[dict] = []
    for env in ENVS:
        study = SETUPS[env]
        out["studies"][env] = config_dict(study)
        rows = []
        for lr in LR_GRID:
            for ew in EXP_GRID:
                log(f"{env}: tuning lr={lr} exp_weight={ew}")
                rows += [dict(r, config=[lr, ew]) for r in
                         run_study(study, TUNING_SEEDS, METHODS, {m: (lr, ew) for m in METHODS}, args.workers, log)]
        chosen = {}
        for m in METHODS:
            score = {tuple(r["config"]): fc.l1_auc(r) for r in rows if r["method"] == m}
            chosen[m] = list(min(score, key=score.get))  # ties: the first in grid order
            out["tuning"] += [{"env": env, "method": m, "lr": k[0], "exp_weight": k[1], "l1_auc": v}
                              for k, v in score.items()]
        out["chosen"][env] = chosen
        log(f"{env}: chosen (lr, exp_weight) {chosen}")
        rest = [s for s in PILOT_SEEDS if s not in TUNING_SEEDS]
        more = run_study(study, rest, METHODS, {m: tuple(v) for m, v in chosen.items()}, args.workers, log)
        pilot_rows = [r for r in rows if r["config"] == chosen[r["method"]]] + more
        all_rows += pilot_rows
        measurements.update(fc.measurements(pilot_rows, env, METHODS, PILOT_SEEDS))
    out["measurements"] = measurements
    out["power"] = power_table(measurements)
    per_seed = {s: sum(r["wall_s"] for r in all_rows if r["seed"] == s) / args.workers for s in PILOT_SEEDS}
    out["seed_rule"] = seed_rule(out["power"], float(np.mean(list(per_seed.values()))))
    out["wall_s"] = time.perf_counter() - t0
    Path(args.out).write_text(json.dumps(out, indent=1, default=float) + "\n")
    log(f"wrote {args.out} in {out['wall_s']:.0f} s")
    for p in out["power"]:
        log(f"{p['id']} {p['measurement']}{' - ' + p['minus'] if p['minus'] else ''}: mean {p['pilot_mean']:+.4f} "
            f"sd {p['pilot_sd']:.4f}; MDE at 8 seeds {p['mde_at'][8]}; seeds for the margin {p['seeds_needed_for_margin']}")


def seed_rule(power: list[dict], seconds_per_seed: float) -> dict:
    needed = [p["seeds_needed_for_margin"] for p in power if p["kind"] == "claim"]
    want = max((n if n is not None else MAX_SEEDS) for n in needed)
    fits = int(RUN_BUDGET_S // max(seconds_per_seed, 1e-9))
    n = max(MIN_SEEDS, min(want, MAX_SEEDS, fits))
    return {"seeds_needed_max": want, "seconds_per_seed": seconds_per_seed, "seeds_that_fit": fits, "n_seeds": n}


def apply(path: Path) -> None:
    """Write the pilot's choices into the notebook's parameters cell (seeds, rates, exploration weights)."""
    import re
    pilot = json.loads(path.read_text())
    text = NOTEBOOK.read_text()
    n = pilot["seed_rule"]["n_seeds"]
    values = {"seeds": list(range(n))}
    for env in ENVS:
        values[f"{env}_lr"] = [pilot["chosen"][env][m][0] for m in METHODS]
        values[f"{env}_exp"] = [pilot["chosen"][env][m][1] for m in METHODS]
    for name, v in values.items():
        text, k = re.subn(rf"^{name} = \[[^\]]*\]", f"{name} = {v}", text, count=1, flags=re.M)
        if k != 1:
            raise SystemExit(f"no parameter line for {name} in {NOTEBOOK}")
    text = re.sub(r"^(seeds = \[[^\]]*\])  # .*$", rf"\1  # evaluation seeds ({n}, the pilot's power rule; "
                  "the pilot used 100-103)", text, count=1, flags=re.M)
    NOTEBOOK.write_text(text)
    log(f"notebook defaults: {values}")


if __name__ == "__main__":
    import sys
    if "--apply" in sys.argv:
        apply(ROOT / "reproductions/flgfn/pilot.json")
    else:
        main()
