"""MPT's template filling, verbalizer scoring on a masked LM (ours and a Hugging Face BERT) and a causal LM (a
tiny Llama), all randomly initialised, the cached-feature path, and the pseudo-label rule."""
import numpy as np
import pytest
import torch

from paperlib.data.vocab import WordVocab
from paperlib.mpt.method import pseudo_label
from paperlib.mpt.prompts import HFBackend, OwnBertBackend, PromptModel, Template, fill
from paperlib.nn.bert import BertConfig, BertMLM


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

WORDS = "the citation is used as background method result we follow this approach of smith . : ? answer".split()
VERB = [["background"], ["method"], ["result", "approach"]]


@pytest.fixture
def own():
    torch.manual_seed(0)
    vocab = WordVocab.build([" ".join(WORDS)], min_count=1)
    return OwnBertBackend(BertMLM(BertConfig(len(vocab), 32, 2, 2, 16, dropout=0.0)).eval(), vocab)


def test_template_filling_masked(own):
    t = Template("m", "{soft*2} {text} {soft} the citation is used as {mask} .", "mixed")
    assert t.n_soft == 3
    f = fill(t, "we follow this approach", "", own, max_len=32)
    v = own.vocab
    expect = ([v.cls_id, v.pad_id, v.pad_id] + v.encode("we follow this approach") + [v.pad_id]
              + v.encode("the citation is used as") + [v.mask_id] + v.encode(".") + [v.sep_id])
    assert f.ids == expect
    assert f.soft_positions == [1, 2, 7]
    assert f.ids[f.slot] == v.mask_id and f.slot == len(expect) - 3


def test_filling_cuts_only_the_text_and_keeps_the_slot(own):
    t = Template("m", "{text} in this sentence , {term} is a {mask} .")
    long = " ".join(["smith"] * 100)
    f = fill(t, long, "this approach", own, max_len=20)
    assert len(f.ids) == 20 and f.ids[f.slot] == own.mask_id
    # 8 of the 100 text words fit; "in", "sentence", "," and "a" are not in this tiny vocabulary
    assert own.vocab.decode(f.ids) == ("[CLS] " + "smith " * 8 + "[UNK] this [UNK] [UNK] this approach is [UNK] "
                                       "[MASK] . [SEP]")
    with pytest.raises(ValueError, match="exactly one"):
        Template("bad", "{text} no slot").parts()
    with pytest.raises(ValueError, match="no room"):
        fill(Template("t", "{soft*30} {text} {mask}"), "we", "", own, max_len=20)


def test_masked_verbalizer_scores_are_mask_logits(own):
    t = Template("m", "{text} the citation is used as {mask} .")
    pm = PromptModel(own, t, VERB, max_len=32, tune_plm=False).eval()
    texts = ["we follow this approach", "background of smith ."]
    filled = [pm.fill(x) for x in texts]
    with torch.no_grad():
        got = pm(filled)
        for i, f in enumerate(filled):
            ids = torch.tensor([f.ids])
            logits = own.model.mlm_logits(own.model(ids))[0, f.slot]  # full vocabulary, one example alone
            v = own.vocab
            want = torch.stack([logits[v.word_id("background")], logits[v.word_id("method")],
                                (logits[v.word_id("result")] + logits[v.word_id("approach")]) / 2])
            torch.testing.assert_close(got[i], want, atol=1e-5, rtol=1e-4)


def _word_level_tokenizer(extra_special):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", **extra_special)


def test_causal_verbalizer_scores_are_next_token_logits():
    transformers = pytest.importorskip("transformers")
    tok = _word_level_tokenizer({"bos_token": "<s>"})
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                                   bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id)
    lm = transformers.LlamaForCausalLM(cfg).eval()
    b = HFBackend(lm, tok, "causal")
    t = Template("m", "{soft} {text} the citation is used as {mask} .", "mixed")
    pm = PromptModel(b, t, VERB, max_len=32, tune_plm=False).eval()
    texts = ["we follow this approach", "background of smith"]
    filled = [pm.fill(x) for x in texts]
    assert all(f.ids[-1] == tok.convert_tokens_to_ids("as") and f.slot == len(f.ids) - 1 for f in filled)
    assert filled[0].ids[0] == tok.bos_token_id and filled[0].soft_positions == [1]
    with torch.no_grad():
        got = pm(filled)  # a right-padded batch of two lengths
        for i, f in enumerate(filled):
            emb = lm.get_input_embeddings()(torch.tensor([f.ids]))
            emb[0, f.soft_positions] = pm.soft
            logits = lm(inputs_embeds=emb).logits[0, -1]
            w = [tok.convert_tokens_to_ids(x) for x in ("background", "method", "result", "approach")]
            want = torch.stack([logits[w[0]], logits[w[1]], (logits[w[2]] + logits[w[3]]) / 2])
            torch.testing.assert_close(got[i], want, atol=1e-4, rtol=1e-4)


