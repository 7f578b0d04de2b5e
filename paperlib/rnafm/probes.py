"""What the representations know: the paper's analyses, scaled down.

* features: per-nucleotide embeddings (last layer, after the final layer norm, as RNA-FM's
  downstream heads take ``representations[12]``), pooled by the mean over nucleotides; controls
  are one-hot nucleotides, 3-mer identities / frequencies, and the same architecture randomly
  initialised;
* secondary structure: the official pairwise head (``redevelop/model/pairwise_predictor/
  pairwise_concat.py`` ``PairwiseConcatWithResNet``: a linear reduction, the outer concatenation
  [e_i; e_j], a 1x1 conv, residual blocks BN-ReLU-conv3x3-dropout-ReLU-dilated conv3x3 with
  dilations 1, 2, 4, a final 3x3 conv to two classes, symmetrised from the upper triangle),
  scaled down in width and depth;
* attention: ESM/RNA-FM's ``ContactPredictionHead`` recipe (``fm/modules.py``): every head's map
  without ``<cls>``/``<eos>``, symmetrised (A + A^T) and APC-corrected
  (A_ij - A_i. A_.j / A_..), fed to a logistic regression per pair;
* metrics: per-sequence base-pair precision, recall and F1, averaged over sequences; pair AUROC and
  top-L precision for the attention probe.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import RNAFM, encode

KMERS3 = {"".join(k): n for n, k in enumerate(itertools.product("ACGU", repeat=3))}


# ---------------------------------------------------------------- features

@torch.no_grad()
def embed(model: RNAFM, seqs: list[str], attentions: bool = False, max_tokens: int = 16384, max_len: int = 1022):
    """Per-sequence (L, E) float32 embeddings (and (layers*heads, L, L) attention maps) without
    ``<cls>``/``<eos>``. Batches are formed by length so that padding stays small."""
    model.eval()
    order = np.argsort([len(s) for s in seqs])
    embs: list = [None] * len(seqs)
    atts: list = [None] * len(seqs)
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and (j - i + 1) * (min(len(seqs[order[j]]), max_len) + 2) <= max_tokens:
            j += 1
        j = max(j, i + 1)
        idx = order[i:j]
        toks = encode([seqs[k] for k in idx], max_len).to(next(model.parameters()).device)
        out = model(toks, need_head_weights=attentions)
        for b, k in enumerate(idx):
            n = min(len(seqs[k]), max_len)
            embs[k] = out["representations"][b, 1:n + 1].float().cpu().numpy()
            if attentions:
                a = out["attentions"][b, :, :, 1:n + 1, 1:n + 1]
                atts[k] = a.reshape(-1, n, n).float().cpu().numpy()
        i = j
    return (embs, atts) if attentions else embs


def one_hot(seq: str) -> np.ndarray:
    x = np.zeros((len(seq), 4), np.float32)
    for i, c in enumerate(seq):
        if c in "ACGU":
            x[i, "ACGU".index(c)] = 1.0
        else:
            x[i] = 0.25  # IUPAC codes: no information
    return x


def kmer3_positional(seq: str) -> np.ndarray:
    """Per position, the one-hot identity of the 3-mer centred on it (64 dims; zero at the ends)."""
    x = np.zeros((len(seq), 64), np.float32)
    for i in range(1, len(seq) - 1):
        k = KMERS3.get(seq[i - 1:i + 2])
        if k is not None:
            x[i, k] = 1.0
    return x


def kmer3_frequencies(seq: str) -> np.ndarray:
    x = np.zeros(64, np.float32)
    for i in range(len(seq) - 2):
        k = KMERS3.get(seq[i:i + 3])
        if k is not None:
            x[k] += 1
    return x / max(x.sum(), 1.0)


def pool(per_position: list[np.ndarray]) -> np.ndarray:
    return np.stack([e.mean(0) for e in per_position])


# ---------------------------------------------------------------- pooled-embedding probes

def linear_probe(train_x, train_y, test_x, test_y, seed: int = 0) -> float:
    """Accuracy of a multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    clf.fit(train_x, train_y)
    return float((clf.predict(test_x) == np.asarray(test_y)).mean())


