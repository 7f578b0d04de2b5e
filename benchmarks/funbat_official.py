"""Side by side: the official FunBaT implementation against paperlib.funbat on the same synthetic data.

The official code is not part of this repository. Fetch it into a folder outside the repository and
run this script with an interpreter that has its dependencies (numpy < 2, torch, tensorly, scipy,
pyyaml, tqdm):

    git clone https://github.com/xuangu-fang/Functional-Bayesian-Tucker-Decomposition /tmp/funbat_official
    python3 -m venv /tmp/funbat_official_env
    /tmp/funbat_official_env/bin/pip install torch==2.13.0 "numpy<2" tensorly scipy pyyaml tqdm
    /tmp/funbat_official_env/bin/python benchmarks/funbat_official.py --official-dir /tmp/funbat_official

It builds our synthetic data (paperlib/funbat/synthetic.py: fresh test coordinates), converts it to the
official data dictionary (each mode's sorted unique train+test coordinates get consecutive ids, test-only
ids are "never seen"), runs the official epoch loop (tucker_continues.py / the synthetic notebook) with the
official synthetic config (notebook/config_synthetic_CP.yaml), and prints seconds per epoch and test
RMSE. ``--ours`` runs paperlib's FunBaT on the same data in the same process for comparison (it needs
paperlib's own dependencies on the path; by default the official run and ours are separate processes).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# notebook/config_synthetic_CP.yaml of the official repository
SYNTHETIC_CONFIG = dict(device="cpu", epoch=100, R_U=1, a0=1, b0=1, v=1, kernel="Matern_23",
                        lengthscale_list=[0.1, 0.1], variance_list=[0.5, 0.5], noise=1, DAMPING=0.1,
                        DAMPING_tau=0.2, DAMPING_gamma=0.5, CEP_UPDATE_INNNER_MODE=False, EVALU_EPOCH=-1)


def load_synthetic():
    spec = importlib.util.spec_from_file_location("funbat_synthetic", ROOT / "paperlib" / "funbat" / "synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod.make_synthetic


def official_data_dict(d, utils, hyper):
    """Our SyntheticTensor in the official data-dictionary format."""
    K = d.X_train.shape[1]
    c2d, d2c, tr_ids, te_ids, never = [], [], [], [], []
    for k in range(K):
        uni = np.unique(np.concatenate([d.X_train[:, k], d.X_test[:, k]]))
        c2d.append({float(c): i for i, c in enumerate(uni)})
        d2c.append({i: float(c) for i, c in enumerate(uni)})
        tr_ids.append(np.searchsorted(uni, d.X_train[:, k]))
        te_ids.append(np.searchsorted(uni, d.X_test[:, k]))
        never.append(sorted(set(te_ids[-1].tolist()) - set(tr_ids[-1].tolist())))
    data = dict(ndims=[len(c) for c in c2d], tr_ind_DISCT=np.stack(tr_ids, 1), te_ind_DISCT=np.stack(te_ids, 1),
                tr_ind_CONTI=d.X_train.copy(), te_ind_CONTI=d.X_test.copy(), tr_y=d.y_train.copy(),
                te_y=d.y_test.copy(), never_seen_test_idx=never, CONTI_2_DISCT_dicts=c2d, DISCT_2_CONTI_dicts=d2c)
    data["LDS_continues_mode_paras"] = utils.make_LDS_continues_mode_paras(hyper, data)
    return data


def run_official(official_dir, method, rank, seed, epochs, make_synthetic, standardise):
    import torch
    sys.path.insert(0, str(official_dir))
    import utils_continues as utils
    from model_continues_mode_tensor import Continues_Mode_Tensor_CP, Continues_Mode_Tensor_Tucker

    d = make_synthetic(seed)
    hyper = dict(SYNTHETIC_CONFIG, R_U=rank, epoch=epochs)
    hyper = utils.make_hyper_dict(hyper)
    data = official_data_dict(d, utils, hyper)
    mu, sd = (d.y_train.mean(), d.y_train.std()) if standardise else (0.0, 1.0)
    data["tr_y"] = (data["tr_y"] - mu) / sd
    data["te_y"] = (data["te_y"] - mu) / sd
    torch.manual_seed(seed)
    model = (Continues_Mode_Tensor_Tucker if method == "tucker" else Continues_Mode_Tensor_CP)(hyper, data)
    t0 = time.perf_counter()
    for _ in range(epochs):  # the official epoch loop (tucker_continues.py; CP: the synthetic notebook)
        model.reset()
        if hyper["CEP_UPDATE_INNNER_MODE"]:
            for mode in range(model.nmods):
                model.msg_approx_U(mode)
                model.LDS_update(mode)
                model.post_update_U(mode)
        else:
            for mode in range(model.nmods):
                model.msg_approx_U(mode)
            for mode in range(model.nmods):
                model.LDS_update(mode)
                model.post_update_U(mode)
        if method == "tucker":
            model.msg_approx_gamma()
            model.post_update_gamma()
        model.msg_approx_tau()
        model.post_update_tau()
    sec = (time.perf_counter() - t0) / epochs
    model.post_merge_U()
    pred, _ = model.model_test(model.te_ind_DISCT, model.te_y)
    pred = pred.detach().numpy().reshape(-1) * sd + mu
    return dict(impl="official", method=method, rank=rank, seed=seed, n_train=len(d.y_train),
                unique_per_mode=[int(len(np.unique(d.X_train[:, k]))) for k in range(2)], sec_per_epoch=sec,
                rmse=float(np.sqrt(np.mean((pred - d.y_test) ** 2))), mae=float(np.mean(np.abs(pred - d.y_test))),
                finite=bool(np.all(np.isfinite(pred))))


def run_ours(method, rank, seed, epochs, make_synthetic):
    sys.path.insert(0, str(ROOT))
    from paperlib.funbat import FunBaT

    d = make_synthetic(seed)
    cfg = SYNTHETIC_CONFIG
    m = FunBaT(rank=rank, core=method, kernel="matern32", lengthscale=cfg["lengthscale_list"][0],
               variance=cfg["variance_list"][0], damping=cfg["DAMPING"], damping_tau=cfg["DAMPING_tau"],
               damping_core=cfg["DAMPING_gamma"], epochs=epochs, seed=seed, standardize="scale").fit(d.X_train, d.y_train)
    pred = m.predict(d.X_test)
    return dict(impl="paperlib", method=method, rank=rank, seed=seed, n_train=len(d.y_train),
                unique_per_mode=[len(c) for c in m.coords_], sec_per_epoch=m.seconds_per_epoch_,
                rmse=float(np.sqrt(np.mean((pred - d.y_test) ** 2))), mae=float(np.mean(np.abs(pred - d.y_test))),
                finite=bool(np.all(np.isfinite(pred))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official-dir", type=Path, default=Path("/tmp/funbat_official"))
    ap.add_argument("--impl", choices=["official", "ours"], default="official")
    ap.add_argument("--method", choices=["cp", "tucker", "both"], default="both")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--standardise", action="store_true", help="official run on z-scored y (RMSE in original units)")
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    if args.impl == "official" and not (args.official_dir / "model_continues_mode_tensor.py").exists():
        sys.exit(f"official code not found in {args.official_dir}: clone "
                 "https://github.com/xuangu-fang/Functional-Bayesian-Tucker-Decomposition there (see this file's docstring)")
    make_synthetic = load_synthetic()
    rows = []
    methods = ["cp", "tucker"] if args.method == "both" else [args.method]
    for method in methods:
        for rank in args.ranks:
            for seed in args.seeds:
                if args.impl == "official":
                    row = run_official(args.official_dir, method, rank, seed, args.epochs, make_synthetic, args.standardise)
                else:
                    row = run_ours(method, rank, seed, args.epochs, make_synthetic)
                rows.append(row)
                print(f"{row['impl']:9s} {method:6s} R={rank} seed={seed}  n={row['n_train']}  unique/mode={row['unique_per_mode']}  "
                      f"{row['sec_per_epoch'] * 1e3:8.1f} ms/epoch  test RMSE {row['rmse']:.5f}  MAE {row['mae']:.5f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
