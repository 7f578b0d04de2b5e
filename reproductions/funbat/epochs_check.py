"""Why the quick profile keeps the official configs' epochs: the training fit of FunBaT-Tucker on Colorado (fold 0,
R = 3, the US-Temp Tucker config, one initialisation) at 30, 100 and 200 epochs, and at 1000 entries. Training
data only: a fit whose training RMSE equals the training std never left the mean. Output: epochs_check.txt.

    python reproductions/funbat/epochs_check.py > reproductions/funbat/epochs_check.txt
"""
import time

import numpy as np
import torch

from paperlib.data.spatiotemporal import load_colorado_temperature, normalise_coordinates, random_split
from paperlib.funbat import FunBaT
from paperlib.funbat.experiment import CONFIGS

torch.set_num_threads(1)


def fit_row(n_entries, epochs, lengthscale, rank=3):
    d = load_colorado_temperature(max_entries=n_entries, seed=0)
    tr, _ = random_split(len(d.y), 0.2, seed=0)
    Xtr, _ = normalise_coordinates(d.X[tr], d.X[tr])
    ytr = d.y[tr]
    cfg = {**CONFIGS["colorado"]["tucker"], "epochs": epochs, "lengthscale": lengthscale}
    t0 = time.perf_counter()
    m = FunBaT(rank=rank, core="tucker", seed=1, **cfg).fit(Xtr, ytr)
    rmse = float(np.sqrt(np.mean((m.predict(Xtr) - ytr) ** 2)))
    print(f"| {n_entries} | {rank} | {epochs} | {lengthscale} | {rmse:.3f} | {ytr.std():.3f} | {time.perf_counter() - t0:.1f} |",
          flush=True)


print("| entries | R | epochs | lengthscale | training RMSE | training std | seconds (1 thread) |")
print("|---|---|---|---|---|---|---|")
for epochs in (30, 100, 200):
    for ls in (0.25, 0.5, 1.0):
        fit_row(2000, epochs, ls)
for rank in (3, 7):
    fit_row(1000, 200, 0.5, rank)
