"""A-LoL's offline methods on the Hugging Face adapter (a tiny random Llama with a chat template, no download):
every method takes its steps and changes the weights; train / dev / test prompts are disjoint. The real
SmolLM2 run is ``python -m paperlib.alol.lm_smoke`` (committed as reproductions/alol/lm_smoke.json)."""
import numpy as np
import pytest

pytest.importorskip("transformers")
reasoning = pytest.importorskip("paperlib.data.reasoning")
pytest.importorskip("reasoning_gym")

from test_nn_hf import char_tokenizer, tiny_llama  # noqa: E402

from paperlib.alol.data import OfflineData  # noqa: E402
from paperlib.alol.lm_smoke import advantages_of, split_problems, train_methods  # noqa: E402
from paperlib.alol.trainer import ALL_METHODS  # noqa: E402
from paperlib.nn.hf import HFCausalLM  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    tok = char_tokenizer()
    model = tiny_llama(vocab=len(tok))
    model.config.max_position_embeddings = 512  # rotary positions: the chat-formatted prompts are ~300 characters
    lm = HFCausalLM(model, tok, system_prompt="add")
    task = reasoning.ReasoningTask(lm, "chain_sum", max_new_tokens=6)
    probs = reasoning.make_problems("chain_sum", 40, 0, min_terms=2, max_terms=2, min_digits=1, max_digits=1)
    train, dev, test = split_problems(probs, 4, 3, 3)
    rows = [p for p in train for _ in range(2)]
    responses = [r for p in train for r in (p.solution, "<answer>0</answer>")]
    rewards = np.array([task.reward(p, r) for p, r in zip(rows, responses)], float)
    return lm, task, OfflineData(rows, responses, rewards, ["solution", "zero"] * len(train), 2), dev, test


def test_splits_are_disjoint_and_too_few_prompts_is_an_error():
    probs = reasoning.make_problems("chain_sum", 30, 1, min_terms=2, max_terms=2, min_digits=1, max_digits=1)
    train, dev, test = split_problems(probs, 5, 3, 3)
    a, b, c = ({p.prompt for p in s} for s in (train, dev, test))
    assert len(a) == 5 and not (a & b or a & c or b & c)
    with pytest.raises(ValueError, match="distinct prompts"):
        split_problems(probs[:4], 3, 1, 1)


def test_every_method_changes_the_adapter_weights(setup):
    lm, task, data, dev, test = setup
    assert data.rewards.max() == 1.0 and data.pairs()  # the worked solution is verified, and DPO has pairs
    adv, targets = advantages_of(lm, task, data, dev, epochs=1)
    assert adv.shape == (len(data),) and (adv > 0).any()
    out = train_methods(lm, task, data, dev, test, adv, ALL_METHODS, steps=1, batch_size=2, log=lambda *_: None)
    assert set(out) == set(ALL_METHODS)
    for m, r in out.items():
        assert r["steps"] == 1 and r["weights_moved"] > 0, m
        assert 0.0 <= r["test_reward"] <= 1.0
