"""The tuning pilot of the DAPO reproduction, on tuning seeds that no evaluation run uses.

Run once before the evaluation run (``python scripts/dapo_pilot.py``); writes
``reproductions/dapo/pilot.json``:

1. per tuning seed, stage A and the critic once, then DPO, DAPO and the oracle control at each learning
   rate of one grid, shared by the arms ({1e-5, 3e-5, 1e-4}; beta fixed beforehand: DPO 0.1, the DPO
   paper's usual value, DAPO 0.3, which maps the critic's typical advantages of 0.1-0.2 to log-ratio
   targets of 0.3-0.7 nats); the same Adam steps and batch for every arm;
2. each arm's learning rate by its mean accuracy on *validation* prompts (seed 778; the evaluation
   prompts, seed 777, are never used here); the oracle control takes DAPO's;
3. the power computation: each claim's paired per-seed difference at the chosen settings on the tuning
   seeds, its standard deviation, the minimum detectable effect at several seed counts and the seeds
   needed for the margin (``paperlib.repro.claims.mde`` / ``seeds_needed``);
4. with ``--apply``, the choices become the notebook's defaults (``dapo_lr``, ``dpo_lr``, ``seeds``),
   the number of seeds capped by the quick profile's 15-minute budget (``MAX_SEEDS``; the cap is recorded).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperlib.dapo.experiment import DAPOConfig, critic_check, sampled_accuracy, dapo_examples, dpo_pairs, train_actor  # noqa: E402
from paperlib.repro.claims import load_spec, mde, seeds_needed  # noqa: E402

TUNING_SEEDS = (100, 101)
LRS = (1e-5, 3e-5, 1e-4)
BETAS = {"dpo": 0.1, "dapo": 0.3}
SEED_COUNTS = (4, 6, 8, 10, 16)
MAX_SEEDS = 6  # what the quick profile's 15 minutes hold on 2 cores (about 4 minutes a seed, 2 at a time)
MIN_SEEDS = 4


def notebook_defaults() -> dict:
    """The parameters cell of notebooks/dapo.py (the quick profile's values)."""
    src = (ROOT / "notebooks" / "dapo.py").read_text()
    cell = src.split('# %% tags=["parameters"]', 1)[1].split("# %%", 1)[0]
    ns: dict = {}
    exec(cell, ns)
    return {k: v for k, v in ns.items() if not k.startswith("__")}


def pilot_seed(sft_state, gpt_cfg, cfg_dict, val_n: int) -> dict:
    import torch

    from paperlib.data import arithmetic
    from paperlib.dapo.critic import train_critic
    from paperlib.dapo.experiment import check_problems, train_problems
    from paperlib.dapo.rollouts import stage_a
    from paperlib.nn.gpt import GPT, GPTConfig

    t0 = time.time()
    cfg = DAPOConfig(**cfg_dict)
    sft = GPT(GPTConfig(**gpt_cfg))
    sft.load_state_dict(sft_state)
    sft.eval()
    for p in sft.parameters():
        p.requires_grad_(False)
    val = arithmetic.sample_problems(val_n, 778, cfg.min_terms, cfg.max_terms, cfg.max_digits, width=cfg.width,
                                     min_digits=cfg.min_digits)

    def acc(policy):
        return sampled_accuracy(policy, val, cfg.eval_samples, 60_000 + cfg.seed, cfg.max_len)

    out = {"seed": cfg.seed, "rows": [], "sft_acc": acc(sft)}
    a = stage_a(sft, train_problems(cfg), cfg.n_rollouts, cfg.mc_samples, cfg.max_len, seed=20_000 + cfg.seed)
    critic, _ = train_critic(sft, a.problems, a.states, cfg.critic_epochs, cfg.critic_lr, cfg.critic_batch, seed=30_000 + cfg.seed)
    out["critic_check"] = critic_check(critic, check_problems(cfg))
    data = {"dpo": dpo_pairs(a, cfg.pairs_per_prompt, seed=40_000 + cfg.seed), "dapo": dapo_examples(a, critic),
            "oracle": dapo_examples(a, None, oracle=True)}
    for arm in ("dpo", "dapo", "oracle"):
        for lr in LRS:
            beta = BETAS["dpo" if arm == "dpo" else "dapo"]
            c = replace(cfg, dpo_lr=lr, dpo_beta=beta) if arm == "dpo" else replace(cfg, dapo_lr=lr, dapo_beta=beta)
            mid = {}
            policy, losses = train_actor(sft, arm, data[arm], c, on_eval=lambda step, pol: mid.setdefault("acc", acc(pol)))
            out["rows"].append(dict(arm=arm, lr=lr, beta=beta, seed=cfg.seed, val_acc=acc(policy),
                                    mid_val_acc=mid.get("acc"), final_loss=float(np.mean(losses[-10:])) if losses else None))
    out["wall_s"] = time.time() - t0
    return out


def main(out_path: str, workers: int, apply: bool, val_n: int = 256, smoke: bool = False) -> dict:
    import torch

    from paperlib.rl.sft import SFTConfig, train_sft
    from paperlib.training import run_in_workers

    t0 = time.time()
    nb = notebook_defaults()
    if smoke:  # the smoke profile's sizes: a test of this script, not a pilot
        nb.update(yaml.safe_load((ROOT / "reproductions" / "dapo" / "profiles.yaml").read_text())["smoke"])
    sft_cfg = SFTConfig(chunk_examples=nb["sft_chunk"], max_examples=nb["sft_max_examples"], p_error=nb["p_error"],
                        min_terms=nb["sft_min_terms"], max_terms=nb["sft_max_terms"], min_digits=nb["min_digits"],
                        max_digits=nb["max_digits"], width=nb["width"], lr=nb["sft_lr"], n_layer=nb["n_layer"],
                        n_head=nb["n_head"], n_embd=nb["n_embd"], block_size=nb["block_size"])
    sft, _ = train_sft(sft_cfg)
    keys = ("n_prompts", "min_terms", "max_terms", "min_digits", "max_digits", "width", "n_rollouts", "mc_samples",
            "critic_epochs", "critic_lr", "updates", "batch_size", "pairs_per_prompt", "eval_samples", "check_problems", "p_error")
    base = {k: nb[k] for k in keys}
    base["max_len"] = nb["block_size"]
    state = {k: v.cpu() for k, v in sft.state_dict().items()}
    args = [(state, asdict(sft.cfg), asdict(DAPOConfig(seed=s, **base)), val_n) for s in TUNING_SEEDS]
    res = run_in_workers(pilot_seed, args, workers, 1,
                         lambda i, r, n: print(f"tuning seed {r['seed']} done in {r['wall_s']:.0f} s", flush=True))
    rows = [row for r in res for row in r["rows"]]
    chosen = {}
    for arm in ("dpo", "dapo"):
        by_lr = {lr: np.mean([x["val_acc"] for x in rows if x["arm"] == arm and x["lr"] == lr]) for lr in LRS}
        chosen[arm] = max(LRS, key=lambda lr: (by_lr[lr], -lr))
    chosen["oracle"] = chosen["dapo"]

    def at(arm, key="val_acc"):
        return [next(x[key] for x in r["rows"] if x["arm"] == arm and x["lr"] == chosen[arm]) for r in res]

    meas = {"sft_acc": [r["sft_acc"] for r in res], "sft_mid_acc": [r["sft_acc"] for r in res],
            "dpo_acc": at("dpo"), "dapo_acc": at("dapo"), "oracle_acc": at("oracle"), "dapo_mid_acc": at("dapo", "mid_val_acc")}
    for k in ("hit_rate", "chance", "drop_at_first_wrong", "drop_at_right_steps"):
        meas[f"critic_{k}"] = [r["critic_check"][k] for r in res]
    spec = load_spec(yaml.safe_load((ROOT / "reproductions" / "dapo" / "claims.yaml").read_text()))
    power = []
    for kind in ("claims", "checks"):
        for entry in spec[kind]:
            for role, conds in (("control", entry.get("controls", [])), ("condition", entry["conditions"])):
                for c in conds:
                    v = np.array(meas[c["measurement"]]) - (np.array(meas[c["minus"]]) if c.get("minus") else 0)
                    sd = float(v.std(ddof=1))
                    power.append({"id": entry["id"], "role": role, "measurement": c["measurement"], "minus": c.get("minus"),
                                  "test": c["test"], "margin": c["margin"], "pilot_values": v.tolist(),
                                  "pilot_mean": float(v.mean()), "pilot_sd": sd,
                                  "mde_at": {n: mde(c["test"], sd, n) for n in SEED_COUNTS},
                                  "seeds_needed_for_margin": seeds_needed(c["test"], sd, c["margin"])})
    need = [p["seeds_needed_for_margin"] for p in power if p["id"].startswith("C")]
    wanted = max([n for n in need if n is not None] + [MIN_SEEDS])
    n_seeds = min(wanted, MAX_SEEDS)
    result = {"tuning_seeds": list(TUNING_SEEDS), "lr_grid": list(LRS), "betas": BETAS, "validation": {"prompts": val_n, "seed": 778},
              "criterion": "mean validation sampled accuracy over the tuning seeds at the end of training",
              "base": base, "rows": rows, "sft_val_acc": meas["sft_acc"], "critic_check": [r["critic_check"] for r in res],
              "chosen_lr": chosen, "measurements": meas, "power": power, "seeds_wanted": wanted,
              "seeds_used": n_seeds, "seed_cap": MAX_SEEDS, "wall_s": time.time() - t0}
    Path(out_path).write_text(json.dumps(result, indent=1))
    for p in power:
        print(f"{p['id']} {p['role']} {p['measurement']} - {p['minus']}: pilot {np.round(p['pilot_values'], 3).tolist()}, "
              f"sd {p['pilot_sd']:.4f}; seeds for the margin {p['seeds_needed_for_margin']}")
    print(f"chosen learning rates {chosen}; seeds wanted {wanted}, used {n_seeds}; {result['wall_s']:.0f} s")
    if apply:
        nbp = ROOT / "notebooks" / "dapo.py"
        src = nbp.read_text()
        src = re.sub(r"^dapo_lr = [^#]*#", f"dapo_lr = {chosen['dapo']!r}  #", src, count=1, flags=re.M)
        src = re.sub(r"^dpo_lr = [^#]*#", f"dpo_lr = {chosen['dpo']!r}  #", src, count=1, flags=re.M)
        src = re.sub(r"^seeds = \[[^\]]*\]  #", f"seeds = {list(range(n_seeds))}  #", src, count=1, flags=re.M)
        nbp.write_text(src)
        print("notebook defaults updated")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reproductions" / "dapo" / "pilot.json"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--val-prompts", type=int, default=256)
    ap.add_argument("--apply", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="the smoke profile's sizes (tests the script in seconds)")
    a = ap.parse_args()
    if a.smoke and a.apply:
        ap.error("--smoke never changes the notebook")
    main(a.out, a.workers, a.apply, a.val_prompts, a.smoke)
