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
# # Interpretable RNA Foundation Model from Unannotated Data (RNA-FM): what its representations know
# Chen et al., 2022 (arXiv 2204.00300); official code [ml4bio/RNA-FM](https://github.com/ml4bio/RNA-FM), implemented
# after `fm/model.py` (ESM-1b-style BERT), `fm/modules.py` (`ContactPredictionHead`: symmetrised, APC-corrected attention
# into a logistic regression) and `redevelop/model/pairwise_predictor/pairwise_concat.py` (the secondary-structure head).
#
# **The method.** A BERT (learned positions, pre-LN blocks, LM head tied to the embeddings) is pretrained by masked
# language modelling on unannotated non-coding RNA: 15% of the nucleotides are selected, 80% of them replaced by
# `<mask>`, 10% by a random nucleotide, 10% kept, and the model predicts the originals. The paper then asks what the
# frozen representations know: embeddings cluster by RNA family (Fig. 2, UMAP), a pairwise head on them predicts
# secondary structure better than on one-hot input, and attention maps carry base-pairing.
#
# **At laptop scale.** The committed checkpoint (`reproductions/rnafm/checkpoints/rnafm-<scale>.pt`, its manifest beside
# it) is a 4 x 128 RNA-FM pretrained on 2 CPU cores (`python -m paperlib.rnafm.pretrain --scale cpu`, then `--scale
# cpu2` continues it on more families) on the RNA-FM tutorial sequences, Infernal's Rfam seed alignments and `cmemit`
# samples of covariance models, with **whole families held out** (Vault, snR75, SRP, mascRNA-menRNA, Hammerhead_1,
# RF00974). The paper's claims (`reproductions/rnafm/claims.yaml`): **C1** a structure head on RNA-FM embeddings beats
# the same head on one-hot input (Fig. 3), and embeddings added to one-hot input add information; **C2** embeddings
# separate RNA families better than a randomly initialised model's and one-hot encoding (Fig. 2), measured **after
# regressing out length and GC content** (both separate families on their own); **C3** a downstream gain: RNA-type
# classification from embeddings beats random-init and one-hot features. Our own checks, reported apart: masked-token
# accuracy against k-mer context tables and at paired vs unpaired positions, structure on held-out families, and
# attention maps as pair predictors (the paper reports neither masked-token accuracy nor an attention-map analysis).
# Each control is compared by its own paired per-seed difference, averaged over seeds (no per-seed maximum).

# %% tags=["parameters"]
seeds = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]  # evaluation seeds: random-init model, map sample, few-shot draw, masking
ss_seeds = 5  # the first this many seeds also train structure heads and fit attention probes (the costly probes)
pretrain_scale = "cpu2"  # pretraining scale of the checkpoint to probe (paperlib.rnafm.pretrain: tiny, cpu, cpu2, gpu, paper)
pretrain_if_missing = False  # pretrain at that scale now when its checkpoint is missing or stale
official_checkpoint = ""  # path or URL of the released RNA-FM_pretrained.pth: probe it instead (needs the file)
threads = 1  # torch threads of the notebook's own process (embeddings, attention maps)
workers = 2  # processes training the structure heads, one torch thread each
crop = 256  # nucleotides embedded per sequence (longer ones are cut; pretraining crops at 256 too)
# masked-token accuracy (a check: the paper reports none)
mlm_eval_per_family = 30  # sequences per family, held-out families and the validation split each
# embedding map and family / type probes
map_per_family = 30  # sequences per family in the embedding map, drawn anew per seed (held-out sequences only)
type_shots = 5  # RNAcentral types: training examples per type (few-shot), the rest are the test set
tsne = True  # draw the t-SNE maps
# secondary structure (pairwise head on frozen features)
ss_max_len = 120  # structures of sequences up to this length
ss_train = 240  # training sequences (pretraining families)
ss_val = 40  # validation sequences (threshold choice)
ss_test = 120  # test sequences, held-out families and (as many as there are, up to this) in-distribution each
ss_steps = 500  # optimiser steps (at 300 the one-hot head had not left the all-negative start on one seed of three)
ss_batch = 2  # sequences a step
ss_lr = 0.005  # Adam
vienna_seeds = 1  # seeds of the ViennaRNA-label runs (the consensus-label runs, which C1 uses, take ss_seeds)
vienna_kinds = ["rna-fm", "one-hot"]  # features of the ViennaRNA-label runs (consensus-label runs: all five)
head_reduction = 16  # official 128
head_channels = 8  # official 64
head_blocks = 3  # official 32 (dilations 1, 2, 4 repeating)
# attention probe
att_train = 60  # training sequences (pretraining families)
att_test = 120  # test sequences (held-out families)

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from paperlib.rnafm import claims as cl
from paperlib.rnafm import experiment as ex
from paperlib.rnafm import probes
from paperlib.rnafm.corpus import HELD_OUT_FAMILIES, load_corpus
from paperlib.rnafm.mlm import KmerContextTable, masked_accuracy, masked_positions
from paperlib.rnafm.pretrain import CORPORA, SCALES, checkpoint_dir, curve_validation, get_pretrained
from paperlib.repro.record import Run
from paperlib.training import run_in_workers

