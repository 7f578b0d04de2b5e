"""The small GPT: KV-cache generation equals full forwards, left padding changes nothing."""
import pytest
import torch

from paperlib.nn.gpt import GPT, GPTConfig, generate, response_log_probs


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=12, block_size=40, n_layer=2, n_head=2, n_embd=16)).eval()


def test_left_padding_does_not_change_logits(model):
    seq = torch.tensor([[3, 4, 5, 6, 7]])
    padded = torch.tensor([[0, 0, 3, 4, 5, 6, 7]])
    a = model(seq)
    b = model(padded, padded != 0)
    assert torch.allclose(a[0], b[0, 2:], atol=1e-5)


def test_cached_generation_matches_full_forward_log_probs(model):
    prompts = torch.tensor([[0, 0, 1, 5, 6], [1, 7, 8, 9, 3]])
    tokens, mask = generate(model, prompts, prompts != 0, 12, eos_id=2, generator=torch.Generator().manual_seed(1))
    lp = response_log_probs(model, tokens, mask, prompt_len=5)
    for i in range(2):
        row = tokens[i][mask[i]]  # the same sequence without padding, one full forward
        P = int((prompts[i] != 0).sum())
        full = torch.log_softmax(model(row[None]), -1)[0, P - 1:-1].gather(-1, row[P:, None]).squeeze(-1)
        n = len(row) - P
        assert torch.allclose(lp[i, :n], full, atol=1e-5)


def test_generation_stops_at_eos_and_pads_after(model):
    prompts = torch.tensor([[1, 5, 6]])
    tokens, mask = generate(model, prompts, prompts != 0, 30, eos_id=2, generator=torch.Generator().manual_seed(0),
                            banned_ids=(1,))
    resp = tokens[0, 3:].tolist()
    assert 1 not in resp  # banned
    end = resp.index(2) + 1 if 2 in resp else len(resp)
    assert 0 not in resp[:end]  # padding is never sampled
    assert all(t == 0 for t in resp[end:])
    assert int(mask[0, 3:].sum()) == end


def test_greedy_is_deterministic_and_block_size_is_enforced(model):
    prompts = torch.tensor([[1, 5, 6]])
    a, _ = generate(model, prompts, prompts != 0, 10, eos_id=2, greedy=True)
    b, _ = generate(model, prompts, prompts != 0, 10, eos_id=2, greedy=True)
    assert torch.equal(a, b)
    long, _ = generate(model, prompts, prompts != 0, 500, eos_id=99, greedy=True)
    assert long.shape[1] <= model.cfg.block_size
    with pytest.raises(ValueError, match="block_size"):
        model(torch.ones(1, 41, dtype=torch.long))
