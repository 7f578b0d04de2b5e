"""A-LoL's offline data, value head and training loop on tiny models."""
import numpy as np
import pytest
import torch

from paperlib.alol.data import MIXES, make_offline_data, step_credit, steps_right, weight_overlap
from paperlib.alol.review import (PRODUCTS, ReviewPrompt, all_prompts, eval_prompts, make_review_data, prompt_pool,
                                  reward_terms, review_reward)
from paperlib.alol.tasks import ArithmeticTask, get_task
from paperlib.alol.trainer import OfflineConfig, distinct_n, train_offline
from paperlib.alol.value import fit_value_head, prompt_states
from paperlib.data import arithmetic
from paperlib.nn.gpt import GPT, GPTConfig


def test_step_credit_by_hand():
    terms = [12, 30, 5]  # 12+30=42; 42+5=47
    sol = "21+03=24;24+50=74;A74"
    assert step_credit(terms, sol) == 1.0
    # first step wrong (42 -> 52), the second adds 5 to what the first wrote: right as written
    assert steps_right(terms, "21+03=25;25+50=75;A75") == 1
    assert step_credit(terms, "21+03=25;25+50=75;A75") == 0.25
    assert step_credit(terms, "21+03=24;24+50=75;A75") == 0.25  # one of two steps right, answer wrong
    assert step_credit(terms, "21+03=24;24+50=75;A74") == 0.75  # answer right, second step wrong
    assert steps_right(terms, "21+03=24;24+60=84;A84") == 1  # the wrong term added
    assert steps_right(terms, "21+03=25;24+50=74;A74") == 0  # step 2 does not continue from what step 1 wrote
    assert steps_right(terms, "garbage") == 0 and steps_right(terms, "x;24+50=74;A74") == 1


def test_offline_data_mixes_sources_and_pairs_responses():
    d = make_offline_data(300, seed=0)
    assert len(d) == 600 and d.responses_per_prompt == 2
    assert d.problems[0].terms == d.problems[1].terms  # two responses of one prompt are adjacent
    by = {s: d.rewards[[i for i, x in enumerate(d.sources) if x == s]] for s in ("correct", "sloppy", "wrong")}
    assert np.all(by["correct"] == 1.0)
    assert by["sloppy"].mean() > by["wrong"].mean()
    # graded: the partly right sources spread over many reward levels, not two
    assert len(np.unique(np.round(by["sloppy"], 3))) > 5 and len(np.unique(np.round(by["wrong"], 3))) > 5
    for c, r in d.pairs():
        assert d.rewards[c] > d.rewards[r] and d.problems[c].terms == d.problems[r].terms
    noisy = make_offline_data(300, seed=0, mix="noisy")
    assert noisy.rewards.mean() < d.rewards.mean()
    assert set(MIXES) == {"main", "noisy"}
    with pytest.raises(ValueError, match="unknown response source"):
        make_offline_data(10, 0, mix={"perfect": 1.0})


def test_arithmetic_prompts_vary_in_difficulty_and_eval_splits_exclude_training():
    d = make_offline_data(500, seed=0)
    assert {len(p.terms) for p in d.problems} == {2, 3, 4, 5, 6}
    # prompts without any carry exist (every source answers them right) beside prompts the sources fail
    per_prompt = d.rewards.reshape(-1, 2).mean(1)
    assert (per_prompt == 1.0).mean() > 0.1 and (per_prompt < 0.5).mean() > 0.1
    train = {p.prompt for p in d.problems}
    dev = make_offline_data(200, 1, responses_per_prompt=1, exclude_prompts=train).problems
    dev_set = {p.prompt for p in dev}
    test = make_offline_data(200, 2, responses_per_prompt=1, exclude_prompts=train | dev_set).problems
    assert not (train & dev_set) and not ({p.prompt for p in test} & (train | dev_set))
    # without the exclusion the small prompts do repeat, so the test above can fail
    plain = {p.prompt for p in make_offline_data(200, 2, responses_per_prompt=1).problems}
    assert plain & train


def test_weight_overlap_by_hand_and_advantage_differs_from_reward():
    assert weight_overlap([1, 1], [1, 1]) == pytest.approx(1.0)
    assert weight_overlap([1, 0], [0, 1]) == pytest.approx(0.0)
    assert weight_overlap([0.5, 0.5, 1.0], [0.0, 0.5, 0.5]) == pytest.approx(0.25 + 0.5)
    # prompt-dependent value: a right answer to an easy prompt has little advantage
    assert weight_overlap([1.0, 1.0, 0.4], [1.0 - 0.95, 1.0 - 0.2, 0.4 - 0.2]) < 0.8
    with pytest.raises(ValueError, match="positive advantage"):
        weight_overlap([1.0], [-1.0])


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
    ref.train(False)
    out = train_offline(ref, ArithmeticTask(max_new_tokens=30), data,
                        OfflineConfig(method=method, steps=6, batch_size=4, eval_every=3), dev, advantages=adv)
    assert out["history"]["step"] == [0, 3, 6]
    assert out["steps"] == 6  # the same budget for every method
    assert out["best_step"] in (3, 6)  # a checkpoint of the run, never pi_ref (step 0)
    assert out["best_dev_reward"] == max(out["history"]["dev_reward"][1:])
    # every method changes the weights (the selected and the last checkpoint)
    for model in (out["policy"], out["final_policy"]):
        moved = max(float((a - b).detach().abs().max()) for a, b in zip(ref.parameters(), model.parameters()))
        assert moved > 1e-4, f"{method} left the weights unchanged"
    if method.startswith("a_lol"):
        assert out["data_used"] == pytest.approx(float((adv > 0).mean()))
        scaled = train_offline(ref, ArithmeticTask(max_new_tokens=30), data,
                               OfflineConfig(method=method, steps=6, batch_size=4, eval_every=3, scale_steps=True),
                               dev, advantages=adv)
        assert scaled["steps"] == max(1, round(6 * out["data_used"]))  # official schedule, on request


