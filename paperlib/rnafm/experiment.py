"""Pieces of the notebook's experiments that are not the method: probe data selection, ViennaRNA
labels (cached), and the feature sets every probe compares."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np
import torch

from paperlib.data import cache_dir
from paperlib.data.rna import parse_dot_bracket

from . import probes
from .corpus import Corpus, Entry
from .model import RNAFM, RNAFMConfig


def balanced_sample(entries: list[Entry], n: int, seed: int, key=lambda e: e.family) -> list[Entry]:
    """Up to ``n`` entries, as equal a share per group as the groups allow (round robin), fixed order."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(key(e), []).append(e)
    pools = {g: [es[i] for i in rng.permutation(len(es))] for g, es in sorted(groups.items())}
    out: list[Entry] = []
    while len(out) < n and any(pools.values()):
        for g in list(pools):
            if pools[g] and len(out) < n:
                out.append(pools[g].pop())
    return out


def structured(corpus: Corpus, splits: tuple[str, ...], max_len: int, min_pairs: int = 3) -> list[Entry]:
    """Entries of ``splits`` with a projected consensus structure, at most ``max_len`` nt long."""
    return [e for e in corpus.entries if e.split in splits and e.pairs is not None and len(e.seq) <= max_len
            and len(e.pairs) >= min_pairs and set(e.seq) <= set("ACGU")]


def vienna_pairs(seqs: list[str]) -> list[list[tuple[int, int]]]:
    """ViennaRNA MFE structures (``RNA.fold``), cached per sequence under the cache directory."""
    try:
        import RNA
    except ImportError as err:
        raise ImportError("ViennaRNA is needed for structure labels: pip install ViennaRNA==2.8.0") from err
    # one file per ViennaRNA version (its energy parameters decide the folds); the key is the sequence itself
    path = cache_dir("rnafm", "vienna") / f"mfe-{RNA.__version__}.json"
    cache = json.loads(path.read_text()) if path.is_file() else {}
    new = False
    out = []
    for s in seqs:
        k = hashlib.sha1(s.encode()).hexdigest()
        if k not in cache:
            cache[k] = RNA.fold(s)[0]
            new = True
        out.append(parse_dot_bracket(cache[k]))
    if new:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(cache, f)
        os.replace(tmp, path)
    return out


def random_init(cfg: RNAFMConfig, seed: int) -> RNAFM:
    """The same architecture with the official initialisation and no training."""
    torch.manual_seed(seed)
    return RNAFM(cfg).eval()


def per_position_features(kind: str, seqs: list[str], model: RNAFM | None = None) -> list[np.ndarray]:
    if kind == "one_hot":
        return [probes.one_hot(s) for s in seqs]
    if kind == "kmer3":
        return [probes.kmer3_positional(s) for s in seqs]
    return probes.embed(model, seqs)


def pooled_features(kind: str, seqs: list[str], model: RNAFM | None = None) -> np.ndarray:
    if kind == "kmer3":
        return np.stack([probes.kmer3_frequencies(s) for s in seqs])
    return probes.pool(per_position_features(kind, seqs, model))


def structure_probe_job(train_x, train_pairs, val_x, val_pairs, test_x, test_pairs, steps: int, seed: int,
                        reduction: int, channels: int, blocks: int, batch_size: int = 2, lr: float = 5e-3) -> dict:
    """One pairwise-head run (train, pick the threshold on validation, score the test set); a
    top-level function so that ``paperlib.training.run_in_workers`` can run several at once.

    ``test_x`` / ``test_pairs`` may be dicts {test-set name: features / pairs}: one head scored on several
    test sets, returned as {name: metrics, "threshold": t}."""
    head, thr = probes.train_pairwise_head(train_x, train_pairs, val_x, val_pairs, steps=steps, seed=seed, lr=lr,
                                           reduction=reduction, channels=channels, blocks=blocks,
                                           batch_size=batch_size)

    def score(x, pairs):
        probs = probes.predict_pair_probs(head, x)
        return probes.mean_pair_metrics([probes.pairs_from_probs(p, thr) for p in probs], pairs)

    if isinstance(test_x, dict):
        return {**{k: score(test_x[k], test_pairs[k]) for k in test_x}, "threshold": thr}
    return {**score(test_x, test_pairs), "threshold": thr}
