"""A-LoL's Helpful-Harmless set-up (paperlib.alol.hh) without a download: transcript parsing, the official
reward-model input, a tiny random reward model and LM, the data split, and the clear errors offline."""
import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from test_nn_hf import char_tokenizer, tiny_llama  # noqa: E402

from paperlib.alol import hh  # noqa: E402
from paperlib.data import MissingDataError  # noqa: E402

T1 = "\n\nHuman: how do i bake bread?\n\nAssistant: what kind?\n\nHuman: rye\n\nAssistant: "


def _row(prefix, good, bad):
    return {"chosen": prefix + good, "rejected": prefix + bad}


def test_a_transcript_splits_into_the_dialogue_and_the_last_answer():
    prompt, answer = hh.parse_dialogue(T1 + "mix rye flour and water.")
    assert answer == "mix rye flour and water."
    assert [(t["role"], t["content"]) for t in prompt.turns] == [
        ("user", "how do i bake bread?"), ("assistant", "what kind?"), ("user", "rye")]
    assert prompt.prompt == prompt.turns and hash(prompt) == hash(hh.parse_dialogue(T1 + "x")[0])
    for bad in ("no turns at all", "\n\nAssistant: hi\n\nHuman: hello", "\n\nHuman: a\n\nHuman: b\n\nAssistant: c"):
        with pytest.raises(ValueError, match="HH-RLHF"):
            hh.parse_dialogue(bad)


def test_pairs_keep_shared_prompts_with_two_different_answers():
    rows = [_row(T1, "good one", "bad one"),
            {"chosen": T1 + "same", "rejected": T1 + "same"},                        # no contrast: skipped
            {"chosen": T1 + "a", "rejected": "\n\nHuman: other\n\nAssistant: b"},    # other prompts: skipped
            {"chosen": "garbled", "rejected": "garbled"},                            # not a transcript: skipped
            _row("\n\nHuman: hi\n\nAssistant: ", "hello", "go away")]
    pairs = hh.pairs_from_rows(rows, 5)
    assert [(g, b) for _, g, b in pairs] == [("good one", "bad one"), ("hello", "go away")]
    assert len(hh.pairs_from_rows(rows, 1)) == 1


def test_the_reward_model_reads_the_official_turn_format():
    prompt, _ = hh.parse_dialogue(T1 + "x")
    assert hh.reward_text(prompt, "mix flour", "</s>") == (
        "<|prompter|>how do i bake bread?</s><|assistant|>what kind?</s><|prompter|>rye</s>"
        "<|assistant|>mix flour</s>")


@pytest.fixture(scope="module")
def reward():
    from transformers import LlamaConfig, LlamaForSequenceClassification
    tok = char_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, num_labels=1,
                      pad_token_id=tok.pad_token_id)
    return hh.HHReward(model=LlamaForSequenceClassification(cfg), tokenizer=tok, batch_size=2, max_length=128)


def test_rewards_are_probabilities_and_do_not_depend_on_the_batch(reward):
    prompts = [hh.parse_dialogue(T1 + "x")[0]] * 3
    responses = ["mix rye flour", "no", "bake it at two hundred degrees for an hour"]
    r = reward(prompts, responses)
    assert r.shape == (3,) and ((r > 0) & (r < 1)).all() and len(set(np.round(r, 6))) == 3
    alone = np.array([reward([p], [x])[0] for p, x in zip(prompts, responses)])
    np.testing.assert_allclose(r, alone, atol=1e-5)


def test_offline_data_pair_chosen_and_rejected_and_keep_dev_and_test_apart(reward):
    train_rows = [_row(f"\n\nHuman: question {i}\n\nAssistant: ", f"answer {i}", "no") for i in range(8)]
    test_rows = [_row(f"\n\nHuman: test {i}\n\nAssistant: ", f"sure {i}", "no") for i in range(3)]
    data, dev, test = hh.hh_offline_data(reward, 5, 2, 3, load={"train": train_rows, "test": test_rows}.get)
    assert len(data) == 10 and data.responses_per_prompt == 2 and data.sources[:2] == ["chosen", "rejected"]
    assert data.problems[0] == data.problems[1] and data.responses[:2] == ["answer 0", "no"]
    train = {p.prompt for p in data.problems}
    assert len(train) == 5 and not (train & {p.prompt for p in dev} or train & {p.prompt for p in test})
    assert len(dev) == 2 and len(test) == 3
    assert len(data.pairs()) == sum(data.rewards[i] != data.rewards[i + 1] for i in range(0, 10, 2))
    with pytest.raises(ValueError, match="fewer than"):
        hh.hh_offline_data(reward, 8, 2, 3, load={"train": train_rows, "test": test_rows}.get)


def test_the_task_feeds_the_dialogue_through_the_chat_template(reward):
    from paperlib.nn.hf import HFCausalLM
    tok = char_tokenizer()
    model = tiny_llama(vocab=len(tok))
    model.config.max_position_embeddings = 512
    task = hh.HHTask(HFCausalLM(model, tok), reward, max_new_tokens=4)
    prompt, _ = hh.parse_dialogue(T1 + "x")
    text = task.lm.format_prompt(prompt.prompt)
    assert text.count("<|im_start|>user") == 2 and "<|im_start|>assistant\nwhat kind?" in text
    assert text.endswith("<|im_start|>assistant\n")
    tokens, mask, P = task.encode_batch([prompt.prompt], ["mix"])
    assert task.decode(tokens[0, P:]) == "mix"
    assert 0 < task.reward(prompt, "mix") < 1


def test_offline_the_data_and_the_reward_model_say_what_to_do(monkeypatch):
    import datasets
    import transformers

    def no_network(*a, **k):
        raise ConnectionError("no route to huggingface.co")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    with pytest.raises(MissingDataError, match="Anthropic/hh-rlhf.*network access"):
        hh.hh_offline_data(None, 1, 1, 1)

    def not_cached(*a, **k):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", not_cached)
    with pytest.raises(MissingDataError, match="oasst-rm-2.1-pythia-1.4b.*network access.*chain_sum"):
        hh.HHReward()
