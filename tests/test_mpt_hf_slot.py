"""The masked-LM backend scores the slot with the MLM head at the slot only: the same logits and hidden state as
the full model's outputs at that position (a tiny random BERT from a config, no download)."""
import torch

from paperlib.mpt.prompts import HFBackend


def tiny_bert():
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(40)]
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True)
    torch.manual_seed(0)
    lm = BertForMaskedLM(BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, max_position_embeddings=64)).eval()
    return lm, tok


def test_slot_only_head_equals_the_full_models_logits_at_the_slot():
    lm, tok = tiny_bert()
    b = HFBackend(lm, tok, "masked")
    ids = torch.randint(5, 45, (3, 9))
    pad = torch.ones(3, 9, dtype=torch.bool)
    pad[1, 6:] = False
    positions = torch.tensor([2, 4, 8])
    token_ids = torch.tensor([7, 11, 30])
    emb = b.embed(ids)
    logits, hp = b.forward(emb, pad, positions, token_ids)
    with torch.no_grad():
        full = lm(inputs_embeds=emb, attention_mask=pad.long(), output_hidden_states=True)
    rows = torch.arange(3)
    assert torch.allclose(logits, full.logits[rows, positions][:, token_ids], atol=1e-6)
    assert torch.allclose(hp, full.hidden_states[-1][rows, positions], atol=1e-6)
    none, hp2 = b.forward(emb, pad, positions)
    assert none is None and torch.allclose(hp2, hp)
