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
# kept only when their group accuracy lies in [0.2, 0.8].
#
# **At laptop scale.** The policy is a 0.16M-parameter GPT trained here by SFT on worked chain sums
# (`7+15+8=` -> `7+15=22;22+8=30;A30`, numbers least-significant digit first), half of whose carries into
# the hundreds are forgotten, so the SFT model finds that slip as likely as the right digit. This notebook
# measures:
# 1. **C1** sample efficiency (Figure 4, Table 3): training accuracy against steps for outcome-only RLOO and PRIME
#    (paper: PRIME reaches RLOO's final accuracy in 2.5x fewer steps, ratio 0.4), final and held-out accuracy;
# 2. **C2** online PRM updates (Figures 5 and 6): PRIME against PRIME with a PRM trained offline on SFT rollouts and
#    then frozen; the PRMs' accuracy on fresh rollouts over training;
# 3. **C3** process-level credit (Eq. 3): whether the lowest-reward step of a wrong solution is its first wrong step,
#    more often for the implicit PRM than for the SFT model's own token probabilities.
#
# The verdicts come from `reproductions/prime/claims.yaml`: paired per-seed differences of the per-arm measurements
# recorded below, with practical margins; our own checks are reported apart.

# %% tags=["parameters"]
seeds = [0, 1, 2, 3, 4]  # RL seeds of the RLOO and PRIME arms (C1 needs at least 5)
ablation_seeds = [0, 1, 2, 3, 4]  # RL seeds of the frozen-PRM and no-filter arms (the same as seeds: claims pair arms by seed)
arms = ["rloo", "prime", "prime_frozen", "prime_nofilter"]  # outcome-only RLOO, PRIME, frozen PRM, no accuracy filter
workers = 2  # parallel worker processes (one run each)
threads = 1  # torch threads per worker
device = "cpu"  # torch device of the RL runs: cpu | cuda
# task: chain sums with worked steps
min_terms = 3  # terms per prompt, uniform in [min_terms, max_terms]
max_terms = 7  # up to 6 worked steps
min_digits = 2  # digits per term, uniform in [min_digits, max_digits]
max_digits = 2
width = 3  # numbers zero-filled to this many digits
p_slip = 0.5  # SFT data: probability that a carry into the hundreds is forgotten
# SFT (cached in the cache directory by its configuration)
sft_chunk = 50000  # fresh worked solutions per SFT round (one pass each)
sft_max_examples = 300000  # SFT stops at its loss floor (+0.01 nats) or after this many examples
sft_lr = 0.002  # AdamW peak learning rate (one-cycle per round)
n_layer = 3  # GPT layers
n_head = 4  # attention heads
n_embd = 64  # width
block_size = 128  # longest prompt + solution
# RL (official run_prime_main.sh values where they carry over: K 4, filter [0.2, 0.8], clip 0.2, beta 0.05, no KL)
steps = 150  # RL steps per run
batch_prompts = 16  # prompts per step after filtering (official: 256)
n_samples = 4  # rollouts per prompt (official: 4)
mini_batches = 2  # PPO mini-batches per step, one pass
policy_lr = 1e-05  # Adam, policy: small enough that RLOO has not saturated after 150 steps (official 5e-7, 7B)
prm_lr = 2e-05  # Adam, PRM: twice the policy's, the official ratio (1e-6 vs 5e-7)
beta = 0.05  # PRM CE temperature (official beta_train)
clip = 0.2  # PPO clip range
acc_low = 0.2  # accuracy filter bounds
acc_high = 0.8
max_fill_rounds = 3  # generation rounds per step to fill the filtered batch
frozen_prm_steps = 40  # frozen arm: offline PRM updates on SFT rollouts before RL
eval_prompts = 128  # held-out prompts
eval_samples = 2  # sampled answers per held-out prompt
eval_every = 25  # steps between held-out evaluations
smooth_window = 10  # trailing window (steps) for training-accuracy curves and "final accuracy"
credit_problems = 300  # held-out wrong worked solutions for C3

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.nn.gpt import GPT, generate
from paperlib.data import arithmetic
from paperlib.prime import credit
from paperlib.prime.claims import final_accuracy, mean_over_training
from paperlib.prime.experiment import (early_late_change, run_all, sample_efficiency_ratio, smoothed)
from paperlib.prime.sft import SFTConfig, encode_prompts, train_sft
from paperlib.prime.trainer import ARMS, RLConfig, evaluate
from paperlib.repro.record import Run

