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
# # Low-Resource Multi-Granularity Academic Function Recognition Based on Multiple Prompt Knowledge (MPT)
# Liu, Xiong, Jiang, Ma, Lu, Huang, Cheng, 2023 ([arXiv:2305.03287](https://arxiv.org/abs/2305.03287)); no official
# code is published, so this follows the paper's description.
#
# **The method (Mix Prompt Tuning).** (1) Several prompt templates turn a sentence into a cloze question for a
# pretrained LM: manual templates (words), a soft template (learned continuous vectors) and a mixed template
# (words and vectors); a verbalizer maps each class to label words whose logits at the slot score the class. Each
# template's prompt model is tuned on the K labelled examples per class. (2) Their averaged class probabilities
# pseudo-label an unlabelled pool ("a large number of pseudo labels", abstract; the paper's text here states no
# selection rule, so each class keeps its `pseudo_per_k` x K most confident examples, with `pseudo_per_k` chosen on
# the dev splits at a tuning seed by `reproductions/mpt/select_lm_k.py`: `paperlib.mpt.method.pseudo_label`,
# per-class top-k, which unlike a confidence threshold does not shrink as K grows). (3) The PLM with a
# classification head is fine-tuned on the labelled plus pseudo-labelled examples.
#
# **Here.** Four tasks at three granularities: citation function (ACL-ARC, SciCite), abstract sentence function
# (CSAbstruct, standing in for PubMed RCT), keyword function (SciERC term types, a stand-in). K labelled examples
# per class, K in {8, 16, 32}, the rest of (a subset of) train as the unlabelled pool, seeds resample the K examples;
# macro-F1 on (a subset of) test. The PLM is a small masked LM pretrained here by MLM on the train-split sentences
# (committed in `reproductions/mpt/inlm/` with its MANIFEST; SciBERT and SmolLM2-135M are options). Soft and mixed
# templates put their learned vectors at the input embedding layer, as P-tuning does (`paperlib.mpt.cached`). Baselines: fine-tuning (FT) on the K examples, manual prompts only, soft
# prompt only, and self-training (FT's pseudo-labels, same rule). The paper's claims (abstract): **C1** MPT beats FT
# by about 5 macro-F1 points on average under low-resource settings; **C2** MPT beats other semi-supervised methods
# (here self-training) by about 6. Our own check: MPT's gain over FT shrinks as K grows.

