# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Improving Multi-Step Reasoning Abilities of LLMs with Direct Advantage Policy Optimization (DAPO)
# Liu, Wang, Liu, Zeng, Yan, Sun, Liu & Zhou, 2024 ([arXiv:2412.18279](https://arxiv.org/abs/2412.18279)).
# No official code was found (see REPORT.md).
#
# **The method.** A step-level offline RL algorithm in two stages that never train together (paper Section 3,
# Figure 1). *Stage A*: the reference policy $\pi_{\mathrm{ref}}$ writes solutions; every prefix ending at a step
# boundary is a state $s$; $\pi_{\mathrm{ref}}$ completes each state several times and the share of correct
# completions is a Monte-Carlo estimate of $V^{\pi_{\mathrm{ref}}}(s)$, which a critic $V_\phi$ learns
# (`paperlib.dapo.rollouts.stage_a`, `paperlib.dapo.critic.train_critic`). *Stage B*: each sampled next step
# $a\sim\pi_{\mathrm{ref}}(\cdot|s)$ gets the advantage $A(s,a)=V_\phi(s\oplus a)-V_\phi(s)$ (the verifier's reward when
# $a$ ends the solution), and the actor minimises
# $\mathbb{E}\big[(\log\pi_\theta(a|s)-\log\pi_{\mathrm{ref}}(a|s)-A(s,a)/\beta)^2\big]$, the squared distance of its
# step log-ratio to the scaled advantage that the KL-regularised optimum
# $\pi^*\propto\pi_{\mathrm{ref}}\exp(A/\beta)$ has (`paperlib.dapo.objective.dapo_loss`).
#
# **At laptop scale.** The chain-sum task of the PRIME reproduction (`paperlib.data.arithmetic`: `7+15+8=` ->
# `7+15=22;22+8=30;A30`, numbers least-significant digit first, each step a reasoning step) and its SFT policy (a
# 0.16M-parameter GPT trained on worked solutions of which 15% of the steps carry one error; `paperlib.rl.sft`,
# the same cached checkpoint). Arms, all from the same $\pi_{\mathrm{ref}}$ samples of one seed:
# **SFT** (the reference policy), **DPO** on (correct, wrong) pairs of complete solutions (outcome-only offline
# alignment), **DAPO**, and the **positive control**: DAPO with an oracle critic (a state after a
# generator-checked wrong step has value 0, a right state the reference policy's measured completion rate).
# The task knows where the first wrong step of a solution is, which checks the critic: does its value drop there?
#
# Learning rates and $\beta$ were chosen on tuning seeds 100-101 by validation accuracy, and the number of evaluation
# seeds by a power computation on them (`scripts/dapo_pilot.py`, `reproductions/dapo/pilot.json`). The verdicts come
# from `reproductions/dapo/claims.yaml`: paired per-seed differences with margins fixed before the evaluation run.