def test_optimiser_follows_the_official_settings():
    c = OfflineConfig()
    assert (c.lr, c.grad_clip, c.batch_size, c.scale_steps) == (2e-4, 0.3, 16, False)


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
    kids = ReviewPrompt("phone", "battery", "kids", "great")
    t = reward_terms(kids, "the battery is great . i hate the zipper .")
    assert t["sentiment"] == 0.5  # one positive, one negative word
    assert t["length"] == pytest.approx(1 - abs(10 - 8) / 8)  # kids: 8 words
    assert t["relevance"] == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)  # zipper is the backpack's; battery asked for
    assert t["keyword"] == 1.0
    assert 0.3 < t["fluency"] < 1.0
    experts = ReviewPrompt("phone", "screen", "experts", "superb")
    t2 = reward_terms(experts, "the battery is great . i hate the zipper .")
    assert t2["length"] == pytest.approx(1 - abs(10 - 20) / 20) and t2["keyword"] == 0.0
    assert t2["relevance"] == pytest.approx(0.25)  # the asked aspect is missing
    salad = reward_terms(kids, "great great battery superb great screen love love excellent")
    assert salad["sentiment"] == 1.0 and salad["relevance"] == 1.0
    assert salad["fluency"] < 0.2 < t["fluency"]  # the fixed LM scores word salad as disfluent
    assert reward_terms(kids, "")["length"] == 0.0 and reward_terms(kids, "")["keyword"] == 0.0
    p = ReviewPrompt("tent", "poles", "friends", "solid")
    assert review_reward(p, "the poles are great .") == pytest.approx(sum(reward_terms(p, "the poles are great .").values()))
    assert p.prompt == "review tent poles for friends with solid :"
    with pytest.raises(ValueError, match="not an aspect"):
        ReviewPrompt("tent", "battery")


def test_review_prompts_are_hundreds_and_the_pools_are_disjoint():
    assert len({p.prompt for p in all_prompts()}) == 1024
    pools = {k: {p.prompt for p in prompt_pool(k)} for k in ("train", "dev", "test")}
    assert len(pools["train"]) > 500 and len(pools["dev"]) >= 200 and len(pools["test"]) >= 300
    assert not (pools["train"] & pools["dev"]) and not (pools["train"] & pools["test"]) and not (pools["dev"] & pools["test"])
    d = make_review_data(2000, 0)
    train = {p.prompt for p in d.problems}
    assert len(train) > 400 and train <= pools["train"]
    dev, test = eval_prompts(200, "dev", 1), eval_prompts(300, "test", 2)
    assert len({p.prompt for p in dev}) == 200 and len({p.prompt for p in test}) == 300
    assert not (train & {p.prompt for p in dev}) and not (train & {p.prompt for p in test})
    with pytest.raises(ValueError, match="holds"):
        eval_prompts(400, "dev", 1)


def test_review_data_writers_rank_as_designed_and_noisy_is_worse():
    d = make_review_data(400, 0)
    by = {s: d.rewards[np.array(d.sources) == s].mean() for s in set(d.sources)}
    assert by["fan"] == max(by.values()) and by["terse"] == min(by.values())
    assert by["fan"] > by["critic"] + 0.5  # the target attribute separates them
    assert d.rewards.max() <= 5.0 and d.rewards.min() >= 0.0
    assert make_review_data(400, 0, "noisy").rewards.mean() < d.rewards.mean()
    with pytest.raises(ValueError, match="unknown writer"):
        make_review_data(5, 0, {"poet": 1.0})


def test_review_task_encodes_round_trip_and_trains():
    task = get_task("review")
    p = ReviewPrompt("tent", "poles", "kids", "solid")
    x, m, P = task.encode_batch([p.prompt], ["the poles are great ."])
    assert task.decode(x[0, P:].tolist()) == "the poles are great ."
    with pytest.raises(ValueError, match="not in the review task's vocabulary"):
        task.encode_batch([p.prompt], ["the poles are magnificent ."])
    torch.manual_seed(0)
    ref = GPT(GPTConfig(vocab_size=task.vocab_size, block_size=task.block_size, n_layer=1, n_head=2, n_embd=16)).eval()
    data = make_review_data(30, 0)
    dev = eval_prompts(4, "dev", 0)
    out = train_offline(ref, get_task("review"), data, OfflineConfig(method="a_lol", steps=4, batch_size=4, eval_every=2),
                        dev, advantages=data.rewards - 2.5)
    assert out["steps"] == 4
    with pytest.raises(ValueError, match="unknown A-LoL task"):
        get_task("chess")