torch.set_num_threads(threads)
run = Run("rnafm", globals())
T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.0f} s] {msg}", flush=True)


if pretrain_scale not in SCALES:
    raise ValueError(f"unknown pretrain_scale {pretrain_scale!r}; valid: {sorted(SCALES)}")
if len(seeds) < 1 or len(set(seeds)) != len(seeds):
    raise ValueError("seeds must name at least one seed, each once")
if not 1 <= ss_seeds <= len(seeds):
    raise ValueError(f"ss_seeds must be between 1 and len(seeds) = {len(seeds)}, not {ss_seeds}")
FEATURE_KINDS = ["rna-fm", "rna-fm+one-hot", "one-hot", "random-init+one-hot", "random-init"]
if set(vienna_kinds) - set(FEATURE_KINDS):
    raise ValueError(f"unknown vienna_kinds {sorted(set(vienna_kinds) - set(FEATURE_KINDS))}; valid: {FEATURE_KINDS}")
probe_seeds = seeds[:ss_seeds]

# %% [markdown]
# ## The corpus and the pretrained model

# %%
corpus = load_corpus(CORPORA[pretrain_scale])
for split, d in corpus.summary().items():
    run.metric(f"corpus/{split}/sequences", d["sequences"])
    run.metric(f"corpus/{split}/nucleotides", d["nucleotides"])
    log(f"{split}: {d['sequences']:,} sequences, {d['nucleotides']:,} nt, families {', '.join(d['families'])}")
if official_checkpoint:
    from paperlib.rnafm.model import load_official

    model = load_official(official_checkpoint)
    manifest = {"tokens_seen": None, "wall_s": None, "device": "official release", "corpus_fingerprint": "RNAcentral"}
else:
    model, manifest = get_pretrained(pretrain_scale, pretrain_if_missing, log=log)
cfg = model.cfg
for k in ("tokens_seen", "steps", "wall_s", "tokens_per_s", "val_masked_accuracy", "val_masked_accuracy_paired",
          "val_masked_accuracy_unpaired"):
    run.metric(f"pretrain/{k}", manifest.get(k))
run.metric("pretrain/parameters", model.num_parameters())
run.metric("pretrain/git_sha", manifest.get("git_sha"))
log(f"checkpoint {official_checkpoint or pretrain_scale}: {model.num_parameters():,} parameters, "
    f"{manifest['tokens_seen']} tokens seen in {manifest['wall_s']} s ({manifest.get('device')}), "
    f"corpus {manifest['corpus_fingerprint']}")
random_models = {s: ex.random_init(cfg, 1000 + s) for s in seeds}


def cut(seqs):
    return [s[:crop] for s in seqs]


# %% [markdown]
# ## Pretraining learning curve: can the model learn base pairing?
# Every pretraining run evaluates masked-token accuracy on validation members of its families with a consensus
# structure, separately at **paired** and **unpaired** positions (`paperlib.rnafm.mlm.masked_accuracy(..., pairs=...)`).
# A model that predicts a paired base from its partner lifts paired accuracy above unpaired accuracy; paired positions
# also differ in composition, so the gap is compared with a k-mer table's gap below. Drawn from the manifests of the
# committed checkpoints that record a curve (`cpu2` continues `cpu` on five more families).