# %% tags=["parameters"]
seeds = [0, 1, 2, 3, 4]  # evaluation seeds (the pilot's tuning seeds 100-101 are not among them)
workers = 2  # worker processes (one seed each)
threads = 1  # torch threads per worker
device = "cpu"  # torch device of every seed's models: cpu | cuda[:N] | auto (cuda when present)
precision = "32-true"  # autocast of the seed's forward passes: 32-true | bf16-mixed | 16-mixed
lm = ""  # "": the small GPT on chain sums; "smollm2" (SmolLM2-135M-Instruct from PyPI, offline) or a hub id: a real LM
task = "arithmetic"  # arithmetic (paperlib.data.arithmetic) | chain_sum | gsm_symbolic (reasoning-gym, with lm)
lm_max_new_tokens = 128  # LM runs: longest response or continuation (tokens)
lm_eval_chunk = 64  # LM runs: most sequences sampled at once in the held-out evaluation
# task: chain sums with worked steps (paperlib.data.arithmetic)
min_terms = 5  # training and evaluation prompts: terms uniform in [min_terms, max_terms] (4-5 worked steps)
max_terms = 6
min_digits = 2  # digits per term
max_digits = 2
width = 3  # numbers zero-filled to this many digits
p_error = 0.15  # SFT data: probability that a step is written with one error (also the critic check's solutions)
# SFT policy = pi_ref (the PRIME reproduction's SFT model; cached by this configuration and its code)
sft_min_terms = 3  # SFT data: chains of sft_min_terms..sft_max_terms terms
sft_max_terms = 8
sft_chunk = 50000  # fresh worked solutions per SFT round (one pass each)
sft_max_examples = 300000  # SFT stops at its loss floor (+0.01 nats) or after this many examples
sft_lr = 0.002  # AdamW peak learning rate (one-cycle per round)
n_layer = 3  # GPT layers
n_head = 4  # attention heads
n_embd = 64  # width
block_size = 128  # longest prompt + solution
# stage A: states and their Monte-Carlo values
n_prompts = 64  # training prompts per seed
n_rollouts = 2  # reference solutions per prompt (their step prefixes are the states)
mc_samples = 4  # reference completions per state (MC value; their first steps are the actions of stage B)
critic_epochs = 6  # passes of the critic over the states
critic_lr = 0.0003  # Adam
# stage B and DPO: the same budget (Adam steps x batch) on the same samples
updates = 80  # Adam steps per trained arm
batch_size = 32  # (state, step) pairs (DAPO) or (chosen, rejected) pairs (DPO) per step
dapo_lr = 1e-05  # Adam, DAPO and the oracle control (pilot grid {1e-5, 3e-5, 1e-4})
dapo_beta = 0.3  # DAPO's beta, fixed before the pilot (critic advantages of 0.1-0.2 -> log-ratio targets of 0.3-0.7 nats)
dpo_lr = 1e-05  # Adam, DPO (pilot grid {1e-5, 3e-5, 1e-4})
dpo_beta = 0.1  # DPO's beta, the DPO paper's usual value, fixed before the pilot
pairs_per_prompt = 16  # most DPO pairs per prompt
# evaluation
eval_prompts = 384  # held-out prompts (fixed; never used for a choice)
eval_samples = 2  # sampled answers per prompt (temperature 1)
check_problems = 300  # held-out generator solutions with a known first wrong step (critic check)

# %%
import time
from dataclasses import asdict

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.dapo.claims import seed_spread
from paperlib.dapo.experiment import ARMS, DAPOConfig, pretrained_lm, run_all, run_all_lm
from paperlib.repro.record import Run
from paperlib.rl.sft import SFTConfig, train_sft
from paperlib.training import check_precision, resolve_device

torch.set_num_threads(max(threads, 1) * max(workers, 1))
run = Run("dapo", globals())
device = str(resolve_device(device))  # "auto" -> cuda or cpu, before any model is built
check_precision(precision)
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


if not seeds or len(set(seeds)) != len(seeds):
    raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
if bool(lm) != (task != "arithmetic"):
    raise ValueError(f"lm={lm!r}, task={task!r}: the small GPT (lm='') runs task='arithmetic'; a pretrained LM runs a "
                     "reasoning-gym task (chain_sum or gsm_symbolic)")
if lm and task not in ("chain_sum", "gsm_symbolic"):
    raise ValueError(f"unknown reasoning-gym task {task!r}; valid: chain_sum, gsm_symbolic")
# gsm_symbolic has no step labels: neither the oracle control nor the critic check can run; their claims are not assessed
arms = ARMS if task in ("arithmetic", "chain_sum") else tuple(a for a in ARMS if a != "oracle")
not_run = [] if "oracle" in arms else ["oracle_acc", "oracle_mid_acc"]
if task == "gsm_symbolic":
    not_run += [f"critic_{k}" for k in ("hit_rate", "chance", "drop_at_first_wrong", "drop_at_right_steps")]
if set(seeds) & {100, 101}:
    raise ValueError("seeds 100 and 101 were the pilot's tuning seeds; evaluation seeds must differ")

# %% [markdown]
# ## The reference policy
# The SFT model of the PRIME reproduction (its configuration is this notebook's `sft_*` parameters and model
# sizes; with the defaults it is the same cached checkpoint). Its sampled accuracy on the evaluation prompts is
# the SFT arm.

#
# With `lm` set there is no SFT stage: the pretrained chat LM (an instruct model, itself fine-tuned) is the reference
# policy, the actor's and the critic's initialisation, and the task is reasoning-gym's `task` in the LM's chat format
# (`paperlib.dapo.tasks.ReasoningSteps`: a free-form response is cut into steps on its text, each equation of a
# chain_sum response one step, and each step's last character mapped to its token).