def few_shot_split(labels, shots: int, seed: int):
    """Indices: ``shots`` training examples per class, the rest for testing."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    train = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        train += list(rng.choice(idx, size=min(shots, len(idx) - 1), replace=False))
    train = np.array(sorted(train))
    test = np.setdiff1d(np.arange(len(labels)), train)
    return train, test


def silhouette(x, labels) -> float:
    """Silhouette of the labels in the standardised feature space (Euclidean)."""
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    return float(silhouette_score(StandardScaler().fit_transform(x), labels))


# ---------------------------------------------------------------- structure metrics

def pair_metrics(pred, true) -> tuple[float, float, float]:
    """Base-pair precision, recall and F1 of one sequence (pairs as sets of (i, j), i < j).

    No predicted pairs gives precision 0; no true pairs gives recall 0 (and F1 0), as the
    per-sequence scores the paper averages."""
    pred = {tuple(sorted(p)) for p in pred}
    true = {tuple(sorted(p)) for p in true}
    tp = len(pred & true)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(true) if true else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return p, r, f


def mean_pair_metrics(preds, trues) -> dict:
    m = np.array([pair_metrics(p, t) for p, t in zip(preds, trues)])
    return {"precision": float(m[:, 0].mean()), "recall": float(m[:, 1].mean()), "f1": float(m[:, 2].mean())}


def pairs_from_probs(prob: np.ndarray, threshold: float, min_sep: int = 4) -> list[tuple[int, int]]:
    """Pairs above ``threshold`` with every base in at most one pair (greedy by probability)."""
    L = prob.shape[0]
    iu, ju = np.triu_indices(L, k=min_sep)
    p = prob[iu, ju]
    keep = p > threshold
    order = np.argsort(-p[keep])
    used = np.zeros(L, bool)
    pairs = []
    for i, j in zip(iu[keep][order], ju[keep][order]):
        if not used[i] and not used[j]:
            used[i] = used[j] = True
            pairs.append((int(i), int(j)))
    return sorted(pairs)


# ---------------------------------------------------------------- pairwise head (official recipe, scaled)

class ResBlock(nn.Module):
    """``MyBasicResBlock``: BN, ReLU, conv3x3, dropout 0.3, ReLU, dilated conv3x3, + identity."""

    def __init__(self, ch: int, dilation: int, dropout: float = 0.3):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation, bias=False)

    def forward(self, x):
        return x + self.conv2(F.relu(self.dropout(self.conv1(F.relu(self.bn1(x))))))


class PairwiseConcatResNet(nn.Module):
    """``PairwiseConcatWithResNet`` (official: reduction 128, 64 channels, 32 blocks; here smaller)."""

    def __init__(self, in_dim: int, reduction: int = 32, channels: int = 32, blocks: int = 6):
        super().__init__()
        self.pre_reduction = nn.Linear(in_dim, reduction)
        self.first = nn.Conv2d(2 * reduction, channels, 1)
        self.resnet = nn.Sequential(*[ResBlock(channels, 2 ** (i % 3)) for i in range(blocks)])
        self.final = nn.Conv2d(channels, 2, 3, padding=1)

    def forward(self, emb):  # emb: (B, L, E) -> logits (B, 2, L, L)
        e = self.pre_reduction(emb)
        B, L, D = e.shape
        ei = e.unsqueeze(2).expand(B, L, L, D)
        pair = torch.cat([ei, ei.transpose(1, 2)], dim=3).permute(0, 3, 1, 2).contiguous()
        out = self.final(self.resnet(self.first(pair)))
        # symmetric: keep the upper triangle and mirror it (as the official ``symmetric=True``)
        return torch.triu(out) + torch.triu(out, diagonal=1).transpose(2, 3)


def contact_map(pairs, L: int) -> np.ndarray:
    y = np.zeros((L, L), np.int64)
    for i, j in pairs:
        y[i, j] = y[j, i] = 1
    return y


def train_pairwise_head(train_feats, train_pairs, val_feats, val_pairs, steps: int, seed: int, lr: float = 1e-3,
                        reduction: int = 32, channels: int = 32, blocks: int = 6, min_sep: int = 4,
                        batch_size: int = 4, device="cpu"):
    """Train the head on frozen per-nucleotide features (``batch_size`` sequences a step, padded; 2-class
    cross-entropy over the pairs with |i-j| >= min_sep, as the official 2-class output), then choose
    the decision threshold that maximises mean F1 on the validation sequences. Returns (head, threshold)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = PairwiseConcatResNet(train_feats[0].shape[1], reduction, channels, blocks).to(device)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    head.train()
    for step in range(steps):
        idx = rng.choice(len(train_feats), size=min(batch_size, len(train_feats)), replace=False)
        L = max(len(train_feats[k]) for k in idx)
        x = torch.zeros(len(idx), L, train_feats[0].shape[1])
        y = torch.zeros(len(idx), L, L, dtype=torch.long)
        valid = torch.zeros(len(idx), L, L, dtype=torch.bool)
        for b, k in enumerate(idx):
            n = len(train_feats[k])
            x[b, :n] = torch.from_numpy(train_feats[k])
            y[b, :n, :n] = torch.from_numpy(contact_map(train_pairs[k], n))
            valid[b, :n, :n] = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=min_sep)
        x, y, valid = x.to(device), y.to(device), valid.to(device)
        logits = head(x).permute(0, 2, 3, 1)  # (B, L, L, 2)
        loss = F.cross_entropy(logits[valid], y[valid])
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    probs = predict_pair_probs(head, val_feats)
    best = max(np.linspace(0.05, 0.95, 19),
               key=lambda t: mean_pair_metrics([pairs_from_probs(p, t, min_sep) for p in probs], val_pairs)["f1"])
    return head, float(best)


