"""A-LoL's offline data, value head and training loop on tiny models."""
import numpy as np
import pytest
import torch

from paperlib.alol.data import MIXES, make_offline_data, partial_credit
from paperlib.alol.review import PRODUCTS, ReviewPrompt, make_review_data, reward_terms, review_reward
from paperlib.alol.tasks import ArithmeticTask, get_task
from paperlib.alol.trainer import OfflineConfig, distinct_n, train_offline
from paperlib.alol.value import fit_value_head, prompt_states
from paperlib.data import arithmetic
from paperlib.nn.gpt import GPT, GPTConfig


def test_partial_credit_by_hand():
    terms = [12, 30, 5]  # 12+30=42; 42+5=47
    sol = "21+03=24;24+50=74;A74"
    assert partial_credit(terms, sol) == 1.0
    assert partial_credit(terms, "21+03=25;25+50=75;A75") == 0.0  # first step wrong, answer wrong
    assert partial_credit(terms, "21+03=24;24+50=75;A75") == 0.25  # one of two steps right
    assert partial_credit(terms, "21+03=24;24+50=75;A74") == 0.75  # answer right, second step wrong


def test_offline_data_mixes_sources_and_pairs_responses():
    d = make_offline_data(300, seed=0)
    assert len(d) == 600 and d.responses_per_prompt == 2
    assert d.problems[0].terms == d.problems[1].terms  # two responses of one prompt are adjacent
    by = {s: d.rewards[[i for i, x in enumerate(d.sources) if x == s]] for s in ("correct", "sloppy", "wrong")}
    assert np.all(by["correct"] == 1.0)
    assert by["sloppy"].mean() > by["wrong"].mean()
    for c, r in d.pairs():
        assert d.rewards[c] > d.rewards[r] and d.problems[c].terms == d.problems[r].terms
    noisy = make_offline_data(300, seed=0, mix="noisy")
    assert noisy.rewards.mean() < d.rewards.mean()
    assert set(MIXES) == {"main", "noisy"}
    with pytest.raises(ValueError, match="unknown response source"):
        make_offline_data(10, 0, mix={"perfect": 1.0})


def test_value_head_fits_a_prompt_dependent_target():
    torch.manual_seed(0)
    ref = GPT(GPTConfig(vocab_size=arithmetic.VOCAB_SIZE, block_size=48, n_layer=1, n_head=2, n_embd=16))
    probs = arithmetic.sample_problems(200, 0, 3, 5, 2, width=3, min_digits=2)
    x, xm, _ = arithmetic.encode_batch([p.prompt for p in probs])
    h = prompt_states(ref, x, xm)
    target = np.array([0.9 if len(p.terms) == 3 else 0.1 for p in probs])  # learnable from the prompt length
    head, hist = fit_value_head(h, xm, target, epochs=30, lr=3e-3)
    with torch.no_grad():
        pred = head(h, xm).numpy()
    assert hist[-1] < hist[0]
    assert np.mean((pred - target) ** 2) < 0.5 * np.var(target)
    assert pred.min() >= 0.0 and pred.max() <= 1.0


@pytest.mark.parametrize("method", ["nll", "wnll", "r_gold", "r_lol", "a_lol", "a_lol_seq", "a_lol_kl",
                                    "a_lol_ref_free", "dpo"])
def test_every_method_trains_and_selects_on_dev(method):
    torch.manual_seed(0)
    ref = GPT(GPTConfig(vocab_size=arithmetic.VOCAB_SIZE, block_size=96, n_layer=1, n_head=2, n_embd=16)).eval()
    data = make_offline_data(40, 0, max_terms=4)
    adv = data.rewards - 0.5
    dev = [p for p in arithmetic.sample_problems(8, 1, 3, 4, 2, width=3, min_digits=2)]
    out = train_offline(ref, ArithmeticTask(max_new_tokens=30), data,
                        OfflineConfig(method=method, steps=6, batch_size=4, eval_every=3), dev, advantages=adv)
    assert out["history"]["step"][0] == 0 and len(out["history"]["dev_reward"]) >= 2
    assert out["best_dev_reward"] >= out["history"]["dev_reward"][0]
    if method.startswith("a_lol"):
        assert out["data_used"] == pytest.approx(float((adv > 0).mean()))
        assert out["steps"] == max(1, round(6 * out["data_used"]))  # official: steps scaled by the positive fraction


