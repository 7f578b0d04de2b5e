"""The supervised loops that moved to the shared Lightning trainer give the numbers of the hand-written loops they
replaced, on the CPU: each test keeps the old loop as a small reference and compares weights and losses with
``torch.equal`` (bitwise). Bitwise, not a tolerance: the same batches, the same ops in the same order and the same
random draws must give the same bits on one machine and thread count; anything less would mean a batch, a draw or
an update changed, which the smoke goldens (``paperlib verify``) would then show as moved measurements."""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture
def old_loop_setting():
    """The old loops ran without torch's deterministic algorithms unless something had turned them on before, and
    a Lightning trainer turns them on (warn_only) for the rest of the process: the reference loops run with them
    off, so that a change of kernels under that setting would show as a difference."""
    def run(fn, *a, **kw):
        was, warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(False)
        try:
            return fn(*a, **kw)
        finally:
            torch.use_deterministic_algorithms(was, warn_only=warn)
    return run


def _same_state(a: torch.nn.Module, b: torch.nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# ---------------------------------------------------------------- A-LoL value head

def _old_fit_value_head(states, mask, targets, epochs=10, lr=1e-3, batch=16, seed=0, max_value=1.0):
    """The hand-written loop fit_value_head had before (paperlib/alol/value.py at 51587c5)."""
    from paperlib.alol.value import ValueHeadAttention

    torch.manual_seed(seed)
    head = ValueHeadAttention(states.shape[-1], max_value=max_value).to(states.device)
    opt = torch.optim.AdamW(head.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(targets, dtype=torch.float32, device=states.device)
    best, best_state, history = float("inf"), None, []
    for _ in range(epochs):
        head.train()
        losses = []
        for idx in torch.randperm(len(y), generator=g).split(batch):
            loss = F.mse_loss(head(states[idx], mask[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
        if history[-1] < best:
            best, best_state = history[-1], copy.deepcopy(head.state_dict())
    head.load_state_dict(best_state)
    return head.eval(), history


def test_value_head_equals_hand_written_loop(old_loop_setting):
    from paperlib.alol.value import fit_value_head

    g = torch.Generator().manual_seed(3)
    states = torch.randn(37, 6, 16, generator=g)  # 37 rows: the last batch of each epoch is short
    mask = torch.ones(37, 6, dtype=torch.bool)
    mask[::3, :2] = False  # left padding
    targets = torch.rand(37, generator=g).numpy()
    old, h_old = old_loop_setting(_old_fit_value_head, states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    new, h_new = fit_value_head(states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    assert h_new == h_old and len(h_new) == 4
    _same_state(new, old)
    # the global RNG is left where the old loop left it: what runs next draws the same numbers
    old_loop_setting(_old_fit_value_head, states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    after_old = torch.rand(3)
    fit_value_head(states, mask, targets, epochs=4, lr=3e-3, batch=8, seed=5)
    assert torch.equal(torch.rand(3), after_old)


# ---------------------------------------------------------------- BERT MLM pretraining (MPT's in-domain LM)

def _old_pretrain_mlm(model, rows, *, mask_id, n_special, epochs=1.0, batch_size=64, lr=1e-3, warmup=0.05,
                      weight_decay=0.01, seed=0):
    """The hand-written loop paperlib.nn.bert.pretrain_mlm had before (at 51587c5), logging left out."""
    from paperlib.nn.bert import length_sorted_batches, mask_for_mlm, pad_rows

    g = torch.Generator().manual_seed(seed)
    lengths = [len(r) for r in rows]
    total = max(1, int(round(epochs * math.ceil(len(rows) / batch_size))))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
    warm = max(1, int(warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm + 1))))
    model.train()
    history, step, tokens = [], 0, 0
    while step < total:
        for b in length_sorted_batches(lengths, batch_size, g):
            if step >= total:
                break
            ids, pad = pad_rows([rows[i] for i in b], max_len=model.cfg.max_len)
            inputs, targets = mask_for_mlm(ids, pad, mask_id, model.cfg.vocab_size, n_special, generator=g)
            h = model(inputs, pad)
            sel = targets != -100
            loss = F.cross_entropy(model.mlm_logits(h[sel]), targets[sel])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            tokens += int(pad.sum())
            history.append(float(loss.detach()))
    model.eval()
    return {"loss": history, "steps": total, "tokens": tokens}


def test_bert_pretrain_mlm_equals_hand_written_loop(old_loop_setting):
    from paperlib.nn.bert import BertConfig, BertMLM, pretrain_mlm

    g = torch.Generator().manual_seed(1)
    rows = [[2] + torch.randint(5, 40, (int(n),), generator=g).tolist() + [3]
            for n in torch.randint(3, 20, (90,), generator=g)]
    cfg = BertConfig(vocab_size=40, max_len=16, n_layer=2, n_head=2, n_embd=16, dropout=0.1)  # rows cut to max_len
    models = []
    for fit in (_old_pretrain_mlm, pretrain_mlm):
        torch.manual_seed(0)
        m = BertMLM(cfg)
        # 1.6 epochs of 6 batches: the second pass over the data stops part-way, as a fractional epochs setting does
        res = (old_loop_setting if fit is _old_pretrain_mlm else lambda f, *a, **k: f(*a, **k))(fit, m, rows, mask_id=4, n_special=5, epochs=1.6, batch_size=16, lr=3e-3, seed=7)
        models.append((m, res, torch.rand(3)))  # torch.rand: where the global RNG (dropout) was left
    (old, r_old, after_old), (new, r_new, after_new) = models
    assert r_new["loss"] == r_old["loss"] and len(r_new["loss"]) == 10
    assert r_new["tokens"] == r_old["tokens"] and r_new["steps"] == r_old["steps"]
    assert not new.training
    _same_state(new, old)
    assert torch.equal(after_new, after_old)


# ---------------------------------------------------------------- RNA-FM MLM pretraining

def _old_rnafm_pretrain(seqs, cfg, max_steps=None):
    """The hand-written loop paperlib.rnafm.mlm.pretrain had before (at 51587c5), on the CPU in float32, without
    the evaluations, checkpoints and logs (they draw nothing from the training's random streams)."""
    from paperlib.rnafm.mlm import length_batches, mask_tokens, mlm_loss
    from paperlib.rnafm.model import RNAFM, RNAFMConfig, encode

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = RNAFM(RNAFMConfig(**cfg.model))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + cfg.schedule_offset + 1) / cfg.warmup_steps,
                           math.sqrt(cfg.warmup_steps / (s + cfg.schedule_offset + 1)))
        * (min(1.0, (s + 1) / cfg.rewarmup_steps) if cfg.rewarmup_steps else 1.0))
    lengths = [min(len(s), cfg.crop) + 2 for s in seqs]
    seen = steps = 0
    t0 = time.perf_counter()
    losses = []
    model.train()
    done, epoch = False, 0
    while not done:
        for idx in length_batches(lengths, cfg.batch_tokens, rng):
            batch = []
            for i in idx:
                s = seqs[i]
                if len(s) > cfg.crop:
                    start = int(rng.integers(0, len(s) - cfg.crop + 1))
                    s = s[start:start + cfg.crop]
                batch.append(s)
            inputs, targets = mask_tokens(encode(batch), gen)
            loss = mlm_loss(model, inputs, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            steps += 1
            seen += sum(len(s) for s in batch)
            losses.append(float(loss.detach()))
            elapsed = time.perf_counter() - t0
            done = seen >= cfg.tokens or elapsed >= cfg.max_seconds or (max_steps is not None and steps >= max_steps)
            if done:
                break
        epoch += 1
    return model.eval(), {"steps": steps, "tokens_seen": seen, "epochs_started": epoch, "losses": losses}


@pytest.mark.parametrize("budget", ["steps", "tokens"])
def test_rnafm_pretrain_equals_hand_written_loop(old_loop_setting, budget):
    from dataclasses import asdict

    from paperlib.rnafm.mlm import PretrainConfig, pretrain
    from paperlib.rnafm.model import RNAFMConfig

    rs = np.random.default_rng(0)
    seqs = ["".join(rs.choice(list("ACGU"), n)) for n in rs.integers(20, 90, 40)]  # some longer than the crop
    cfg = PretrainConfig(model=asdict(RNAFMConfig(num_layers=2, embed_dim=32, attention_heads=4, ffn_embed_dim=64,
                                                  max_positions=128)),
                         tokens=10**9 if budget == "steps" else 3000, max_seconds=1e9, batch_tokens=512, crop=60,
                         warmup_steps=3, lr=2e-3, threads=1, checkpoint_every_s=1e9, device="cpu", seed=4)
    max_steps = 14 if budget == "steps" else None  # ~6 batches an epoch: both budgets cross epoch boundaries
    old, i_old = old_loop_setting(_old_rnafm_pretrain, seqs, cfg, max_steps)
    checkpoints = []
    new, i_new = pretrain(seqs, cfg, log=lambda m: None, max_steps=max_steps,
                          on_checkpoint=lambda m, info: checkpoints.append(info["steps"]))
    for k in ("steps", "tokens_seen", "epochs_started"):
        assert i_new[k] == i_old[k], k
    assert i_old["epochs_started"] >= 2 and (budget == "tokens" or i_old["steps"] == 14)
    assert checkpoints == [i_old["steps"]]  # the final checkpoint, once, at the last step
    _same_state(new, old)
    assert not new.training


# ---------------------------------------------------------------- MPT's tuning (prompt models, classifiers)

def _old_mpt_train(model, filled, labels, cfg):
    """The hand-written loop paperlib.mpt.method.train had before (at 51587c5)."""
    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    soft = [p for n, p in model.named_parameters() if n == "soft" and p.requires_grad]
    rest = [p for n, p in model.named_parameters() if n != "soft" and p.requires_grad]
    groups = ([{"params": rest, "lr": cfg.lr}] if rest else []) + (
        [{"params": soft, "lr": cfg.soft_lr, "weight_decay": 0.0}] if soft else [])
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    warm = max(1, int(cfg.warmup * cfg.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (cfg.steps - s) / max(1, cfg.steps - warm))))
    model.train()
    order, losses = [], []
    for _ in range(cfg.steps):
        if len(order) < cfg.batch_size:
            order += torch.randperm(len(filled), generator=g).tolist()
        b, order = order[: cfg.batch_size], order[cfg.batch_size:]
        loss = F.cross_entropy(model([filled[i] for i in b]), y[b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for grp in groups for p in grp["params"]], 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return {"loss": losses}


@pytest.mark.parametrize("path", ["full LM, soft + mixed words", "cached top block, soft", "cached classifier"])
def test_mpt_train_equals_hand_written_loop(old_loop_setting, path):
    from paperlib.data.vocab import WordVocab
    from paperlib.mpt.cached import FrozenBottom, TopClassifier, TopPromptModel, bottom_features
    from paperlib.mpt.method import TrainConfig, fill_classifier, train
    from paperlib.mpt.prompts import OwnBertBackend, PromptModel, Template, fill
    from paperlib.nn.bert import BertConfig, BertMLM

    words = "we follow this approach of smith background the method result citation is used as".split()
    rs = np.random.default_rng(0)
    texts = [" ".join(rs.choice(words, int(n))) for n in rs.integers(3, 12, 11)]  # 11 rows, batch 4: refills
    labels = rs.integers(0, 3, len(texts))
    verb = [["background"], ["method"], ["result", "approach"]]
    t = Template("m", "{soft*2} {text} {soft} the citation is used as {mask} .", "mixed")
    torch.manual_seed(0)
    vocab = WordVocab.build([" ".join(words)], min_count=1)
    own = OwnBertBackend(BertMLM(BertConfig(len(vocab), 32, 2, 2, 16, dropout=0.1)).eval(), vocab)
    frozen = FrozenBottom(own.model, 1)

    def make():
        torch.manual_seed(11)  # as run_cell seeds before it builds a model
        if path.startswith("full"):
            m = PromptModel(own.copy(), t, verb, 32, tune_plm=True, seed=2)
            return m, [m.fill(x) for x in texts]
        if path.startswith("cached top"):
            word_ids = [[vocab.word_id(w) for w in ws] for ws in verb]
            return (TopPromptModel(own, 1, t.n_soft, word_ids, seed=2, frozen=frozen),
                    bottom_features(own, [fill(t, x, "", own, 32) for x in texts], 1))
        return (TopClassifier(own, 1, 3, "mean", frozen),
                bottom_features(own, [fill_classifier(own, x, "", 32) for x in texts], 1))

    cfg = TrainConfig(steps=7, batch_size=4, lr=3e-3, soft_lr=3e-2, seed=5)
    old, items = make()
    r_old = old_loop_setting(_old_mpt_train, old, items, labels, cfg)
    after_old = torch.rand(3)
    new, items = make()
    r_new = train(new, items, labels, cfg)
    assert torch.equal(torch.rand(3), after_old)  # the global RNG (dropout) consumed alike
    assert r_new["loss"] == r_old["loss"] and len(r_new["loss"]) == 7
    assert r_new["examples_per_s"] > 0 and not new.training
    _same_state(new, old)