# %% tags=["parameters"]
seeds = [100, 101, 102, 103, 104, 105, 106, 107]  # evaluation seeds (8 by the power computation, REPORT.md); each resamples the K labelled examples and the pool
tasks = ["acl-arc", "scicite", "csabstruct", "scierc"]
ks = [8, 16, 32]  # labelled examples per class
workers = 2  # worker processes (one task a job)
threads = 1  # torch threads per worker
device = "cpu"  # where every model and tensor lives: cpu | cuda | auto (cuda when present)
precision = "32-true"  # forward passes of the grid's models: 32-true | bf16-mixed (autocast, GPU)
plm = "inlm"  # inlm (in-domain MLM) | minilm (MiniLM-L6 from PyPI, MLM head trained here; offline) | smollm2 (causal, offline) | scibert (online)
inlm_source = "committed"  # committed: reproductions/mpt/inlm/ (MANIFEST.json; its config must equal inlm_*) | pretrain: here, cached
# in-domain MLM architecture and pretraining (checked against the committed checkpoint's)
inlm_layers = 4
inlm_embd = 128
inlm_vocab = 16000
inlm_epochs = 4.0  # passes over the ~0.76M-token train-split text (must be the committed checkpoint's: select_lm_k.py)
pretrain_threads = 1  # one thread: on a busy 2-core machine two threads ran several times slower
# data sizes
train_subset = 2000  # a task's train split cut to this many (fixed per task; 0 keeps all)
pool_size = 600  # unlabelled examples per cell, from the train subset minus the labelled ones
test_size = 400  # test examples per task (fixed subset; 0 keeps all)
max_len = 64  # tokens per filled input
# tuning
n_top = 1  # inlm: tune the top n blocks over cached frozen features (0 tunes the whole LM)
tune_plm = True  # prompt models tune the LM with the template (False: only the template's vectors; needs n_top 0)
prompt_steps = 60  # per prompt model, batch 16 (40 left the models far from fitting their K examples; 80 did not fit 8 seeds in 15 min)
ft_steps = 60  # fine-tuning baseline, batch 16 (as the prompt models: equal budgets)
final_steps = 60  # fine-tuning on labelled + pseudo-labelled, batch 32 (MPT and self-training alike)
pooling = "mean"  # cached path's classifier: mean of the final states (the MLM's [CLS] is untrained without NSP) or cls; n_top 0 needs cls
lr = 0.001  # AdamW, LM part and heads
soft_lr = 0.01  # template vectors
pseudo_per_k = 1  # pseudo-labels per class: pseudo_per_k times K, the labeller's most confident (chosen by select_lm_k.py)
confusion_task = "scicite"  # the task whose per-class confusion is plotted
zero_shot = True  # score the manual templates with the untuned LM first (what the LM knows of the label words)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.data.academic import LABELS, load_split
from paperlib.mpt.claims import gain_over, per_seed_f1
from paperlib.mpt.experiment import METHODS, CellConfig, resolve_device, run_grid, task_subsets
from paperlib.mpt.method import TrainConfig
from paperlib.mpt.plm import COMMITTED_INLM, InLMConfig, load_plm
from paperlib.mpt.tasks import TEMPLATES, VERBALIZERS
from paperlib.repro.record import Run
from paperlib.training import check_precision, trainer_settings

if threads < 1 or pretrain_threads < 1:  # an error, not a silent 1: results.json records what ran
    raise ValueError(f"threads and pretrain_threads must be >= 1, got {threads}, {pretrain_threads}")
torch.set_num_threads(threads)
run = Run("mpt", globals())
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


bad = sorted(set(tasks) - set(LABELS))
if bad:
    raise ValueError(f"unknown task(s) {bad}; valid: {list(LABELS)}")
if plm not in ("inlm", "minilm", "smollm2", "scibert"):
    raise ValueError(f"unknown plm {plm!r}; valid: inlm, minilm, smollm2, scibert")
if not ks or min(ks) < 1:
    raise ValueError(f"ks must be positive integers, got {ks}")
# errors, not silent changes: results.json must record what ran
if plm != "inlm" and workers != 1:
    raise ValueError(f"plm {plm!r} runs a Hugging Face LM in this process: pass -p workers=1 (got {workers})")
if plm != "inlm" and n_top != 0:
    raise ValueError(f"plm {plm!r} has no cached-feature path: pass -p n_top=0 (got {n_top})")
if inlm_source not in ("committed", "pretrain"):
    raise ValueError(f"inlm_source must be 'committed' or 'pretrain', got {inlm_source!r}")
if pseudo_per_k < 0:
    raise ValueError(f"pseudo_per_k must be >= 0, got {pseudo_per_k}")
if n_top == 0 and pooling != "cls":  # the whole-LM classifier (Classifier) reads the [CLS] / last-token state
    raise ValueError(f"n_top=0 tunes the whole LM, whose classifier pools the [CLS] state: pass -p pooling=cls "
                     f"(got {pooling!r})")
if n_top > 0 and not tune_plm:  # the cached path always tunes the top blocks with the template
    raise ValueError("tune_plm=False (only the template's vectors tuned) needs the whole-LM path: pass -p n_top=0")

# %% [markdown]
# ## Data and the pretrained LM
# The in-domain MLM sees the four datasets' train-split sentences only (never dev or test).