def test_advantage_methods_need_advantages_and_unknown_methods_fail():
    ref = GPT(GPTConfig(vocab_size=arithmetic.VOCAB_SIZE, block_size=96, n_layer=1, n_head=2, n_embd=16))
    data = make_offline_data(5, 0, max_terms=3)
    with pytest.raises(ValueError, match="needs advantages"):
        train_offline(ref, ArithmeticTask(), data, OfflineConfig(method="a_lol", steps=1), [], advantages=None)
    with pytest.raises(ValueError, match="unknown method"):
        OfflineConfig(method="ppo")


def test_distinct_n():
    assert distinct_n(["abab"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["abc", "abc"], 3) == pytest.approx(0.5)
    assert distinct_n(["the bag is the bag"], 2, words=True) == pytest.approx(3 / 4)


def test_review_reward_terms_by_hand():
    t = reward_terms("phone", "the battery is great . i hate the zipper .")
    assert t["sentiment"] == 0.5  # one positive, one negative word
    assert t["length"] == pytest.approx(1 - abs(10 - 15) / 15)
    assert t["relevance"] == 0.5  # battery is the phone's, zipper the backpack's
    assert 0.3 < t["fluency"] < 1.0
    salad = reward_terms("phone", "great great battery superb great screen love love excellent")
    assert salad["sentiment"] == 1.0 and salad["relevance"] == 1.0
    assert salad["fluency"] < 0.2 < t["fluency"]  # the fixed LM scores word salad as disfluent
    assert reward_terms("phone", "")["length"] == 0.0 and reward_terms("phone", "")["relevance"] == 0.0
    assert review_reward("tent", "the poles are great .") == pytest.approx(sum(reward_terms("tent", "the poles are great .").values()))


def test_review_data_writers_rank_as_designed_and_noisy_is_worse():
    d = make_review_data(400, 0)
    by = {s: d.rewards[np.array(d.sources) == s].mean() for s in set(d.sources)}
    assert by["fan"] == max(by.values()) and by["terse"] == min(by.values())
    assert by["fan"] > by["critic"] + 0.5  # the target attribute separates them
    assert d.rewards.max() <= 4.0 and d.rewards.min() >= 0.0
    assert make_review_data(400, 0, "noisy").rewards.mean() < d.rewards.mean()
    with pytest.raises(ValueError, match="unknown writer"):
        make_review_data(5, 0, {"poet": 1.0})


def test_review_task_encodes_round_trip_and_trains():
    task = get_task("review")
    x, m, P = task.encode_batch(["review tent :"], ["the poles are great ."])
    assert task.decode(x[0, P:].tolist()) == "the poles are great ."
    with pytest.raises(ValueError, match="not in the review task's vocabulary"):
        task.encode_batch(["review tent :"], ["the poles are magnificent ."])
    torch.manual_seed(0)
    ref = GPT(GPTConfig(vocab_size=task.vocab_size, block_size=task.block_size, n_layer=1, n_head=2, n_embd=16)).eval()
    data = make_review_data(30, 0)
    dev = [ReviewPrompt(p) for p in list(PRODUCTS)[:4]]
    out = train_offline(ref, get_task("review"), data, OfflineConfig(method="a_lol", steps=4, batch_size=4, eval_every=2),
                        dev, advantages=data.rewards - 2.5)
    assert out["steps"] == max(1, round(4 * float((data.rewards > 2.5).mean())))
    with pytest.raises(ValueError, match="unknown A-LoL task"):
        get_task("chess")