# %%
curves = {}
for scale in ("cpu2", "gpu"):
    path = checkpoint_dir() / f"rnafm-{scale}.json"
    if path.is_file():
        m = json.loads(path.read_text())
        if m.get("learning_curve"):
            offset = (m.get("continued_from") or {}).get("tokens_seen") or 0
            curves[scale] = [{**c, "tokens": c["tokens"] + offset} for c in m["learning_curve"]]
if manifest.get("learning_curve") and pretrain_scale not in curves:
    curves[pretrain_scale] = manifest["learning_curve"]
if curves:
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    rows = []
    for scale, curve in curves.items():
        t = [c["tokens"] / 1e6 for c in curve]
        ax.plot(t, [c["val_masked_accuracy_paired"] for c in curve], "-o", ms=3, label=f"{scale}: paired")
        ax.plot(t, [c["val_masked_accuracy_unpaired"] for c in curve], "--s", ms=3, label=f"{scale}: unpaired")
        rows += [dict(scale=scale, **c) for c in curve]
        last = curve[-1]
        run.metric(f"pretrain/curve/{scale}/last_paired", last["val_masked_accuracy_paired"])
        run.metric(f"pretrain/curve/{scale}/last_unpaired", last["val_masked_accuracy_unpaired"])
    ax.set_xlabel("pretraining tokens (millions, since the start of the cpu run)")
    ax.set_ylabel("validation masked-token accuracy")
    ax.legend(fontsize=7)
    ax.set_title("Learning curve: masked accuracy at paired vs unpaired positions", fontsize=9)
    run.figure(fig, "learning_curve_paired_unpaired", rows)
    plt.show()
else:
    log("no committed checkpoint records a learning curve")

# %% [markdown]
# ## Masked-token accuracy (our check: the paper reports no masked-token accuracy)
# 15% of the nucleotides of each evaluation sequence are replaced by `<mask>` (draws fixed by the seed); accuracy is the
# argmax over A/C/G/U at those positions. Baselines: k-mer context tables (the centre nucleotide's most frequent value
# given its (k-1)/2 true neighbours on each side, backing off to shorter contexts) counted on the pretraining data.
# Accuracy is also split into positions paired and unpaired in the consensus structure (the pairing check).

# %%
held = ex.balanced_sample(corpus.split("held_out_family"), mlm_eval_per_family * len(HELD_OUT_FAMILIES), 0)
n_val_fams = len({e.family for e in corpus.split("val")})
val = ex.balanced_sample(corpus.split("val"), mlm_eval_per_family * n_val_fams, 0)
sets = {"held_out_families": held, "in_distribution": val}
table = KmerContextTable(7).fit([e.seq for e in corpus.split("pretrain")])
mlm, gap = {}, {}
for name, es in sets.items():
    seqs = cut([e.seq for e in es])
    prs = [[(i, j) for i, j in (e.pairs or []) if j < crop] for e in es]
    for s in seeds:
        pos = masked_positions(seqs, s)
        for m, r in (("rna-fm", masked_accuracy(model, seqs, s, pairs=prs)),
                     ("random-init", masked_accuracy(random_models[s], seqs, s, pairs=prs)),
                     *((f"{k}-mer table", table.accuracy(seqs, pos, k, pairs=prs)) for k in (3, 5, 7))):
            mlm[(name, m, s)] = r["all"]
            gap[(name, m, s)] = cl.pair_gap(r)
            run.metric(f"mlm/{name}/{m}/seed={s}", r)
    log(f"masked-token accuracy, {name} ({len(seqs)} sequences): " + ", ".join(
        f"{m} {np.mean([mlm[(name, m, s)] for s in seeds]):.3f} (paired - unpaired "
        f"{np.mean([gap[(name, m, s)] for s in seeds]):+.3f})"
        for m in ("rna-fm", "random-init", "3-mer table", "5-mer table", "7-mer table")))
