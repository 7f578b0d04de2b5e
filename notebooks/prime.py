# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Process Reinforcement through Implicit Rewards (PRIME)
# Cui et al., 2025 ([arXiv:2502.01456](https://arxiv.org/abs/2502.01456)); official code
# [PRIME-RL/PRIME](https://github.com/PRIME-RL/PRIME) (verl). Implemented after
# `training/verl/workers/actor/dp_prime.py`, `training/verl/trainer/ppo/core_algos.py` and
# `training/examples/run_prime_main.sh`.
#
# **The method.** An implicit process reward model (PRM) $\pi_\phi$, initialised from the SFT model, gives
# every token the reward $q_t=\log\pi_\phi(y_t|y_{<t})-\log\pi_{\mathrm{ref}}(y_t|y_{<t})$ (Eq. 3), and is
# updated online on each batch of policy rollouts from outcome labels only, with
# $\mathcal L_{CE}=\mathrm{BCE}\big(\sigma(\beta\sum_t q_t),\,r_o\big)$, $\beta=0.05$ (Eq. 4). Advantages are
# RLOO per reward source (K samples per prompt, leave-one-out), returns as reverse cumulative sums, the
# sources summed and whitened (Eq. 5-6); the policy takes token-level PPO-clip steps (Eq. 7). Prompts are
# kept only when their group accuracy lies in [0.2, 0.8]. As in the official run (1024 rollouts, mini-batches of
# 256 for the PRM and the policy), each RL step takes 4 PRM and 4 policy optimiser steps, and each PRM mini-batch
# is scored before its own update but after the earlier mini-batches' (`dp_prime.py: update_rm`).
#
# **At laptop scale.** The policy is a 0.16M-parameter GPT trained here by SFT on worked chain sums
# (`7+15+8=` -> `7+15=22;22+8=30;A30`, numbers least-significant digit first). In the SFT data 15% of the steps
# carry one error of four kinds (a units, tens or hundreds slip of the written sum, or a miscopied operand), so RL
# starts from a policy that makes errors of many kinds at many places of a 6-7-step chain: a task where the outcome
# says little about which decision went wrong, the regime in which process rewards can matter. A **positive
# control** checks that the set-up can show the effect at all: an oracle arm whose process reward is -1 on the
# generator-checked first wrong step must beat RLOO clearly, or C1 is not assessed. With an exact verifier the
control failed (a perfect first-error penalty was no faster than the outcome reward: `oracle_toy.py` shows why, under
PRIME's estimator with Adam, at any chain length), so the training verifier here also passes a fixed share of wrong
answers (`verifier_false_positive`, 20%, chosen on tuning seeds by `pilot_noisy.py`'s rule): a stand-in for the
right answers after wrong steps that the paper's exact-answer math verifier passes. Every accuracy reported (training,
held-out, the bank's labels) is the exact verifier's; the PRMs, like PRIME's, learn from the training verifier's
labels. This notebook measures:
# 1. **C1** sample efficiency (Figure 4, Table 3): both arms' first-hit times of RLOO's final training accuracy, the
#    area under the training-accuracy curve, and held-out accuracy (paper: PRIME needs 0.4 of RLOO's steps);
# 2. **C2** online PRM updates (Figures 5 and 6): PRIME against PRIME with a PRM trained offline on SFT rollouts to
#    convergence, then frozen; both PRMs scored on one fixed bank of rollouts drawn at several points of training;
# 3. **C3** process-level credit (Eq. 3): whether the lowest-reward step of a wrong solution is its first wrong step,
#    more often for the implicit PRM than for the SFT model's own token probabilities.
#
# The verdicts come from `reproductions/prime/claims.yaml`: paired per-seed differences of the per-arm measurements
# recorded below, with practical margins; our own checks are reported apart.

# %% tags=["parameters"]
seeds = [0, 1, 2, 3, 4]  # evaluation RL seeds, the same in every arm (the pilot used tuning seed 100 only)
arms = ["rloo", "oracle", "prime", "prime_frozen"]  # outcome-only RLOO, oracle-PRM control, PRIME, frozen PRM
workers = 2  # parallel worker processes (one run each)
threads = 1  # torch threads per worker
device = "cpu"  # torch device of the SFT and RL runs: cpu | cuda | auto (cuda when present)
precision = "32-true"  # Lightning precision of SFT and autocast of the RL runs: 32-true | bf16-mixed (GPU)
# task: chain sums with worked steps (paperlib.data.arithmetic)
min_terms = 6  # RL and evaluation prompts: terms uniform in [min_terms, max_terms] (5-6 worked steps)
max_terms = 7
min_digits = 2  # digits per term
max_digits = 2
width = 3  # numbers zero-filled to this many digits
p_error = 0.15  # SFT data: probability that a step is written with one error (units/tens/hundreds slip, miscopy)
verifier_false_positive = 0.2  # share of wrong answers the training verifier passes; accuracies stay exact (chosen on tuning seeds 100-101 by the rule of reproductions/prime/pilot_noisy.py)
# SFT (cached in the cache directory by its configuration)
sft_min_terms = 3  # SFT data: chains of sft_min_terms..sft_max_terms terms (short chains teach the addition)
sft_max_terms = 8
sft_chunk = 50000  # fresh worked solutions per SFT round (one pass each)
sft_max_examples = 300000  # SFT stops at its loss floor (+0.01 nats) or after this many examples
sft_lr = 0.002  # AdamW peak learning rate (one-cycle per round)
n_layer = 3  # GPT layers
n_head = 4  # attention heads
n_embd = 64  # width
block_size = 128  # longest prompt + solution
# RL (official run_prime_main.sh values where they carry over: K 4, filter [0.2, 0.8], clip 0.2, no KL)
steps = 100  # RL steps per run
batch_prompts = 16  # prompts per step after filtering (official: 256)
n_samples = 4  # rollouts per prompt (official: 4)
mini_batches = 4  # policy mini-batches per step, one pass (official: 1024 / 256)
prm_mini_batches = 4  # PRM mini-batches per step, one optimiser step each (official: 1024 / 256)
rloo_policy_lr = 1e-05  # Adam policy learning rates per arm, chosen on tuning seed 100 for the noisy verifier (reproductions/prime/pilot_q02.json)
oracle_policy_lr = 3e-05
prime_policy_lr = 1e-05  # PRIME and the frozen-PRM arm (RLOO's, as in the paper)
prm_lr = 0.0001  # Adam, PRM (pilot grid {1e-5, 3e-5, 1e-4}: chosen at its edge)
beta = 0.5  # PRM CE temperature (pilot grid {0.05, 0.2, 0.5}: chosen at its edge; official beta_train 0.05)
clip = 0.2  # PPO clip range
acc_low = 0.2  # accuracy filter bounds
acc_high = 0.8
max_fill_rounds = 3  # generation rounds per step to fill the filtered batch
frozen_prm_steps = 200  # frozen arm: most offline PRM batches on SFT rollouts (stops when validation CE stalls)
frozen_patience = 3  # validations (every 5 batches) without improvement before the offline PRM stops
eval_prompts = 128  # held-out prompts
eval_samples = 2  # sampled answers per held-out prompt
eval_every = 50  # steps between held-out evaluations
bank_prompts = 16  # fixed PRM-scoring bank: prompts x n_samples rollouts at each bank point
bank_fracs = [0.0, 0.33, 0.67, 1.0]  # bank points as fractions of training (rollouts of the PRIME policy)
smooth_window = 10  # trailing window (steps) for training-accuracy curves, first hits and "final accuracy"
credit_problems = 300  # held-out wrong worked solutions for C3
# a pretrained chat LM instead of the small GPT: the paper's recipe without SFT (policy = PRM init = reference = LM)
lm = ""  # "": the small GPT trained here by SFT; "smollm2" (SmolLM2-135M-Instruct from PyPI, offline) or a hub id
lm_task = "chain_sum"  # the LM's reasoning-gym task: chain_sum (min/max_terms, min/max_digits above; oracle steps) | gsm_symbolic
lm_max_new_tokens = 128  # longest LM response (tokens)
lm_precision = "auto"  # LM runs: auto (bf16-mixed on CUDA, 32 on CPU) | bf16-mixed | 32

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.nn.gpt import GPT, generate
from paperlib.data import arithmetic
from paperlib.prime import credit
from paperlib.prime.claims import final_accuracy, mean_over_training
from paperlib.prime.experiment import (area_under_curve, bank_pairwise_accuracy, early_late_change, first_hit_ratio,
                                       pretrained_lm, run_all, run_all_lm, smoothed)
from paperlib.prime.sft import SFTConfig, encode_prompts, train_sft
from paperlib.prime.tasks import ReasoningGymTask
from paperlib.prime.trainer import ARMS, RLConfig, evaluate
from paperlib.repro.record import Run
from paperlib.training import check_precision, resolve_device, trainer_settings

torch.set_num_threads(max(threads, 1) * max(workers, 1))
run = Run("prime", globals())
device = str(resolve_device(device))  # "auto" -> cuda or cpu, before any model is built
check_precision(precision)
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


bad = sorted(set(arms) - set(ARMS))
if bad:
    raise ValueError(f"unknown arm(s) {bad}; valid: {list(ARMS)}")
# claims.yaml compares these arms seed by seed (a measurement it names but the run never records is an error at the
# end of the run, so a run without them is refused here, before any training). On a pretrained LM (`lm`) a subset
# may run (the path check `lm-smoke`): the measurements it cannot produce are then named in `not_run`, and the
# claims that need them come out not assessed.
missing = [a for a in ("rloo", "oracle", "prime", "prime_frozen") if a not in arms]
if missing and not lm:
    raise ValueError(f"the claims and their control compare arms this configuration leaves out: {missing}")
if lm and "rloo" not in arms:
    raise ValueError("every comparison is against the rloo arm: include it in arms")
if lm and lm_task != "chain_sum" and "oracle" in arms:
    raise ValueError(f"the oracle arm needs step labels, which only lm_task='chain_sum' has, not {lm_task!r}")
lm_task_config = (dict(min_terms=min_terms, max_terms=max_terms, min_digits=min_digits, max_digits=max_digits)
                  if lm_task == "chain_sum" else {})


not_run = []  # claims measurements this configuration does not produce (LM runs only): their claims are not assessed


def not_measured(*names):
    not_run.extend(names)
if not 0 < smooth_window <= steps:
    raise ValueError(f"smooth_window must lie in [1, steps={steps}], got {smooth_window}")
if lm and verifier_false_positive:
    raise ValueError("verifier_false_positive applies to the chain sums of the small GPT only; set it to 0 with lm")

# %% [markdown]
# ## SFT model
# Teacher-forced next-token loss on the worked solutions (response tokens only), through Lightning, in rounds of
# fresh data until the loss reaches the data's entropy floor (the generator's error choices) within 0.01 nats, or a
# fixed number of examples. The checkpoint is cached under the cache directory, keyed by this configuration and the
# code that makes it.
#
# With `lm` set there is no SFT stage: the pretrained chat LM (an instruct model, itself fine-tuned) is the policy
# init, the PRM init and the frozen reference, as the paper initialises all three from one model, and the task is
# reasoning-gym's `lm_task` in the LM's chat format (`paperlib.prime.tasks.ReasoningGymTask`).

# %%
if lm:
    sft = pretrained_lm(lm, device, log=log)
    task = ReasoningGymTask(sft, lm_task, **lm_task_config)
    run.metric("lm/params", sft.num_params())
    run.metric("lm/load_s", sft.load_s)
    log(f"{lm}: {sft.num_params():,} parameters, loaded in {sft.load_s:.0f} s; task {lm_task} {lm_task_config}")
sft_cfg = SFTConfig(chunk_examples=sft_chunk, max_examples=sft_max_examples, p_error=p_error, min_terms=sft_min_terms,
                    max_terms=sft_max_terms, min_digits=min_digits, max_digits=max_digits, width=width, lr=sft_lr,
                    n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size)
if not lm:
    sft, sft_info = train_sft(sft_cfg, trainer_cfg=trainer_settings(device, precision), log=log)
    task = None  # the chain sums of the config (paperlib.prime.tasks.ArithmeticTask)
    for k in ("params", "train_s", "final_loss", "loss_floor", "examples", "converged"):
        run.metric(f"sft/{k}", sft_info[k])

arm_lr = {"rloo": rloo_policy_lr, "oracle": oracle_policy_lr, "prime": prime_policy_lr, "prime_frozen": prime_policy_lr}
rl_base = dict(steps=steps, batch_prompts=batch_prompts, n_samples=n_samples, mini_batches=mini_batches,
               prm_mini_batches=prm_mini_batches, prm_lr=prm_lr, beta=beta, clip=clip, acc_low=acc_low,
               acc_high=acc_high, max_fill_rounds=max_fill_rounds, max_new_tokens=lm_max_new_tokens if lm else block_size,
               min_terms=min_terms, max_terms=max_terms, min_digits=min_digits, max_digits=max_digits, width=width,
               frozen_prm_steps=frozen_prm_steps, frozen_patience=frozen_patience, eval_every=eval_every,
               eval_samples=eval_samples, device=device, precision=precision, false_positive=verifier_false_positive,
               bank_points=tuple(sorted({int(round(f * steps)) for f in bank_fracs})), bank_prompts=bank_prompts)
probe_cfg = RLConfig(**{**rl_base, "device": device if lm else "cpu"})  # the SFT model stays on the CPU in this process; the LM is on `device`
if lm:  # the LM's starting accuracy on the held-out prompts
    eval_set = task.problems(eval_prompts, 777)
    run.metric("sft/sampled_acc", evaluate(sft, eval_set, probe_cfg, samples=eval_samples, task=task))
    run.metric("sft/greedy_acc", evaluate(sft, eval_set, probe_cfg, greedy=True, task=task))
    log(f"{lm} on {lm_task}: sampled accuracy {run.metrics['sft/sampled_acc']:.2f}, greedy {run.metrics['sft/greedy_acc']:.2f}")
else:
    eval_set = arithmetic.sample_problems(eval_prompts, 777, min_terms, max_terms, max_digits, width=width,
                                          min_digits=min_digits)
by_terms = {}
if not lm:
    reps = [p for p in eval_set for _ in range(4)]
    x, xm = encode_prompts(reps)
    toks, _ = generate(sft, x, xm, block_size, arithmetic.EOS, generator=torch.Generator().manual_seed(0),
                       banned_ids=(arithmetic.BOS,))
    first_err = {}
    for i, p in enumerate(reps):
        resp = arithmetic.decode(toks[i, x.shape[1]:].tolist())
        by_terms.setdefault(len(p.terms), []).append(arithmetic.verify(p.terms, resp))
        k = arithmetic.first_error_span(p.terms, resp)
        first_err[k] = first_err.get(k, 0) + 1
    for k, v in sorted(by_terms.items()):
        run.metric(f"sft/sampled_acc/terms={k}", float(np.mean(v)))
    run.metric("sft/sampled_acc", float(np.mean([a for v in by_terms.values() for a in v])))
    run.metric("sft/greedy_acc", evaluate(sft, eval_set, probe_cfg, greedy=True))
    run.metric("sft/first_wrong_step_counts", {str(k): v for k, v in sorted(first_err.items(),
                                                                             key=lambda kv: (kv[0] is None, kv[0] or 0))})
    log("SFT sampled accuracy by number of terms: " + ", ".join(f"{k}: {np.mean(v):.2f}" for k, v in sorted(by_terms.items()))
        + f"; greedy {run.metrics['sft/greedy_acc']:.2f}; first wrong step of its samples: "
        f"{run.metrics['sft/first_wrong_step_counts']}")

# %% [markdown]
# ## RL runs
# Each arm and seed is one process (the seed sets the prompt stream, the sampling and the updates; all arms start
# from the same SFT model). Training accuracy is the verifier's mean over every rollout generated in a step, before
# filtering, as the official trainer logs it. The PRIME arm also draws the fixed bank: rollouts of fixed prompts by
# its policy at the bank points, with its online PRM's weights at those points.

# %%
jobs = [RLConfig(arm=a, seed=s, policy_lr=arm_lr[a], **rl_base) for a in arms for s in seeds]
if lm:  # one process (the LM is loaded once; one GPU); the bank only when the frozen arm is there to be compared
    bank_set = task.problems(bank_prompts, 888) if {"prime", "prime_frozen"} <= set(arms) else None
    results = run_all_lm(lm, lm_task, lm_task_config, jobs, eval_set, lm_precision, workers=1,
                         threads_per_worker=max(threads, 1) * max(workers, 1), log=log, bank_problems=bank_set)
else:
    wrong = credit.wrong_solutions(credit_problems, 4242, min_terms, max_terms, max_digits, width=width,
                                   min_digits=min_digits, p_error=p_error)
    bank_set = arithmetic.sample_problems(bank_prompts, 888, min_terms, max_terms, max_digits, width=width,
                                          min_digits=min_digits)
    results = run_all(sft, jobs, eval_set, credit_problems=wrong, workers=workers, threads_per_worker=threads,
                      keep_models_of={("prime", seeds[0])}, log=log, bank_problems=bank_set)
R = {(r["arm"], r["seed"]): r for r in results}
for (a, s), r in R.items():
    run.metric(f"{a}/seed={s}/final_train_acc", final_accuracy(r["history"]["train_acc"], smooth_window))
    run.metric(f"{a}/seed={s}/final_heldout_acc", r["evals"]["acc"][-1])
    run.metric(f"{a}/seed={s}/sec_per_step", float(np.mean(r["history"]["sec"])))
    if r["offline_prm"]:
        run.metric(f"{a}/seed={s}/offline_prm", {k: r["offline_prm"][k] for k in ("batches", "best_val_loss", "converged")})
# per arm and seed (seeds in the same order in every arm): what claims.yaml compares
for a in arms:
    run.measure(f"{a}_final_train_acc", [final_accuracy(R[(a, s)]["history"]["train_acc"], smooth_window) for s in seeds])
    run.measure(f"{a}_auc", [area_under_curve(R[(a, s)]["history"]["train_acc"]) for s in seeds])
    run.measure(f"{a}_heldout_acc", [R[(a, s)]["evals"]["acc"][-1] for s in seeds])
for a in missing:
    not_measured(f"{a}_final_train_acc", f"{a}_auc", f"{a}_heldout_acc")
if lm:
    run.metric("lm/steps_per_s", {a: float(np.mean([len(R[(a, s)]["history"]["step"]) / R[(a, s)]["wall_s"] for s in seeds]))
                                  for a in arms})
    run.metric("lm/run_wall_s", {a: float(np.mean([R[(a, s)]["wall_s"] for s in seeds])) for a in arms})

# %%
colors = {"rloo": "tab:blue", "oracle": "tab:gray", "prime": "tab:red", "prime_frozen": "tab:green"}
labels = {"rloo": "RLOO (outcome only)", "oracle": "oracle PRM (control)", "prime": "PRIME", "prime_frozen": "PRIME, frozen PRM"}
curve_rows = []
fig, ax = plt.subplots(figsize=(6, 3.8))
x_steps = np.arange(1, steps + 1)
for a in arms:
    curves = np.array([smoothed(R[(a, s)]["history"]["train_acc"], smooth_window) for s in seeds])
    m, lo, hi = curves.mean(0), curves.min(0), curves.max(0)
    ax.plot(x_steps, m, color=colors[a], label=f"{labels[a]} ({len(seeds)} seeds)")
    ax.fill_between(x_steps, lo, hi, color=colors[a], alpha=0.12)
    curve_rows += [dict(arm=a, step=int(t), mean=float(mm), min=float(l), max=float(h)) for t, mm, l, h in zip(x_steps, m, lo, hi)]
ax.set_xlabel("RL step"); ax.set_ylabel(f"training accuracy ({smooth_window}-step mean)")
ax.set_title("Training accuracy (mean, band = min-max over seeds)"); ax.legend(fontsize=7)
run.figure(fig, "training_accuracy", curve_rows)
plt.show()

# %% [markdown]
# ## C1: sample efficiency, with its positive control
# Per seed, the reference accuracy is RLOO's final training accuracy (mean of its last 10 steps); each arm's first-hit
# time is the first step at which its 10-step mean reaches it, computed the same way for RLOO
# (`first_hit_ratio`); the ratio is the arm's time over RLOO's (paper: 0.4). An arm that never reaches it counts as
# T + 1 steps. The **oracle control** must have a ratio clearly below 1, or the set-up cannot show C1 and the claim is
# not assessed. Alongside: the area under the training-accuracy curve (mean over steps) and held-out accuracy.

# %%
hits = {a: [first_hit_ratio(R[(a, s)]["history"]["train_acc"], R[("rloo", s)]["history"]["train_acc"], smooth_window)
            for s in seeds] for a in ("oracle", "prime", "prime_frozen") if a in arms}
not_measured(*(f"{a}_step_ratio" for a in missing if a != "rloo"))
for a, hs in hits.items():
    run.measure(f"{a}_step_ratio", [h["ratio"] for h in hs])
    run.metric(f"c1/{a}_first_hit", [{k: h[k] for k in ("t_arm", "t_rloo", "reference", "reached")} for h in hs])
log("C1 first-hit ratio vs RLOO per seed: " + "; ".join(
    f"{a} " + ", ".join(f"{h['ratio']:.2f}" for h in hs) for a, hs in hits.items())
    + " (paper 0.4); held-out accuracy PRIME " + ", ".join(f"{v:.3f}" for v in run.measurements["prime_heldout_acc"])
    + ", RLOO " + ", ".join(f"{v:.3f}" for v in run.measurements["rloo_heldout_acc"]))

# %% [markdown]
# ## C2: online PRM updates
# PRIME against PRIME with a frozen PRM (trained offline on SFT rollouts until its validation CE loss stops
# improving, the paper's offline-PRM ablation): final training accuracy (Figure 5), and each PRM's pairwise accuracy
# (the official `dpo_acc`: how often it orders a correct above a wrong rollout of the same prompt) on **one fixed
# bank** of rollouts, drawn from the PRIME policy at 0, 1/3, 2/3 and the end of training (Figure 6). The online PRM
# is scored at each of its snapshots after step 0 (at step 0 it equals the SFT model and scores every rollout 0);
# the frozen PRM of the same seed is scored once. Also recorded: each PRM's accuracy on its own arm's fresh rollouts.

# %%
for a in ("prime", "prime_frozen"):
    if a in arms:
        run.measure(f"{a}_prm_acc_mean", [mean_over_training(R[(a, s)]["history"]["prm_pair_acc"]) for s in seeds])
if "prime" in arms:
    run.measure("c2_online_prm_acc_change", [early_late_change(R[("prime", s)]["history"]["prm_pair_acc"]) for s in seeds])
else:
    not_measured("c2_online_prm_acc_change")
if bank_set is None:  # an LM run without the frozen arm
    not_measured("c2_online_bank_acc", "c2_frozen_bank_acc", "c2_frozen_bank_drift")
else:
    online_bank, frozen_bank, frozen_drift, bank_rows = [], [], [], []
    for s in seeds:
        bank = R[("prime", s)]["bank"]
        pts, parts = bank["points"], bank["parts"]
        fz = bank_pairwise_accuracy(R[("prime_frozen", s)]["frozen_prm_state"], sft, parts, n_samples)
        on = {t: bank_pairwise_accuracy(st, sft, parts, n_samples) for t, st in zip(pts, bank["prm_states"]) if t > 0}
        frozen_bank.append(float(np.mean(fz)))
        frozen_drift.append(fz[-1] - fz[0])
        online_bank.append(float(np.mean([np.mean(v) for v in on.values()])))
        bank_rows += [dict(seed=s, prm="frozen", prm_step=-1, bank_step=b, acc=v) for b, v in zip(pts, fz)]
        bank_rows += [dict(seed=s, prm="online", prm_step=t, bank_step=b, acc=v) for t, vs in on.items() for b, v in zip(pts, vs)]
    run.measure("c2_online_bank_acc", online_bank)
    run.measure("c2_frozen_bank_acc", frozen_bank)
    run.measure("c2_frozen_bank_drift", frozen_drift)

    fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
    pts = R[("prime", seeds[0])]["bank"]["points"]
    for who, col in (("frozen", colors["prime_frozen"]), ("online", colors["prime"])):
        rows_w = [r for r in bank_rows if r["prm"] == who and (who == "frozen" or r["prm_step"] == max(pts))]
        m = [np.mean([r["acc"] for r in rows_w if r["bank_step"] == b]) for b in pts]
        axs[0].plot(pts, m, "o-", color=col, label=f"{who} PRM" + (" (end of training)" if who == "online" else ""))
    axs[0].axhline(0.5, color="k", lw=0.5, ls=":")
    axs[0].set_xlabel("RL step at which the bank rollouts were drawn"); axs[0].set_ylabel("pairwise accuracy")
    axs[0].set_title("PRMs on the fixed bank, by bank part"); axs[0].legend(fontsize=7)
    snaps = sorted({r["prm_step"] for r in bank_rows if r["prm"] == "online"})
    axs[1].plot(snaps, [np.mean([r["acc"] for r in bank_rows if r["prm"] == "online" and r["prm_step"] == t]) for t in snaps],
                "o-", color=colors["prime"], label="online PRM (whole bank)")
    axs[1].axhline(np.mean(frozen_bank), color=colors["prime_frozen"], label="frozen PRM (whole bank)")
    for a in ("prime", "prime_frozen"):
        c = np.array([smoothed(np.nan_to_num(R[(a, s)]["history"]["prm_pair_acc"], nan=0.5), 2 * smooth_window) for s in seeds])
        axs[1].plot(x_steps, c.mean(0), color=colors[a], alpha=0.4, lw=1, ls="--", label=f"{labels[a]}: own fresh rollouts")
    axs[1].axhline(0.5, color="k", lw=0.5, ls=":")
    axs[1].set_xlabel("RL step"); axs[1].set_ylabel("pairwise accuracy"); axs[1].set_title("PRM accuracy over training")
    axs[1].legend(fontsize=6)
    run.figure(fig, "prm_accuracy", bank_rows)
    plt.show()
    log("C2 final training accuracy PRIME " + ", ".join(f"{v:.3f}" for v in run.measurements["prime_final_train_acc"])
        + ", frozen PRM " + ", ".join(f"{v:.3f}" for v in run.measurements["prime_frozen_final_train_acc"])
        + "; bank accuracy online " + ", ".join(f"{v:.3f}" for v in online_bank) + ", frozen "
        + ", ".join(f"{v:.3f}" for v in frozen_bank))

# %% [markdown]
# ## C3: process-level credit
# Held-out generated solutions with at least one error (of the SFT data's kinds); per solution, each step's score is
# the sum of its tokens' scores and the lowest-scoring step is compared with the first wrong step. Scorers: PRIME's
# trained implicit PRM ($\log\pi_\phi-\log\pi_{\mathrm{ref}}$) against the SFT model's own log-probabilities (the
# claim); the RLOO-trained policy's log-ratio against the SFT model is our check X1.

# %%
if lm:  # the credit probe reads the small GPT's worked solutions
    not_measured("c3_prm_hits", "c3_sft_hits", "c3_rloo_logratio_hits")
else:
    prm_hits = [R[("prime", s)]["credit"]["implicit_prm"] for s in seeds]
    sft_hits = [R[("prime", s)]["credit"]["sft_logprob"] for s in seeds]
    ratio_hits = [R[("rloo", s)]["credit"]["policy_logratio"] for s in seeds]
    run.measure("c3_prm_hits", prm_hits)
    run.measure("c3_sft_hits", sft_hits)
    run.measure("c3_rloo_logratio_hits", ratio_hits)
    run.metric("c3/chance", R[("prime", seeds[0])]["credit"]["chance"])
    log(f"C3 first-wrong-step hit rate: implicit PRM {np.mean(prm_hits):.3f}, SFT log-prob {np.mean(sft_hits):.3f}, "
        f"RLOO policy log-ratio {np.mean(ratio_hits):.3f}, chance {run.metrics['c3/chance']:.3f}")

# %%
# A worked wrong solution coloured by the trained PRM's per-token process reward q_t
if not lm:
    prm = GPT(sft.cfg)
    prm.load_state_dict(R[("prime", seeds[0])]["prm_state"])
    example = max((p for p in wrong if len(p.steps) <= 6), key=lambda p: (len(p.steps), p.first_error or 0))
    tokens, mask, P = credit.encode_with_responses([example])
    q = (credit.token_log_probs(prm, tokens, mask, P) - credit.token_log_probs(sft, tokens, mask, P))[0]
    chars = arithmetic.decode(tokens[0, P:].tolist())
    qv = q[: len(chars)].numpy()
    lim = max(abs(qv).max(), 1e-6)
    fig, ax = plt.subplots(figsize=(min(0.16 * len(chars) + 1.5, 16), 1.4))
    cmap = plt.get_cmap("RdBu")
    for i, (c, v) in enumerate(zip(chars, qv)):
        ax.text(i, 0, c, ha="center", va="center", family="monospace", fontsize=10,
                bbox=dict(boxstyle="square,pad=0.15", fc=cmap(0.5 + 0.5 * v / lim), ec="none"))
    ax.set_xlim(-1, len(chars)); ax.set_ylim(-1, 1); ax.axis("off")
    ax.set_title(f"{example.prompt}  (first wrong step: {example.first_error + 1}, {example.error_kinds[0]}; red = low q_t, "
                 f"blue = high; |q| max {lim:.2f})", fontsize=8, family="monospace")
    run.figure(fig, "process_reward_example", [dict(position=i, char=c, q=float(v)) for i, (c, v) in enumerate(zip(chars, qv))])
    plt.show()

# %% [markdown]
# ## Claims
# Verdicts from `reproductions/prime/claims.yaml`, computed from the per-seed measurements above.

# %%
run.check_claims(not_run=not_run)
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