# %%
data = {}
for t in tasks:
    tr, te = task_subsets(load_split(t, "train"), load_split(t, "test"), train_subset, test_size, t)
    data[t] = (tr, te)
    run.metric(f"data/{t}/train_subset", len(tr))
    run.metric(f"data/{t}/test_subset", len(te))
    log(f"{t}: {len(LABELS[t])} classes, train subset {len(tr)}, test subset {len(te)}; label words "
        + ", ".join(w for ws in VERBALIZERS[t] for w in ws))
inlm_cfg = InLMConfig(vocab_size=inlm_vocab, n_layer=inlm_layers, n_embd=inlm_embd, n_head=max(1, inlm_embd // 32),
                      epochs=inlm_epochs, max_len=max_len)
backend, plm_info = load_plm(plm, inlm_cfg, log, threads=pretrain_threads,
                             checkpoint=COMMITTED_INLM if plm == "inlm" and inlm_source == "committed" else None,
                             trainer_cfg=trainer_settings(device, precision))
if plm == "inlm" and inlm_source == "committed":
    got = {k: plm_info["config"][k] for k in ("vocab_size", "n_layer", "n_embd", "n_head", "epochs", "max_len")}
    want = {"vocab_size": inlm_vocab, "n_layer": inlm_layers, "n_embd": inlm_embd, "n_head": inlm_cfg.n_head,
            "epochs": inlm_epochs, "max_len": max_len}
    if got != want:
        raise ValueError(f"the committed in-domain MLM has {got}, the parameters say {want}: set them to the "
                         "checkpoint's or pass -p inlm_source=pretrain")
for key in ("pretrain_s", "final_loss", "heldout_loss", "params", "tokens", "tokens_per_s", "load_s", "cached"):
    if key in plm_info:
        run.metric(f"plm/{key}", plm_info[key])

# %%
if "loss_curve" in plm_info:
    fig, ax = plt.subplots(figsize=(4.5, 3))
    curve = plm_info["loss_curve"]
    ax.plot(np.linspace(0, plm_info["config"]["epochs"], len(curve)), curve)
    ax.set_xlabel("epoch"); ax.set_ylabel("MLM loss"); ax.set_title("In-domain MLM pretraining", fontsize=9)
    run.figure(fig, "mlm_pretraining", [dict(point=i, loss=v) for i, v in enumerate(curve)])
    plt.show()

# %% [markdown]
# Zero-shot: each manual template over the LM before any tuning, on the test subsets (macro-F1). This is what the
# LM already knows about which label word fits the cloze, the knowledge MPT's prompts are meant to draw on.

# %%
if zero_shot:
    from paperlib.mpt.method import macro_f1, predict_proba
    from paperlib.mpt.prompts import PromptModel

    for t in tasks:
        y_te = np.array([e.label for e in data[t][1]])
        for tpl in [x for x in TEMPLATES[t] if x.kind == "manual"]:
            pm = PromptModel(backend, tpl, VERBALIZERS[t], max_len, tune_plm=False)
            p = predict_proba(pm, [pm.fill(e.text, e.term) for e in data[t][1]])
            v = run.metric(f"zero_shot/{t}/{tpl.name}", macro_f1(y_te, p.argmax(1), len(LABELS[t])))
            log(f"zero-shot {t} {tpl.name}: macro-F1 {v:.3f} ({len(LABELS[t])} classes)")
    backend.model.requires_grad_(True)  # PromptModel(tune_plm=False) froze the shared LM; the grid tunes copies

# %% [markdown]
# ## The low-resource grid
# Per task, K and seed: FT; one prompt model per template; MPT (stage 2 averages the prompt models' probabilities on
# the pool; stage 3 fine-tunes on labelled + pseudo-labelled); self-training (FT labels the pool, same rule).

# %%
cfg = CellConfig(max_len=max_len, train_subset=train_subset, pool_size=pool_size,
                 prompt=TrainConfig(steps=prompt_steps, batch_size=16, lr=lr, soft_lr=soft_lr),
                 ft=TrainConfig(steps=ft_steps, batch_size=16, lr=lr),
                 final=TrainConfig(steps=final_steps, batch_size=32, lr=lr),
                 pseudo_per_k=pseudo_per_k, pooling=pooling, n_top=n_top, tune_plm=tune_plm, device=device,
                 precision=check_precision(precision))
run.metric("device/resolved", str(resolve_device(device)))


def grid_cells(todo):
    """The grid's cells for the seeds in ``todo``, each with its task's test labels and input-building speed."""
    out = run_grid(backend, data, ks, todo, cfg, workers=workers, threads_per_worker=threads, log=log)
    return [{**c, "y_test": r["y_test"], "build_examples_per_s": r["build_examples_per_s"]} for r in out for c in r["cells"]]


# run.per_seed keeps each seed's cells apart (paperlib.repro.seeds): a resumed run or a `--split seeds` merge reads them
R = {(c["task"], c["k"], c["seed"]): c for c in run.per_seed("grid", seeds, grid_cells)}
for (t, k, s), c in R.items():
    for m, v in c["f1"].items():
        run.metric(f"{t}/K={k}/seed={s}/{m}", v)
    for m in ("self_training", "mpt"):
        run.metric(f"{t}/K={k}/seed={s}/pseudo_n/{m}", c["pseudo"][m]["n"])
        run.metric(f"{t}/K={k}/seed={s}/pseudo_acc/{m}", c["pseudo"][m]["accuracy"])


def f1(t, k, m):
    return np.array([R[(t, k, s)]["f1"][m] for s in seeds])


# %%
rows = []
fig, axes = plt.subplots(1, len(tasks), figsize=(3.3 * len(tasks), 3.2), squeeze=False)
style = {"ft": ("k", "--"), "self_training": ("tab:gray", "--"), "manual": ("tab:blue", ":"),
         "soft": ("tab:green", ":"), "mixed": ("tab:olive", ":"), "prompts": ("tab:purple", "-."),
         "mpt": ("tab:red", "-")}
for ax, t in zip(axes[0], tasks):
    for m in METHODS:
        mean = [f1(t, k, m).mean() for k in ks]
        sd = [f1(t, k, m).std(ddof=1) if len(seeds) > 1 else 0.0 for k in ks]
        ax.errorbar(ks, mean, yerr=sd, label=m, color=style[m][0], ls=style[m][1], marker="o", ms=3, capsize=2)
        rows += [dict(task=t, k=k, method=m, seed=s, macro_f1=R[(t, k, s)]["f1"][m]) for k in ks for s in seeds]
    ax.set_xscale("log", base=2); ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("K labelled per class"); ax.set_title(t, fontsize=9)
axes[0][0].set_ylabel(f"test macro-F1 (mean ± std, {len(seeds)} seeds)")
axes[0][-1].legend(fontsize=6)
run.figure(fig, "f1_vs_k", rows)
plt.show()

# %% [markdown]
# Per-class confusion on one task at the lowest K (test subset, summed over seeds; rows: true class, normalised).

# %%
if confusion_task in tasks:
    from sklearn.metrics import confusion_matrix

    y_test = np.array(next(c["y_test"] for c in R.values() if c["task"] == confusion_task))
    names = LABELS[confusion_task]
    fig, axes = plt.subplots(1, 2, figsize=(4 + 0.8 * len(names), 2 + 0.4 * len(names)))
    crow = []
    for ax, m in zip(axes, ("ft", "mpt")):
        cm = sum(confusion_matrix(y_test, R[(confusion_task, min(ks), s)]["pred"][m], labels=range(len(names)))
                 for s in seeds)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6)
                crow.append(dict(method=m, true=names[i], pred=names[j], count=int(cm[i, j])))
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=6)
        ax.set_yticks(range(len(names)), names, fontsize=6)
        ax.set_title(f"{m.upper()} on {confusion_task}, K={min(ks)}", fontsize=8)
    run.figure(fig, "confusion", crow)
    plt.show()