mlm_methods = ["rna-fm", "random-init", "3-mer table", "5-mer table", "7-mer table"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
rows = []
for n, name in enumerate(sets):
    for ax, what, d in ((axes[0], "accuracy", mlm), (axes[1], "paired - unpaired", gap)):
        vals = [[d[(name, m, s)] for s in seeds] for m in mlm_methods]
        ax.bar(np.arange(len(mlm_methods)) + 0.4 * n - 0.2, [np.mean(v) for v in vals], 0.4,
               yerr=[np.std(v) for v in vals], label=name.replace("_", " "))
        ax.set_ylabel(f"masked-token {what}")
    rows += [dict(set=name, method=m, seed=s, accuracy=mlm[(name, m, s)], paired_minus_unpaired=gap[(name, m, s)])
             for m in mlm_methods for s in seeds]
axes[0].axhline(0.25, color="k", ls=":", lw=1, label="chance")
axes[1].axhline(0.0, color="k", lw=0.8)
for ax in axes:
    ax.set_xticks(range(len(mlm_methods)), mlm_methods, fontsize=8)
    ax.legend(fontsize=7)
axes[0].set_title(f"Masked-token accuracy ({len(seeds)} masking seeds)", fontsize=9)
axes[1].set_title("Accuracy at paired minus unpaired positions", fontsize=9)
run.figure(fig, "masked_token_accuracy", rows)
plt.show()

# %% [markdown]
# ## C2: embedding maps, controlled for length and GC content (the paper's Fig. 2)
# Mean-pooled last-layer embeddings of held-out sequences (the validation split of the pretraining families and the
# held-out families), drawn anew for every seed, coloured by family. Families differ in length and GC content, and any
# network with learned positions encodes length in a mean-pooled embedding, so the claim is judged on the **controlled
# silhouette** (`paperlib.rnafm.claims.controlled_silhouette`): each feature regressed on log length and GC content
# (least squares), the silhouette by family computed on the residuals. Reported beside it: the raw silhouette and the
# silhouette of log length and GC alone (the confound). Every seed has its own random-init model (10 of them).

# %%
map_pool = {}
for fam in sorted({e.family for e in corpus.entries if e.split in ("val", "held_out_family")} - {"rnacentral"}):
    es = [e for e in corpus.entries if e.family == fam and e.split in ("val", "held_out_family")]
    if len(es) >= 10:
        map_pool[fam] = es
type_entries = corpus.split("rnacentral_probe")
type_seqs = cut([e.seq for e in type_entries])
type_y = np.array([e.rtype for e in type_entries])
POOLED_KINDS = ["rna-fm", "random-init", "one-hot", "3-mer"]


def pooled(kind, s, seqs):
    m = model if kind == "rna-fm" else random_models[s] if kind == "random-init" else None
    key = {"rna-fm": "rnafm", "random-init": "rnafm", "one-hot": "one_hot", "3-mer": "kmer3"}[kind]
    return ex.pooled_features(key, seqs, m)


sil, sil_raw, sil_conf, fam_acc, type_acc = {}, {}, {}, {}, {}
type_feats = {kind: pooled(kind, seeds[0], type_seqs) for kind in ("rna-fm", "one-hot", "3-mer")}
maps = {}
for s in seeds:
    entries = [e for fam in map_pool for e in ex.balanced_sample(map_pool[fam], map_per_family, s)]
    seqs = cut([e.seq for e in entries])
    fam = np.array([e.family for e in entries])
    sil_conf[s] = cl.length_gc_silhouette(fam, seqs)
    tr, te = probes.few_shot_split(fam, map_per_family // 2, s)
    ttr, tte = probes.few_shot_split(type_y, type_shots, s)
    for kind in POOLED_KINDS:
        x = pooled(kind, s, seqs)
        if s == seeds[0]:
            maps[kind] = (x, fam)
        sil[(kind, s)] = cl.controlled_silhouette(x, fam, seqs)
        sil_raw[(kind, s)] = cl.silhouette(x, fam)
        fam_acc[(kind, s)] = probes.linear_probe(x[tr], fam[tr], x[te], fam[te], s)
        xt = pooled(kind, s, type_seqs) if kind == "random-init" else type_feats[kind]
        type_acc[(kind, s)] = probes.linear_probe(xt[ttr], type_y[ttr], xt[tte], type_y[tte], s)
for kind in POOLED_KINDS:
    for s in seeds:
        run.metric(f"c2/controlled_silhouette/{kind}/seed={s}", sil[(kind, s)])
        run.metric(f"c2/raw_silhouette/{kind}/seed={s}", sil_raw[(kind, s)])
        run.metric(f"probe/family_accuracy/{kind}/seed={s}", fam_acc[(kind, s)])
        run.metric(f"c3/type_accuracy/{kind}/seed={s}", type_acc[(kind, s)])
    log(f"{kind}: silhouette controlled {np.mean([sil[(kind, s)] for s in seeds]):+.3f}, raw "
        f"{np.mean([sil_raw[(kind, s)] for s in seeds]):+.3f}, family acc "
        f"{np.mean([fam_acc[(kind, s)] for s in seeds]):.3f}, RNAcentral type acc ({type_shots}-shot, "
        f"{len(set(type_y))} types) {np.mean([type_acc[(kind, s)] for s in seeds]):.3f}")
log(f"log length + GC alone: silhouette {np.mean(list(sil_conf.values())):+.3f}")

fig, ax = plt.subplots(figsize=(7, 3.2))
rows = []
xs = np.arange(len(POOLED_KINDS) + 1)
raw_m = [np.mean([sil_raw[(k, s)] for s in seeds]) for k in POOLED_KINDS] + [np.mean(list(sil_conf.values()))]
ctl_m = [np.mean([sil[(k, s)] for s in seeds]) for k in POOLED_KINDS] + [np.nan]
ctl_e = [np.std([sil[(k, s)] for s in seeds]) for k in POOLED_KINDS] + [0]
ax.bar(xs - 0.2, raw_m, 0.4, label="raw", color="tab:gray")
ax.bar(xs + 0.2, ctl_m, 0.4, yerr=ctl_e, label="length and GC regressed out", color="tab:red")
ax.set_xticks(xs, POOLED_KINDS + ["log length + GC"], fontsize=8)
ax.axhline(0, color="k", lw=0.8)
ax.set_ylabel("silhouette by family")
ax.legend(fontsize=7)
ax.set_title(f"Family separation of pooled embeddings ({len(seeds)} seeds)", fontsize=9)
rows = [dict(features=k, seed=s, raw=sil_raw[(k, s)], controlled=sil[(k, s)]) for k in POOLED_KINDS for s in seeds]
rows += [dict(features="log length + GC", seed=s, raw=v, controlled=None) for s, v in sil_conf.items()]
run.figure(fig, "controlled_clustering", rows)
plt.show()

# %%
if tsne:
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    fams = sorted(map_pool)
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, len(fams)))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    rows = []
    seqs0 = cut([e.seq for fam in map_pool for e in ex.balanced_sample(map_pool[fam], map_per_family, seeds[0])])
    for ax, kind in zip(axes, ["rna-fm", "random-init", "one-hot"]):
        x, fam = maps[kind]
        x = StandardScaler().fit_transform(cl.residualise(x, cl.length_gc(seqs0)))
        xy = TSNE(n_components=2, perplexity=30, init="pca", random_state=0).fit_transform(x)
        for f, c in zip(fams, colours):
            sel = fam == f
            ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=c, label=f + (" *" if f in HELD_OUT_FAMILIES else ""))
        ax.set_title(f"{kind}: controlled silhouette {sil[(kind, seeds[0])]:+.3f}", fontsize=9)
        ax.set_xticks([]); ax.set_yticks([])
        rows += [dict(features=kind, family=f, x=float(a), y=float(b)) for f, (a, b) in zip(fam, xy)]
    axes[-1].legend(fontsize=6, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5), title="* held out", title_fontsize=6)
    fig.suptitle("t-SNE of mean-pooled embeddings after regressing out length and GC, coloured by family", fontsize=10)
    run.figure(fig, "embedding_maps", rows)
    plt.show()

