"""The seed count of the quick profile, from a pilot on seeds disjoint from the evaluation seeds (written to
pilot.json beside this file).

Pilot: the earlier committed quick run (made at git 6074ed3, committed in e3e2129: seeds 0, 1, 2; the same tasks, K values and macro-F1), whose
per-cell macro-F1 are in results/quick/results.json's metrics as committed at that run. The evaluation seeds of the
quick profile are 100-107. For each claim's paired difference (per seed, averaged over tasks and K, as
paperlib.mpt.claims.per_seed_f1 computes it) this reports the pilot's seed sd and the seeds needed to detect the
paper's effect (C1 +0.05, C2 +0.06) and the 0.02 margin at 80% power (paperlib.repro.claims.seeds_needed); also the
sd at the lowest K alone (the old C1). Run: python reproductions/mpt/power.py [RESULTS.json]
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from paperlib.mpt.claims import gain_over, per_seed_f1
from paperlib.repro.claims import mde, seeds_needed

HERE = Path(__file__).resolve().parent
PILOT_SHA = "e3e2129"  # the commit that holds the pilot run (made at git 6074ed3)


def cells_from_metrics(metrics: dict) -> dict:
    cells = {}
    for key, v in metrics.items():
        parts = key.split("/")
        if len(parts) == 4 and parts[1].startswith("K=") and parts[2].startswith("seed="):
            t, k, s, m = parts[0], int(parts[1][2:]), int(parts[2][5:]), parts[3]
            cells.setdefault((t, k, s), {"f1": {}})["f1"][m] = v
    return cells


def main() -> None:
    if len(sys.argv) > 1:
        r = json.loads(Path(sys.argv[1]).read_text())
    else:  # the pilot run's results as committed with it
        r = json.loads(subprocess.check_output(["git", "show", f"{PILOT_SHA}:reproductions/mpt/results/quick/results.json"],
                                               cwd=HERE))
    cells = cells_from_metrics(r["metrics"])
    tasks = sorted({t for t, _, _ in cells})
    ks = sorted({k for _, k, _ in cells})
    seeds = sorted({s for _, _, s in cells})
    out = {"pilot": {"git_sha": r["manifest"]["git_sha"], "seeds": seeds, "tasks": tasks, "ks": ks},
           "evaluation_seeds": list(range(100, 108)), "conditions": {}}
    rows = {"C1 mpt - ft": ("mpt", "ft", 0.05), "C2 mpt - self_training": ("mpt", "self_training", 0.06),
            "check prompts - ft": ("prompts", "ft", None)}
    for name, (a, b, effect) in rows.items():
        d = np.subtract(per_seed_f1(cells, a, tasks, ks, seeds), per_seed_f1(cells, b, tasks, ks, seeds))
        sd = float(np.std(d, ddof=1))
        out["conditions"][name] = {
            "per_seed": d.tolist(), "mean": float(d.mean()), "sd": sd,
            "seeds_for_paper_effect": seeds_needed("greater", sd, effect), "seeds_for_margin_0.02": seeds_needed("greater", sd, 0.02),
            "mde_at_8_seeds": mde("greater", sd, 8)}
    low = np.array(gain_over(cells, "mpt", "ft", tasks, min(ks), seeds))
    out["conditions"]["mpt - ft at the lowest K only (old C1)"] = {
        "per_seed": low.tolist(), "sd": float(low.std(ddof=1)),
        "seeds_for_paper_effect": seeds_needed("greater", float(low.std(ddof=1)), 0.05)}
    text = json.dumps(out, indent=1)
    (HERE / "pilot.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