# %% [markdown]
# Pseudo-label quality: accuracy (against the hidden gold labels) and number kept, MPT's prompt ensemble vs
# self-training's fine-tuned labeller.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
prow = []
for m, col in (("mpt", "tab:red"), ("self_training", "tab:gray")):
    acc = []
    for k in ks:
        a = [R[(t, k, s)]["pseudo"][m]["accuracy"] for t in tasks for s in seeds]
        a = [x for x in a if x is not None]
        acc.append(float(np.mean(a)) if a else float("nan"))
    n = [np.mean([R[(t, k, s)]["pseudo"][m]["n"] for t in tasks for s in seeds]) for k in ks]
    axes[0].plot(ks, acc, marker="o", color=col, label=m)
    axes[1].plot(ks, n, marker="o", color=col, label=m)
    prow += [dict(method=m, k=k, accuracy=a, n=x) for k, a, x in zip(ks, acc, n)]
    for k, a, x in zip(ks, acc, n):
        run.metric(f"pseudo/K={k}/{m}/n_mean", float(x))
        run.metric(f"pseudo/K={k}/{m}/accuracy_mean", a)
for ax, lab in zip(axes, ("pseudo-label accuracy", "pseudo-labels kept")):
    ax.set_xscale("log", base=2); ax.set_xticks(ks, [str(k) for k in ks]); ax.set_xlabel("K"); ax.set_ylabel(lab)