# %% [markdown]
# ## C1: secondary structure from frozen features (the official pairwise head, scaled down)
# Per-nucleotide features -> linear reduction -> outer concatenation $[e_i; e_j]$ -> 1x1 conv -> residual blocks
# (dilations 1, 2, 4) -> 2 classes, symmetrised. Trained for a fixed number of steps on pretraining-family sequences,
# the decision threshold chosen on validation sequences, scored by per-sequence base-pair F1 (averaged) on two test
# sets: **in distribution** (other members of the training families, never pretrained on: the paper's benchmarks draw
# train and test from the same families, and its pretraining corpus holds them all) and **held-out families**.
# Inputs: RNA-FM embeddings alone (the paper's head), RNA-FM embeddings concatenated with one-hot (does pretraining add
# information beyond the sequence?), one-hot alone, and the random-init network with and without one-hot.

# %%
ss_pool = ex.structured(corpus, ("pretrain",), ss_max_len)
val_pool = ex.balanced_sample(ex.structured(corpus, ("val",), ss_max_len), ss_val + ss_test, 2)
ss_sets = {"train": ex.balanced_sample(ss_pool, ss_train, 1), "val": val_pool[:ss_val],
           "test": ex.balanced_sample(ex.structured(corpus, ("held_out_family",), ss_max_len), ss_test, 3),
           "test_indist": val_pool[ss_val:]}