# %%
if lm:
    lm_task_config = (dict(min_terms=min_terms, max_terms=max_terms, min_digits=min_digits, max_digits=max_digits)
                      if task == "chain_sum" else {})
    sft = pretrained_lm(lm, device, log=log)  # loaded once here; run_all_lm reuses it in this process (workers=1)
    run.metric("lm/params", sft.num_params())
    run.metric("lm/load_s", sft.load_s)
    log(f"{lm}: {sft.num_params():,} parameters, loaded in {sft.load_s:.0f} s; task {task} {lm_task_config}")
sft_cfg = SFTConfig(chunk_examples=sft_chunk, max_examples=sft_max_examples, p_error=p_error, min_terms=sft_min_terms,
                    max_terms=sft_max_terms, min_digits=min_digits, max_digits=max_digits, width=width, lr=sft_lr,
                    n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size)
if not lm:
    sft, sft_info = train_sft(sft_cfg, log=log)
    for k in ("params", "final_loss", "loss_floor", "examples", "converged"):
        run.metric(f"sft/{k}", sft_info[k])
    run.metric("sft/cache_key", sft_cfg.key())

# %% [markdown]
# ## Stage A, critic, stage B: every arm, every seed
# One seed draws its training prompts, the reference samples (solutions, states, MC completions), the critic's
# initialisation and the order of the actor's mini-batches; all arms of a seed share them. DPO and DAPO take
# `updates` Adam steps of `batch_size` pairs each; both are evaluated halfway and at the end on the same held-out
# prompts (sampled answers, temperature 1).

# %%
base = dict(arms=arms, n_prompts=n_prompts, min_terms=min_terms, max_terms=max_terms, min_digits=min_digits,
            max_digits=max_digits, width=width, max_len=lm_max_new_tokens if lm else block_size, n_rollouts=n_rollouts,
            mc_samples=mc_samples, critic_epochs=critic_epochs, critic_lr=critic_lr, updates=updates,
            batch_size=batch_size, dapo_lr=dapo_lr, dapo_beta=dapo_beta, dpo_lr=dpo_lr, dpo_beta=dpo_beta,
            pairs_per_prompt=pairs_per_prompt, eval_prompts=eval_prompts, eval_samples=eval_samples,
            check_problems=check_problems, p_error=p_error, device=device, precision=precision,
            eval_chunk=lm_eval_chunk if lm else 0)
cfgs = [DAPOConfig(seed=s, **base) for s in seeds]
if lm:  # one process (the LM is loaded once; one GPU)
    results = run_all_lm(lm, task, lm_task_config, cfgs, workers=1, threads_per_worker=max(threads, 1) * max(workers, 1),
                         log=log)
else:
    results = run_all(sft, cfgs, workers=workers, threads_per_worker=threads, log=log)
R = {r["seed"]: r for r in results}
for a in arms:
    run.measure(f"{a}_acc", [R[s]["acc"][a] for s in seeds])
    run.measure(f"{a}_mid_acc", [R[s]["mid_acc"][a] for s in seeds])
if "critic_hit_rate" not in not_run:
    for k in ("hit_rate", "chance", "drop_at_first_wrong", "drop_at_right_steps"):
        run.measure(f"critic_{k}", [R[s]["critic_check"][k] for s in seeds])
for s in seeds:
    run.metric(f"seed={s}/stage_a", R[s]["stage_a"])
    run.metric(f"seed={s}/critic", R[s]["critic"])
    run.metric(f"seed={s}/arms", R[s]["arms"])
    run.metric(f"seed={s}/wall_s", R[s]["wall_s"])
run.metric("spread", {a: seed_spread(run.measurements[f"{a}_acc"]) for a in arms})
log("accuracy (mean over seeds): " + ", ".join(f"{a} {np.mean(run.measurements[f'{a}_acc']):.3f}" for a in arms))

# %% [markdown]
# ## Accuracy per arm
# Held-out sampled accuracy of every arm, one dot per seed (lines join a seed's arms: the comparisons are paired).

# %%
colors = {"sft": "tab:gray", "dpo": "tab:blue", "dapo": "tab:red", "oracle": "tab:green"}
labels = {"sft": "SFT (pi_ref)", "dpo": "DPO (outcome pairs)", "dapo": "DAPO (critic)", "oracle": "DAPO, oracle critic\n(control)"}
rows = [dict(seed=s, arm=a, acc=R[s]["acc"][a], mid_acc=R[s]["mid_acc"][a]) for s in seeds for a in arms]
fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
for s in seeds:
    axs[0].plot(range(len(arms)), [R[s]["acc"][a] for a in arms], color="k", alpha=0.15, lw=0.8)