axes[0].legend(fontsize=7)
fig.suptitle("mean over tasks and seeds", fontsize=8)
run.figure(fig, "pseudo_labels", prow)
plt.show()

# %% [markdown]
# ## Speed
# Examples per second (1 torch thread per worker, on a shared 2-core machine): building a task's inputs (frozen
# features), scoring, and training of each kind.

# %%
cells = list(R.values())
for key in ("score_examples_per_s", "ft/train_examples_per_s", "mpt/train_examples_per_s",
            "prompt/manual-1/train_examples_per_s", "prompt/soft/train_examples_per_s"):
    vals = [c["timing"][key] for c in cells if key in c["timing"]]
    if vals:
        run.metric(f"speed/{key}", float(np.median(vals)))
        log(f"{key}: median {np.median(vals):.0f}")
run.metric("speed/build_examples_per_s", float(np.median([c["build_examples_per_s"] for c in cells])))
table = {m: {t: float(np.mean([f1(t, k, m).mean() for k in ks])) for t in tasks} for m in METHODS}
for m in METHODS:
    log(f"{m:14s} " + "  ".join(f"{t} {table[m][t]:.3f}" for t in tasks))

# %% [markdown]
# ## Claims
# The paper's gains are averages over tasks under low-resource settings (abstract), so each method's per-seed value
# is its macro-F1 averaged over the tasks and the K values run (`paperlib.mpt.claims.per_seed_f1`); claims.yaml
# compares methods by paired per-seed differences: **C1** MPT minus FT, **C2** MPT minus self-training. Our own
# checks, reported apart: MPT's gain over FT at the lowest K minus that at the highest K (`gain_over`), and the
# prompt ensemble (MPT's labeller) minus FT.

# %%
for m in ("mpt", "ft", "self_training", "prompts"):
    run.measure(f"{m}_macro_f1", per_seed_f1(R, m, tasks, ks, seeds))
run.measure("mpt_gain_over_ft_lowest_k", gain_over(R, "mpt", "ft", tasks, min(ks), seeds))
run.measure("mpt_gain_over_ft_highest_k", gain_over(R, "mpt", "ft", tasks, max(ks), seeds))
for k in ks:
    for a, b in (("mpt", "ft"), ("mpt", "self_training"), ("prompts", "ft")):
        run.metric(f"mean/K={k}/{a}_minus_{b}", float(np.mean(gain_over(R, a, b, tasks, k, seeds))))
run.check_claims()
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