if not ss_sets["test_indist"]:
    raise ValueError("no in-distribution structure test sequences: raise ss_max_len or lower ss_val")
vienna_train_pool = [e for e in corpus.split("pretrain") if len(e.seq) <= ss_max_len and set(e.seq) <= set("ACGU")]
vienna_sets = {"train": ex.balanced_sample(vienna_train_pool, ss_train, 4),
               "val": ex.balanced_sample([e for e in corpus.split("val") if len(e.seq) <= ss_max_len
                                          and set(e.seq) <= set("ACGU")], ss_val, 5),
               "test": ss_sets["test"], "test_indist": ss_sets["test_indist"]}
labels = {"consensus": {k: [e.pairs for e in v] for k, v in ss_sets.items()},
          "vienna": {k: ex.vienna_pairs([e.seq for e in v]) for k, v in vienna_sets.items()}}
seqsets = {"consensus": {k: [e.seq for e in v] for k, v in ss_sets.items()},
           "vienna": {k: [e.seq for e in v] for k, v in vienna_sets.items()}}
vienna_ref = probes.mean_pair_metrics(labels["vienna"]["test"], labels["consensus"]["test"])
for k, v in vienna_ref.items():
    run.metric(f"c1/structure/vienna_reference_vs_consensus/{k}", v)
log(f"structure sets: train {len(ss_sets['train'])} ({sorted({e.family for e in ss_sets['train']})}), test held-out "
    f"{len(ss_sets['test'])} ({sorted({e.family for e in ss_sets['test']})}), test in-distribution "
    f"{len(ss_sets['test_indist'])} ({sorted({e.family for e in ss_sets['test_indist']})}); ViennaRNA MFE vs "
    f"consensus on held-out test: F1 {vienna_ref['f1']:.3f}")

feat_cache = {}


def features(kind, s, label, split):
    key = (kind, s if "random-init" in kind else 0, label, split)
    if key not in feat_cache:
        seqs = seqsets[label][split]
        parts = []
        if "rna-fm" in kind:
            parts.append(ex.per_position_features("rnafm", seqs, model))
        if "random-init" in kind:
            parts.append(ex.per_position_features("rnafm", seqs, random_models[s]))
        if kind.endswith("one-hot"):
            parts.append(ex.per_position_features("one_hot", seqs))
        feat_cache[key] = [np.concatenate(f, 1) for f in zip(*parts)]
    return feat_cache[key]


jobs, keys = [], []
label_seeds = {"consensus": probe_seeds, "vienna": probe_seeds[:vienna_seeds]}
label_kinds = {"consensus": FEATURE_KINDS, "vienna": vienna_kinds}
for label in ("consensus", "vienna"):
    for s in label_seeds[label]:
        for kind in label_kinds[label]:
            keys.append((label, kind, s))
            jobs.append((features(kind, s, label, "train"), labels[label]["train"], features(kind, s, label, "val"),
                         labels[label]["val"], {t: features(kind, s, label, t) for t in ("test", "test_indist")},
                         {t: labels[label][t] for t in ("test", "test_indist")}, ss_steps, s,
                         head_reduction, head_channels, head_blocks, ss_batch, ss_lr))
