"""The small BERT-style masked LM: masking, a pretraining loss that falls, and the checkpoint round trip."""
import pytest
import torch

from paperlib.nn.bert import BertConfig, BertMLM, load_bert, mask_for_mlm, pad_rows, pretrain_mlm, save_bert


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_mask_for_mlm_only_masks_real_non_special_tokens():
    g = torch.Generator().manual_seed(0)
    ids, pad = pad_rows([[2] + list(range(5, 95)) + [3], [2, 7, 8, 3]], pad_id=0)
    inputs, targets = mask_for_mlm(ids, pad, mask_id=4, vocab_size=100, n_special=5, prob=0.5, generator=g)
    chosen = targets != -100
    assert not chosen[ids < 5].any() and not chosen[~pad].any()
    assert (targets[chosen] == ids[chosen]).all()
    assert 0.3 < chosen[0].float().sum() / 90 < 0.7
    assert (inputs[chosen] == 4).float().mean() > 0.6  # ~80% become [MASK]
    assert (inputs[~chosen] == ids[~chosen]).all()


def test_pretraining_learns_and_checkpoint_round_trips(tmp_path):
    torch.manual_seed(0)
    # a toy language: each row repeats one random word, so a masked token is predictable from its context
    g = torch.Generator().manual_seed(1)
    rows = [[2] + [w] * 12 + [3] for w in torch.randint(5, 25, (256,), generator=g).tolist()]
    m = BertMLM(BertConfig(vocab_size=25, max_len=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0))
    res = pretrain_mlm(m, rows, mask_id=4, n_special=5, epochs=12, batch_size=32, lr=3e-3, seed=0)
    first, last = sum(res["loss"][:10]) / 10, sum(res["loss"][-10:]) / 10
    assert last < 0.3 * first, (first, last)
    save_bert(tmp_path / "m.pt", m, {"note": "toy"})
    m2, info = load_bert(tmp_path / "m.pt")
    ids, pad = pad_rows(rows[:4])
    with torch.no_grad():
        torch.testing.assert_close(m2.mlm_logits(m2(ids, pad)), m.mlm_logits(m(ids, pad)))
    assert info == {"note": "toy"}


def test_block_forward_at_one_position_equals_the_full_block():
    """The last block computed at one position per row (the [MASK] slot; the quick profile's speed-up) gives the
    full block's output there, with padding, and the same gradients to the block and to its input."""
    torch.manual_seed(0)
    m = BertMLM(BertConfig(vocab_size=30, max_len=12, n_layer=2, n_head=2, n_embd=16, dropout=0.1)).eval()
    blk = m.blocks[-1]
    x = torch.randn(3, 10, 16, requires_grad=True)
    pad = torch.ones(3, 10, dtype=torch.bool)
    pad[1, 6:] = False
    pad[2, 3:] = False
    pos = torch.tensor([9, 5, 0])
    full = blk(x, pad[:, None, None, :])[torch.arange(3), pos]
    at = blk.forward_at(x, pad[:, None, None, :], pos)
    torch.testing.assert_close(at, full, atol=1e-6, rtol=1e-5)
    g_full = torch.autograd.grad(full.square().sum(), [x, blk.qkv.weight])
    g_at = torch.autograd.grad(at.square().sum(), [x, blk.qkv.weight])
    for a, b in zip(g_at, g_full):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    # a position that the padding hides from the others: changing it changes nothing
    x2 = x.detach().clone()
    x2[2, 5] += 10.0
    torch.testing.assert_close(blk.forward_at(x2, pad[:, None, None, :], pos)[2], at[2].detach())
