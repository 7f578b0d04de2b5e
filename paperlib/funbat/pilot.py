"""Pilot (issue 14): the field's library (tensorly's masked CP / Tucker) against our masked ridge ALS baselines.

Run once, on a pilot split that no evaluation fold uses (data subsample seed 1, split seed 99), before the quick
profile: ``python -m paperlib.funbat.pilot [out.json]``. For each stand-in dataset, rank and grid resolution it fits
both implementations of binned CP and Tucker (the same grid, the same random-start seed, 50 iterations) and
records test RMSE; REPORT.md states which implementation the notebook uses and why, with these numbers.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from ..data.spatiotemporal import load_colorado_temperature, load_midwest_ozone, normalise_coordinates, random_split
from .baselines import DiscreteCP, DiscreteTucker, TensorlyCP, TensorlyTucker

PILOT_DATA_SEED, PILOT_SPLIT_SEED = 1, 99


def run(max_entries: int = 2000, ranks=(3, 7), resolutions=(10, 25, 50), ridge: float = 0.1, iters: int = 50) -> list[dict]:
    rows = []
    for dname, load in (("colorado", load_colorado_temperature), ("ozone", load_midwest_ozone)):
        d = load(max_entries=max_entries, seed=PILOT_DATA_SEED)
        tr, te = random_split(len(d.y), 0.2, seed=PILOT_SPLIT_SEED)
        Xtr, Xte = normalise_coordinates(d.X[tr], d.X[te])
        mu, sd = d.y[tr].mean(), d.y[tr].std()
        ytr = (d.y[tr] - mu) / sd
        for R in ranks:
            for res in resolutions:
                for impl, cls in (("ours CP", DiscreteCP), ("ours Tucker", DiscreteTucker),
                                  ("tensorly CP", TensorlyCP), ("tensorly Tucker", TensorlyTucker)):
                    t = time.process_time()
                    p = cls(rank=R, resolution=res, ridge=ridge, iters=iters, seed=0).fit(Xtr, ytr).predict(Xte) * sd + mu
                    rows.append(dict(dataset=dname, rank=R, resolution=res, implementation=impl,
                                     rmse=float(np.sqrt(np.mean((p - d.y[te]) ** 2))), cpu_s=time.process_time() - t))
                    print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "reproductions/funbat/tensorly_pilot.json"
    rows = run()
    with open(out, "w") as f:
        json.dump({"what": __doc__.strip().splitlines()[0], "data_seed": PILOT_DATA_SEED, "split_seed": PILOT_SPLIT_SEED,
                   "max_entries": 2000, "ranks": [3, 7], "ridge": 0.1, "iters": 50, "rows": rows}, f, indent=1)
    print("wrote", out)