def test_hf_masked_lm_backend():
    transformers = pytest.importorskip("transformers")
    tok = _word_level_tokenizer({"cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"})
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=64)
    lm = transformers.BertForMaskedLM(cfg).eval()
    b = HFBackend(lm, tok, "masked")
    pm = PromptModel(b, Template("m", "{text} the citation is used as {mask} ."), VERB, 32, tune_plm=False).eval()
    f = pm.fill("we follow this approach")
    assert f.ids[0] == tok.cls_token_id and f.ids[-1] == tok.sep_token_id and f.ids[f.slot] == tok.mask_token_id
    with torch.no_grad():
        got = pm([f])[0]
        logits = lm(torch.tensor([f.ids])).logits[0, f.slot]
    w = [tok.convert_tokens_to_ids(x) for x in ("background", "method", "result", "approach")]
    torch.testing.assert_close(got, torch.stack([logits[w[0]], logits[w[1]], (logits[w[2]] + logits[w[3]]) / 2]),
                               atol=1e-5, rtol=1e-4)


def test_cached_top_model_matches_the_full_model(own):
    from paperlib.mpt.cached import TopClassifier, TopPromptModel, bottom_features
    from paperlib.mpt.method import Classifier, fill_classifier

    t = Template("m", "{text} the citation is used as {mask} .")
    pm = PromptModel(own, t, VERB, 32, tune_plm=False).eval()
    filled = [pm.fill(x) for x in ("we follow this approach", "background of smith .", "we")]
    top = TopPromptModel(own, 1, 0, pm.word_ids).eval()
    cached = bottom_features(own, filled, n_top=1)
    with torch.no_grad():
        torch.testing.assert_close(top(cached), pm(filled), atol=2e-3, rtol=1e-3)  # float16 cache
    clf = Classifier(own, 3, 32).eval()
    tc = TopClassifier(own, 2, 3, pooling="cls").eval()
    tc.head.load_state_dict(clf.head.state_dict())
    cf = [fill_classifier(own, x, "", 32) for x in ("we follow", "background of smith .")]
    with torch.no_grad():
        torch.testing.assert_close(tc(bottom_features(own, cf, n_top=2)), clf(cf), atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("spec", ["{soft*2} {text} {soft*2} {mask} .",
                                  "{soft*2} {text} {soft*2} the citation is used as {mask} ."])
@pytest.mark.parametrize("n_top", [1, 2])
def test_input_level_soft_prompt_equals_the_full_model(own, spec, n_top):
    """Soft and mixed templates: the learned vectors enter at the input embedding layer, so every frozen block
    sees them; the cached path gives the full model's class scores (float32, to rounding) for the same weights and
    vectors, and the gradient reaches the vectors through the frozen blocks."""
    from paperlib.mpt.cached import TopPromptModel, bottom_features

    t = Template("s", spec, "soft")
    pm = PromptModel(own, t, VERB, 32, tune_plm=False, seed=3).eval()
    texts = ("we follow this approach", "background of smith .", "we", "the method of smith is used as result")
    filled = [pm.fill(x) for x in texts]
    top = TopPromptModel(own, n_top, t.n_soft, pm.word_ids, seed=3).eval()
    with torch.no_grad():
        top.soft.copy_(torch.randn_like(top.soft))  # vectors unlike any token: a prompt the LM never saw
        pm.soft.copy_(top.soft)
    cached = bottom_features(own, filled, n_top=n_top, dtype=torch.float32)
    assert all(c.h is None and c.ids == f.ids for c, f in zip(cached, filled))  # nothing past the lookup cached
    torch.testing.assert_close(top(cached), pm(filled), atol=1e-5, rtol=1e-5)
    # the vectors act at the input: changing one changes the scores through the frozen blocks
    top(cached).sum().backward()
    assert top.soft.grad is not None and top.soft.grad.abs().sum() > 0
    assert all(p.grad is None for p in own.model.parameters())  # the shared LM is not tuned
    with torch.no_grad():
        before = top(cached)
        top.soft[0] += torch.randn_like(top.soft[0])  # (a constant shift would vanish in LayerNorm)
        assert not torch.allclose(top(cached), before)


def test_soft_vectors_in_the_cached_path_are_learned(own):
    from paperlib.mpt.cached import TopPromptModel, bottom_features
    from paperlib.mpt.method import TrainConfig, predict_proba, train

    t = Template("s", "{soft*2} {text} {soft*2} {mask} .", "soft")
    filled = [fill(t, x, "", own, 32) for x in ("we follow this approach", "background of smith", "the method")]
    m = TopPromptModel(own, 1, t.n_soft, [[own.vocab.word_id(w) for w in ws] for ws in VERB], seed=0)
    before = m.soft.detach().clone()
    info = train(m, bottom_features(own, filled, 1), [2, 0, 1], TrainConfig(steps=30, batch_size=3, lr=3e-3))
    assert not torch.allclose(before, m.soft) and info["loss"][-1] < info["loss"][0]
    p = predict_proba(m, bottom_features(own, filled, 1))
    assert p.shape == (3, 3) and np.allclose(p.sum(1), 1.0, atol=1e-5)


def test_a_manual_template_over_a_frozen_lm_is_zero_shot(own):
    from paperlib.mpt.method import TrainConfig, train

    pm = PromptModel(own, Template("m", "{text} the citation is used as {mask} ."), VERB, 32, tune_plm=False)
    before = {k: v.clone() for k, v in own.model.state_dict().items()}
    info = train(pm, [pm.fill("we follow this approach")], [0], TrainConfig(steps=3, batch_size=1))
    assert info["loss"] == [] and info["examples_per_s"] is None
    assert all(torch.equal(v, own.model.state_dict()[k]) for k, v in before.items())


def test_pseudo_label_rule():
    probs = np.array([[0.90, 0.05, 0.05],   # 0: confident class 0
                      [0.50, 0.30, 0.20],   # 1: below threshold
                      [0.70, 0.20, 0.10],   # 2: class 0, less confident than 0 and 3
                      [0.95, 0.03, 0.02],   # 3: most confident class 0
                      [0.10, 0.80, 0.10],   # 4: class 1
                      [0.10, 0.10, 0.80]])  # 5: class 2
    idx, lab = pseudo_label(probs, per_class=2, threshold=0.6)
    assert idx.tolist() == [3, 0, 4, 5] and lab.tolist() == [0, 0, 1, 2]  # cap drops 2; threshold drops 1
    idx, lab = pseudo_label(probs, threshold=0.99, per_class=10)
    assert len(idx) == 0 and len(lab) == 0
    idx, _ = pseudo_label(probs, threshold=0.0, per_class=10)
    assert sorted(idx.tolist()) == list(range(6))


def test_pseudo_label_per_class_top_k_does_not_depend_on_confidence_level():
    """The default rule keeps the k most confident per predicted class however unconfident the labeller is (the
    threshold rule kept almost nothing at high K), and fewer only where fewer examples are assigned a class."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 4))
    logits[:, 3] -= 5.0  # class 3 is almost never the arg-max
    for temp in (1.0, 20.0):  # 20: nearly uniform probabilities, max below 0.3
        p = np.exp(logits / temp)
        p /= p.sum(1, keepdims=True)
        idx, lab = pseudo_label(p, per_class=16)
        pred = p.argmax(1)
        for c in range(4):
            assert (lab == c).sum() == min(16, (pred == c).sum())
            kept = idx[lab == c]
            rest = np.setdiff1d(np.flatnonzero(pred == c), kept)
            if len(rest):
                assert p[kept, c].min() >= p[rest, c].max()
        assert (pred[idx] == lab).all()
    with pytest.raises(ValueError, match="per_class"):
        pseudo_label(p, per_class=-1)