torch.set_num_threads(max(threads, 1) * max(workers, 1))
run = Run("prime", globals())
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


bad = sorted(set(arms) - set(ARMS))
if bad:
    raise ValueError(f"unknown arm(s) {bad}; valid: {list(ARMS)}")
# claims.yaml compares these arms seed by seed (a measurement it names but the run never records is an error at the
# end of the run, so a run without them is refused here, before any training)
missing = [a for a in ("rloo", "prime", "prime_frozen", "prime_nofilter") if a not in arms]
if missing:
    raise ValueError(f"the claims and checks compare arms this configuration leaves out: {missing}")
if list(ablation_seeds) != list(seeds):
    raise ValueError(f"paired comparisons need the same seeds in every arm: seeds {seeds}, ablation_seeds {ablation_seeds}")

# %% [markdown]
# ## SFT model
# Teacher-forced next-token loss on the worked solutions (response tokens only), through Lightning, in rounds of
# fresh data until the loss reaches the data's entropy floor (the coin-flip slips) within 0.01 nats. The
# checkpoint is cached under the cache directory, keyed by this configuration.

# %%
sft_cfg = SFTConfig(chunk_examples=sft_chunk, max_examples=sft_max_examples, p_slip=p_slip, min_terms=min_terms,
                    max_terms=max_terms, min_digits=min_digits, max_digits=max_digits, width=width, lr=sft_lr,
                    n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size)
sft, sft_info = train_sft(sft_cfg, log=log)
run.metric("sft/params", sft_info["params"])
run.metric("sft/train_s", sft_info["train_s"])
run.metric("sft/final_loss", sft_info["final_loss"])
run.metric("sft/loss_floor", sft_info["loss_floor"])
run.metric("sft/examples", sft_info["examples"])
run.metric("sft/converged", sft_info["converged"])

rl_base = dict(steps=steps, batch_prompts=batch_prompts, n_samples=n_samples, mini_batches=mini_batches,
               policy_lr=policy_lr, prm_lr=prm_lr, beta=beta, clip=clip, acc_low=acc_low, acc_high=acc_high,
               max_fill_rounds=max_fill_rounds, max_new_tokens=block_size, min_terms=min_terms, max_terms=max_terms,
               min_digits=min_digits, max_digits=max_digits, width=width, frozen_prm_steps=frozen_prm_steps, eval_every=eval_every,
               eval_samples=eval_samples, device=device)
eval_set = arithmetic.sample_problems(eval_prompts, 777, min_terms, max_terms, max_digits, width=width, min_digits=min_digits)
probe_cfg = RLConfig(**rl_base)
by_terms = {}
x, xm = encode_prompts([p for p in eval_set for _ in range(4)])
toks, _ = generate(sft, x, xm, block_size, arithmetic.EOS, generator=torch.Generator().manual_seed(0), banned_ids=(arithmetic.BOS,))
for i, p in enumerate([p for p in eval_set for _ in range(4)]):
    by_terms.setdefault(len(p.terms), []).append(arithmetic.verify(p.terms, arithmetic.decode(toks[i, x.shape[1]:].tolist())))
sft_rows = [dict(terms=k, steps=k - 1, sampled_acc=float(np.mean(v)), n=len(v)) for k, v in sorted(by_terms.items())]
for r in sft_rows:
    run.metric(f"sft/sampled_acc/terms={r['terms']}", r["sampled_acc"])
run.metric("sft/sampled_acc", float(np.mean([a for v in by_terms.values() for a in v])))
run.metric("sft/greedy_acc", evaluate(sft, eval_set, probe_cfg, greedy=True))
log("SFT sampled accuracy by number of terms: " + ", ".join(f"{r['terms']}: {r['sampled_acc']:.2f}" for r in sft_rows)
    + f"; greedy {run.metrics['sft/greedy_acc']:.2f}")

# %% [markdown]
# ## RL runs
# Each arm and seed is one process (the seed sets the prompt stream, the sampling and the PPO shuffles; all
# arms start from the same SFT model). Training accuracy is the verifier's mean over every rollout generated
# in a step, before filtering, as the official trainer logs it.

# %%
jobs = [RLConfig(arm=a, seed=s, **rl_base) for a in arms for s in (seeds if a in ("rloo", "prime") else ablation_seeds)]
wrong = credit.wrong_solutions(credit_problems, 4242, min_terms, max_terms, max_digits, p_slip, width=width,
                               min_digits=min_digits)