t_ss = time.perf_counter()
ss = dict(zip(keys, run_in_workers(ex.structure_probe_job, jobs, workers=workers, threads_per_worker=1)))
run.metric("c1/structure/probe_wall_s", time.perf_counter() - t_ss)
for (label, kind, s), r in ss.items():
    for t, m in r.items():
        for k, v in (m.items() if isinstance(m, dict) else [("value", m)]):
            run.metric(f"c1/structure/{label}/{kind}/seed={s}/{t}/{k}", v)
TESTS = {"test_indist": "in distribution", "test": "held-out families"}
for label in ("consensus", "vienna"):
    for t, tname in TESTS.items():
        log(f"structure ({label} labels, {tname}, {len(label_seeds[label])} seeds, {ss_steps} steps): " + ", ".join(
            f"{kind} F1 {np.mean([ss[(label, kind, s)][t]['f1'] for s in label_seeds[label]]):.3f}"
            for kind in label_kinds[label]))

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.4))
rows = []
panels = [("consensus", "test_indist"), ("consensus", "test"), ("vienna", "test")]
for ax, (label, t) in zip(axes, panels):
    ks = label_kinds[label]
    f1 = [[ss[(label, k, s)][t]["f1"] for s in label_seeds[label]] for k in ks]
    ax.bar(range(len(ks)), [np.mean(v) for v in f1], yerr=[np.std(v) for v in f1],
           color=["tab:red" if k.startswith("rna-fm") else "tab:gray" for k in ks])
    ax.set_xticks(range(len(ks)), ks, fontsize=7, rotation=15)
    if (label, t) == ("consensus", "test"):
        ax.axhline(vienna_ref["f1"], color="k", ls=":", lw=1, label="ViennaRNA MFE (reference)")
        ax.legend(fontsize=7)
    ax.set_title(f"{label} labels, {TESTS[t]}: base-pair F1 ({len(label_seeds[label])} seeds)", fontsize=9)
    rows += [dict(labels=label, test=t, features=k, seed=s, **ss[(label, k, s)][t]) for k in ks
             for s in label_seeds[label]]
run.figure(fig, "secondary_structure_f1", rows)
plt.show()

# %% [markdown]
# ## Attention maps as pair predictors (our check, the contact head's recipe)
# No attention-map analysis was found in the paper, so this is reported apart from its claims.
# Each head's attention map without `<cls>`/`<eos>`, symmetrised and APC-corrected, gives one feature per pair; an
# L1 logistic regression over pairs $|i-j| \ge 4$ is fit on pretraining-family sequences (consensus structures) and scored
# on held-out families: pooled pair AUROC and per-sequence top-L precision. Controls: random-init attention, and the
# nucleotide-pair identity (16 one-hot features).

# %%
att_sets = {"train": ss_sets["train"][:att_train], "test": ss_sets["test"][:att_test]}
att_y = {k: [] for k in att_sets}
pid_x = {k: [] for k in att_sets}
for k, es in att_sets.items():
    for e in es:
        (iu, ju), x = probes.pair_identity_features(e.seq)
        y = probes.contact_map(e.pairs, len(e.seq))[iu, ju]
        att_y[k].append(y)
        pid_x[k].append(x)
lengths = [len(e.seq) for e in att_sets["test"]]


def attention_features(m):
    out = {}
    for k, es in att_sets.items():
        _, atts = probes.embed(m, [e.seq for e in es], attentions=True)
        out[k] = [probes.attention_pair_features(a)[1] for a in atts]
    return out


att_feats = {"rna-fm": attention_features(model)}
for s in probe_seeds:
    att_feats[("random-init", s)] = attention_features(random_models[s])
att = {}
for s in probe_seeds:
    for kind, fx in (("rna-fm", att_feats["rna-fm"]), ("random-init", att_feats[("random-init", s)]),
                     ("pair-identity", pid_x)):
        clf = probes.fit_pair_logistic(fx["train"], att_y["train"], seed=s)
        att[(kind, s)] = probes.pair_probe_scores(clf, fx["test"], att_y["test"], lengths)
        for k, v in att[(kind, s)].items():
            run.metric(f"attention/{kind}/seed={s}/{k}", v)