@torch.no_grad()
def predict_pair_probs(head, feats) -> list[np.ndarray]:
    head.eval()
    dev = next(head.parameters()).device
    return [head(torch.from_numpy(f)[None].to(dev))[0].softmax(0)[1].float().cpu().numpy() for f in feats]


# ---------------------------------------------------------------- attention probe (contact head recipe)

def symmetrize(x: np.ndarray) -> np.ndarray:
    return x + np.swapaxes(x, -1, -2)


def apc(x: np.ndarray) -> np.ndarray:
    """Average product correction of each (L, L) map: A_ij - A_i. A_.j / A_.. (ESM ``apc``)."""
    a1 = x.sum(-1, keepdims=True)
    a2 = x.sum(-2, keepdims=True)
    a12 = x.sum((-1, -2), keepdims=True)
    return x - a1 * a2 / a12


def attention_pair_features(att: np.ndarray, min_sep: int = 4):
    """(pairs, features) of one sequence: all i < j with j - i >= min_sep, one feature per head."""
    f = apc(symmetrize(att))
    L = att.shape[-1]
    iu, ju = np.triu_indices(L, k=min_sep)
    return (iu, ju), f[:, iu, ju].T


def pair_identity_features(seq: str, min_sep: int = 4):
    """The baseline: one-hot of the nucleotide pair (x_i, x_j), 16 dims."""
    oh = one_hot(seq)
    L = len(seq)
    iu, ju = np.triu_indices(L, k=min_sep)
    return (iu, ju), np.einsum("na,nb->nab", oh[iu], oh[ju]).reshape(len(iu), 16)


def fit_pair_logistic(feats: list[np.ndarray], labels: list[np.ndarray], seed: int, max_pairs: int = 60000,
                      C: float = 0.15):
    """L1 logistic regression over pairs (ESM fits its contact regression with L1, C = 0.15), on all
    positives and a random subset of negatives capped at ``max_pairs``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.concatenate(feats)
    y = np.concatenate(labels)
    rng = np.random.default_rng(seed)
    if len(y) > max_pairs:
        pos = np.flatnonzero(y == 1)
        neg = rng.choice(np.flatnonzero(y == 0), size=max(max_pairs - len(pos), 1), replace=False)
        idx = np.concatenate([pos, neg])
        X, y = X[idx], y[idx]
    import sklearn

    # scikit-learn 1.8 spells the L1 penalty l1_ratio=1 (``penalty`` is deprecated there)
    l1 = {"l1_ratio": 1.0} if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 8) else {"penalty": "l1"}
    clf = make_pipeline(StandardScaler(), LogisticRegression(**l1, C=C, solver="liblinear", max_iter=500,
                                                             random_state=seed))
    clf.fit(X, y)
    return clf


def pair_probe_scores(clf, feats, labels, lengths) -> dict:
    """Pooled pair AUROC, mean per-sequence top-L precision, and mean F1 at threshold 0.5."""
    from sklearn.metrics import roc_auc_score

    scores = [clf.predict_proba(f)[:, 1] for f in feats]
    auroc = float(roc_auc_score(np.concatenate(labels), np.concatenate(scores)))
    topl = []
    for s, y, L in zip(scores, labels, lengths):
        k = min(L, len(s))
        topl.append(float(y[np.argsort(-s)[:k]].mean()) if k else 0.0)
    return {"auroc": auroc, "top_l_precision": float(np.mean(topl))}