results = run_all(sft, jobs, eval_set, credit_problems=wrong, workers=workers,
                  threads_per_worker=threads, keep_models_of={("prime", seeds[0])}, log=log)
R = {(r["arm"], r["seed"]): r for r in results}
for (a, s), r in R.items():
    run.metric(f"{a}/seed={s}/final_train_acc", final_accuracy(r["history"]["train_acc"], smooth_window))
    run.metric(f"{a}/seed={s}/final_heldout_acc", r["evals"]["acc"][-1])
    run.metric(f"{a}/seed={s}/sec_per_step", float(np.mean(r["history"]["sec"])))
# per arm and seed (seeds in the same order in every arm): what claims.yaml compares
for a in arms:
    ss = seeds if a in ("rloo", "prime") else ablation_seeds
    run.measure(f"{a}_final_train_acc", [final_accuracy(R[(a, s)]["history"]["train_acc"], smooth_window) for s in ss])
    run.measure(f"{a}_heldout_acc", [R[(a, s)]["evals"]["acc"][-1] for s in ss])
    if a != "rloo":
        run.measure(f"{a}_prm_acc_mean", [mean_over_training(R[(a, s)]["history"]["prm_pair_acc"]) for s in ss])

# %%
colors = {"rloo": "tab:blue", "prime": "tab:red", "prime_frozen": "tab:green", "prime_nofilter": "tab:purple"}
labels = {"rloo": "RLOO (outcome only)", "prime": "PRIME", "prime_frozen": "PRIME, frozen PRM",
          "prime_nofilter": "PRIME, no accuracy filter"}
curve_rows = []
fig, ax = plt.subplots(figsize=(6, 3.8))
for a in arms:
    ss = [s for (aa, s) in R if aa == a]
    curves = np.array([smoothed(R[(a, s)]["history"]["train_acc"], smooth_window) for s in ss])
    m, lo, hi = curves.mean(0), curves.min(0), curves.max(0)
    x_steps = np.arange(1, steps + 1)
    ax.plot(x_steps, m, color=colors[a], label=f"{labels[a]} ({len(ss)} seeds)")
    ax.fill_between(x_steps, lo, hi, color=colors[a], alpha=0.15)
    curve_rows += [dict(arm=a, step=int(t), mean=float(mm), min=float(l), max=float(h)) for t, mm, l, h in zip(x_steps, m, lo, hi)]
ax.set_xlabel("RL step"); ax.set_ylabel(f"training accuracy ({smooth_window}-step mean)")
ax.set_title("Training accuracy (mean, band = min-max over seeds)"); ax.legend(fontsize=7)
run.figure(fig, "training_accuracy", curve_rows)
plt.show()

# %% [markdown]
# ## C1: sample efficiency
# Per seed: the steps PRIME needs for its 10-step mean training accuracy to reach RLOO's final one (mean of
# RLOO's last 10 steps, same seed), divided by RLOO's number of steps (`sample_efficiency_ratio`). Paper: 0.4 (2.5x
# fewer steps). A run that never reaches it counts as 1 + 1/steps. With it, claims.yaml compares the final training
# accuracy and the held-out accuracy (sampled, 2 answers per prompt) of PRIME and RLOO seed by seed.

# %%
ratios, reached = [], []
for s in seeds:
    ratio, ok = sample_efficiency_ratio(R[("prime", s)]["history"]["train_acc"], R[("rloo", s)]["history"]["train_acc"],
                                        smooth_window)
    ratios.append(ratio); reached.append(ok)
run.measure("c1_step_ratio", ratios)
run.metric("c1/reached", reached)
log("C1 step ratio per seed: " + ", ".join(f"{r:.2f}" for r in ratios) + " (paper 0.4); held-out accuracy PRIME "
    + ", ".join(f"{v:.3f}" for v in run.measurements["prime_heldout_acc"]) + ", RLOO "
    + ", ".join(f"{v:.3f}" for v in run.measurements["rloo_heldout_acc"]))

# %% [markdown]
# ## C2: online PRM updates
# PRIME against PRIME with a frozen PRM (trained offline on SFT rollouts, the paper's offline-PRM
# ablation): final training accuracy (Figure 5), and the PRMs' pairwise accuracy on each step's fresh rollouts (the
# official `dpo_acc`: how often the PRM orders a correct above a wrong rollout of the same prompt), as the
# change from the first to the last quarter of training and as the mean over training (Figure 6).