for kind in ("rna-fm", "random-init", "pair-identity"):
    log(f"attention probe {kind}: AUROC {np.mean([att[(kind, s)]['auroc'] for s in probe_seeds]):.3f}, top-L precision "
        f"{np.mean([att[(kind, s)]['top_l_precision'] for s in probe_seeds]):.3f}")
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
rows = [dict(features=k, seed=s, **att[(k, s)]) for k in ("rna-fm", "random-init", "pair-identity") for s in probe_seeds]
for ax, metric in zip(axes, ("auroc", "top_l_precision")):
    v = [[att[(k, s)][metric] for s in probe_seeds] for k in ("rna-fm", "random-init", "pair-identity")]
    ax.bar(["rna-fm", "random-init", "pair-identity"], [np.mean(x) for x in v], yerr=[np.std(x) for x in v],
           color=["tab:red", "tab:gray", "tab:gray"])
    ax.set_title(f"attention probe, held-out families: {metric}", fontsize=9)
    if metric == "auroc":
        ax.set_ylim(0.4, 1.0)
run.figure(fig, "attention_probe", rows)
plt.show()

# %% [markdown]
# ## Claims
# One per-seed measurement per arm; claims.yaml compares RNA-FM with each control by its own paired per-seed difference
# (same seed: same random-init model, map sample, probe initialisation and few-shot draw), averaged over seeds, never
# with the per-seed best of several noisy controls. **C1** structure F1 (in distribution) against one-hot input, and
# embeddings + one-hot against one-hot; **C2** the length- and GC-controlled family silhouette against random init and
# one-hot; **C3** RNA-type accuracy against random init and one-hot. Checks apart: masked-token accuracy and the pairing
# gap, structure on held-out families and against random init, attention probe, the raw silhouette.

# %%
ARM = {"rna-fm": "rnafm", "rna-fm+one-hot": "rnafm_one_hot", "random-init": "random_init",
       "random-init+one-hot": "random_init_one_hot", "one-hot": "one_hot", "3-mer": "kmer3",
       "pair-identity": "pair_identity", "3-mer table": "kmer3_table", "5-mer table": "kmer5_table",
       "7-mer table": "kmer7_table"}
for name, tag in (("held_out_families", "heldout"), ("in_distribution", "indist")):
    for m in mlm_methods:
        run.measure(f"mlm_{tag}_{ARM[m]}", [mlm[(name, m, s)] for s in seeds])
        run.measure(f"pair_gap_{tag}_{ARM[m]}", [gap[(name, m, s)] for s in seeds])
for kind in POOLED_KINDS:
    run.measure(f"silhouette_ctrl_{ARM[kind]}", [sil[(kind, s)] for s in seeds])
    run.measure(f"silhouette_raw_{ARM[kind]}", [sil_raw[(kind, s)] for s in seeds])
    run.measure(f"family_acc_{ARM[kind]}", [fam_acc[(kind, s)] for s in seeds])
    run.measure(f"type_acc_{ARM[kind]}", [type_acc[(kind, s)] for s in seeds])
run.measure("silhouette_length_gc", [sil_conf[s] for s in seeds])
for kind in FEATURE_KINDS:
    run.measure(f"ss_f1_indist_{ARM[kind]}", [ss[("consensus", kind, s)]["test_indist"]["f1"] for s in probe_seeds])
    run.measure(f"ss_f1_heldout_{ARM[kind]}", [ss[("consensus", kind, s)]["test"]["f1"] for s in probe_seeds])
for kind in vienna_kinds:
    run.measure(f"ss_f1_vienna_{ARM[kind]}", [ss[("vienna", kind, s)]["test"]["f1"] for s in label_seeds["vienna"]])
for kind in ("rna-fm", "random-init", "pair-identity"):
    run.measure(f"att_auroc_{ARM[kind]}", [att[(kind, s)]["auroc"] for s in probe_seeds])
    run.measure(f"att_top_l_{ARM[kind]}", [att[(kind, s)]["top_l_precision"] for s in probe_seeds])
run.check_claims()
print(run.claims_table())
run.metric("wall_s", time.perf_counter() - T0)
run.save();