for i, a in enumerate(arms):
    v = run.measurements[f"{a}_acc"]
    axs[0].scatter([i] * len(v), v, color=colors[a], s=18, zorder=3)
    axs[0].errorbar(i + 0.15, np.mean(v), yerr=np.std(v, ddof=1) if len(v) > 1 else 0, fmt="D", color=colors[a], ms=6)
axs[0].set_xticks(range(len(arms)), [labels[a] for a in arms], fontsize=7)
axs[0].set_ylabel("held-out sampled accuracy"); axs[0].set_title("Accuracy per arm (dots: seeds; diamond: mean +- sd)")
for a in [a for a in ("dpo", "dapo", "oracle") if a in arms]:
    m = [np.mean(run.measurements[f"{a}_{k}"]) for k in ("mid_acc", "acc")]
    axs[1].plot([0, updates // 2, updates], [np.mean(run.measurements["sft_acc"])] + m, "o-", color=colors[a], label=labels[a].replace("\n", " "))
axs[1].set_xlabel("Adam steps"); axs[1].set_ylabel("held-out sampled accuracy (mean over seeds)")
axs[1].set_title("During training"); axs[1].legend(fontsize=7)
run.figure(fig, "accuracy", rows)
plt.show()

# %% [markdown]
# ## Does the critic's value drop at the first wrong step?
# Held-out generator solutions with at least one error of the SFT data's kinds; the critic scores the state
# before every step and after it. Left: the value at the states around the first wrong step (0 = the state
# just before it, 1 = just after it), mean over solutions and seeds. Right: per seed, the share of solutions whose
# largest drop $V(s_{k+1})-V(s_k)$ is at the first wrong step, against chance (1 / number of steps).

# %%
rel = sorted({int(k) for s in seeds for k in R[s]["critic_check"]["value_around_first_wrong"]})
vals = np.array([[R[s]["critic_check"]["value_around_first_wrong"][str(k)] for k in rel] for s in seeds])
crow = [dict(seed=s, rel_state=k, value=R[s]["critic_check"]["value_around_first_wrong"][str(k)]) for s in seeds for k in rel]
fig, axs = plt.subplots(1, 2, figsize=(10, 3.4))
axs[0].plot(rel, np.nanmean(vals, 0), "o-", color=colors["dapo"])
for v in vals:
    axs[0].plot(rel, v, color=colors["dapo"], alpha=0.2, lw=0.8)
axs[0].axvspan(0, 1, color="tab:orange", alpha=0.15, label="the first wrong step")
axs[0].set_xlabel("state, relative to the first wrong step"); axs[0].set_ylabel("critic value V(s)")
axs[0].set_title("Critic value along a wrong solution"); axs[0].legend(fontsize=7)
x = np.arange(len(seeds))
cc = {k: [R[s]["critic_check"][k] for s in seeds] for k in ("hit_rate", "chance", "drop_at_first_wrong", "drop_at_right_steps")}
axs[1].bar(x - 0.2, cc["hit_rate"], 0.4, color=colors["dapo"], label="largest drop at the first wrong step")
axs[1].bar(x + 0.2, cc["chance"], 0.4, color="tab:gray", label="chance")
axs[1].set_xticks(x, [str(s) for s in seeds]); axs[1].set_xlabel("seed"); axs[1].set_ylabel("share of solutions")
axs[1].legend(fontsize=7); axs[1].set_title("Locating the first wrong step")
run.figure(fig, "critic_value", crow)
plt.show()
log(f"critic: hit rate {np.mean(cc['hit_rate']):.3f} (chance {np.mean(cc['chance']):.3f}); "
    f"mean value change at the first wrong step {np.mean(cc['drop_at_first_wrong']):+.3f}, "
    f"at right steps {np.mean(cc['drop_at_right_steps']):+.3f}")

# %% [markdown]
# ## Claims
# Verdicts from `reproductions/dapo/claims.yaml`, computed from the per-seed measurements above.

# %%
run.check_claims(not_run=not_run)
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