# %%
frozen_change = [early_late_change(R[("prime_frozen", s)]["history"]["prm_pair_acc"]) for s in ablation_seeds]
online_change = [early_late_change(R[("prime", s)]["history"]["prm_pair_acc"]) for s in seeds]
prm_rows = []
run.measure("c2_frozen_prm_acc_change", frozen_change)
run.measure("c2_online_prm_acc_change", online_change)
fig, ax = plt.subplots(figsize=(6, 3.6))
for a in [a for a in arms if a != "rloo"]:
    ss = [s for (aa, s) in R if aa == a]
    curves = np.array([smoothed(np.nan_to_num(R[(a, s)]["history"]["prm_pair_acc"], nan=0.5), 2 * smooth_window) for s in ss])
    ax.plot(np.arange(1, steps + 1), curves.mean(0), color=colors[a], label=labels[a])
    ax.fill_between(np.arange(1, steps + 1), curves.min(0), curves.max(0), color=colors[a], alpha=0.15)
    prm_rows += [dict(arm=a, step=t + 1, mean=float(v)) for t, v in enumerate(curves.mean(0))]
ax.axhline(0.5, color="k", lw=0.5, ls=":")
ax.set_xlabel("RL step"); ax.set_ylabel("PRM pairwise accuracy on fresh rollouts")
ax.set_title(f"PRM accuracy ({2 * smooth_window}-step mean; band min-max over seeds)"); ax.legend(fontsize=7)
run.figure(fig, "prm_accuracy", prm_rows)
plt.show()
log("C2 final training accuracy PRIME " + ", ".join(f"{v:.3f}" for v in run.measurements["prime_final_train_acc"])
    + ", frozen PRM " + ", ".join(f"{v:.3f}" for v in run.measurements["prime_frozen_final_train_acc"])
    + "; PRM accuracy change, frozen: " + ", ".join(f"{d:+.3f}" for d in frozen_change) + ", online: "
    + ", ".join(f"{d:+.3f}" for d in online_change))

# %% [markdown]
# ## C3: process-level credit
# Held-out generated solutions with at least one forgotten carry; per solution, each step's score is the sum of
# its tokens' scores and the lowest-scoring step is compared with the first wrong step. Scorers: PRIME's trained
# implicit PRM ($\log\pi_\phi-\log\pi_{\mathrm{ref}}$), the frozen SFT model's own log-probabilities (the claim's
# comparison), and the RLOO-trained policy's log-ratio against the SFT model (our check X1).

# %%
prm_hits = [R[("prime", s)]["credit"]["implicit_prm"] for s in seeds]
sft_hits = [R[("prime", s)]["credit"]["sft_logprob"] for s in seeds]
ratio_hits = [R[("rloo", s)]["credit"]["policy_logratio"] for s in seeds]
run.measure("c3_prm_hits", prm_hits)
run.measure("c3_sft_hits", sft_hits)
run.measure("c3_rloo_logratio_hits", ratio_hits)
run.metric("c3/implicit_prm", float(np.mean(prm_hits)))
run.metric("c3/sft_logprob", float(np.mean(sft_hits)))
run.metric("c3/rloo_policy_logratio", float(np.mean(ratio_hits)))
run.metric("c3/chance", R[("prime", seeds[0])]["credit"]["chance"])
log(f"C3 first-wrong-step hit rate: implicit PRM {np.mean(prm_hits):.3f}, SFT log-prob {np.mean(sft_hits):.3f}, "
    f"RLOO policy log-ratio {np.mean(ratio_hits):.3f}, chance {run.metrics['c3/chance']:.3f}")

# %%
# A worked wrong solution coloured by the trained PRM's per-token process reward q_t
prm = GPT(sft.cfg)
prm.load_state_dict(R[("prime", seeds[0])]["prm_state"])
example = max((p for p in wrong if len(p.steps) <= 5), key=lambda p: (len(p.steps), p.first_error or 0))
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
ax.set_title(f"{example.prompt}  (first wrong step: {example.first_error + 1}; red = low q_t, blue = high; |q| max {lim:.2f})",
             fontsize=8, family="monospace")
run.figure(fig, "process_reward_example", [dict(position=i, char=c, q=float(v)) for i, (c, v) in enumerate(zip(chars, qv))])
plt.show()

# %% [markdown]
# ## Claims
# Verdicts from `reproductions/prime/claims.yaml`, computed from the per-seed measurements above.

# %%
run.check_claims()
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
