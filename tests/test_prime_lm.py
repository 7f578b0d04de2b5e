"""PRIME's RL loop on a pretrained-LM task (``tasks.ReasoningGymTask`` on ``nn.hf.HFCausalLM``), on a tiny
random Llama built from a config (no download): RLOO, the oracle control and PRIME take real steps (the policy,
and PRIME's PRM, change; the PRM is never the reference), and the default task is the small GPT's chain sums."""
import copy

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("reasoning_gym")

from test_nn_hf import char_tokenizer  # noqa: E402

from paperlib.data import arithmetic  # noqa: E402
from paperlib.nn.hf import HFCausalLM  # noqa: E402
from paperlib.prime.tasks import ArithmeticTask, ReasoningGymTask  # noqa: E402
from paperlib.prime.trainer import PromptStream, RLConfig, evaluate, oracle_rewards, rollout, train_rl  # noqa: E402


def tiny_chat_lm(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = char_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    return HFCausalLM(LlamaForCausalLM(cfg).eval(), tok)


class OddStartTask(ReasoningGymTask):
    """The chain_sum task with a stand-in verifier (1 when the response's first token id is odd): a random
    model never solves a chain sum, and the loop needs groups with both outcomes to take policy steps."""

    def reward(self, problem, response_ids) -> float:
        return float(response_ids[0] % 2)


def config(arm, **kw):
    base = dict(arm=arm, steps=2, batch_prompts=2, n_samples=4, mini_batches=2, prm_mini_batches=2, max_new_tokens=12,
                policy_lr=1e-2, prm_lr=1e-2, beta=0.5, acc_low=0.0, acc_high=1.0, max_fill_rounds=1, seed=0)
    base.update(kw)
    return RLConfig(**base)


def changed(a, b):
    return any(not torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("arm", ["rloo", "oracle", "prime"])
def test_rl_steps_on_a_tiny_llama_change_the_policy(arm):
    lm = tiny_chat_lm()
    init = copy.deepcopy(lm)
    task = OddStartTask(lm, "chain_sum", min_terms=2, max_terms=3, min_digits=1, max_digits=1)
    out = train_rl(lm, config(arm), task.problems(2, seed=5), task=task)
    h = out["history"]
    assert h["step"] == [0, 1] and all(k == 2 for k in h["kept_prompts"])
    assert all(np.isfinite(h["pg_loss"]))
    assert changed(out["policy"], init), "the policy took no step"
    assert not changed(lm, init), "the LM given as policy init / reference was modified in place"
    assert len(out["evals"]["acc"]) == 2 and all(0.0 <= a <= 1.0 for a in out["evals"]["acc"])
    if arm == "prime":
        assert all(np.isfinite(h["prm_loss"]))
        assert changed(out["prm"], init), "the PRM took no step"
        assert changed(out["prm"], out["policy"])
    else:
        assert out["prm"] is None


def test_the_frozen_arm_and_the_fixed_bank_run_on_an_lm():
    from paperlib.prime.experiment import bank_pairwise_accuracy

    lm = tiny_chat_lm()
    task = OddStartTask(lm, "chain_sum", min_terms=2, max_terms=3, min_digits=1, max_digits=1)
    extra = dict(frozen_prm_steps=2, frozen_eval_every=1, frozen_val_prompts=2, bank_points=(0, 2), bank_prompts=2)
    online = train_rl(lm, config("prime", **extra), task.problems(2, 5), bank_problems=task.problems(2, 9), task=task)
    bank = online["bank"]
    assert bank["points"] == [0, 2] and len(bank["prm_states"]) == 2
    # the snapshot at step 0 is the PRM's init, the LM itself; the one at the end has moved
    ref = lm.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in bank["prm_states"][0].items())
    assert any(not torch.equal(v, ref[k]) for k, v in bank["prm_states"][1].items())
    frozen = train_rl(lm, config("prime_frozen", **extra), task.problems(2, 5), task=task)
    assert frozen["offline_prm"]["batches"] == 2 and frozen["bank"] is None
    assert not any(p.requires_grad for p in frozen["prm"].parameters())
    acc = bank_pairwise_accuracy(frozen["prm"].state_dict(), lm, bank["parts"], 4)
    assert len(acc) == 2 and all(0.0 <= a <= 1.0 for a in acc)


def test_reasoning_task_rollouts_are_verified_and_the_oracle_marks_one_token():
    lm = tiny_chat_lm(1)
    task = ReasoningGymTask(lm, "chain_sum", min_terms=2, max_terms=2, min_digits=1, max_digits=1)
    c = config("oracle", n_samples=2, max_new_tokens=10)
    probs = PromptStream(c, seed=3, task=task).take(2)
    assert probs != PromptStream(c, seed=4, task=task).take(2)  # fresh prompts per stream seed
    r = rollout(lm, probs, c, torch.Generator().manual_seed(0), task)
    assert r.tokens.shape[0] == 4 and r.problems == [probs[0], probs[0], probs[1], probs[1]]
    assert set(r.acc.tolist()) <= {0.0, 1.0}
    o = oracle_rewards(r, task)
    assert o.shape == r.response_mask.shape
    # a random model writes no equations: one -1 (on a real response token) exactly when the final answer is wrong;
    # here one sample's last number happens to be the answer (reasoning-gym's verifier accepts it)
    assert r.acc.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert torch.equal((o == -1).sum(1), (1 - r.acc).long())
    assert float((o * (1 - r.response_mask)).abs().sum()) == 0.0
    assert evaluate(lm, probs, c, greedy=True, task=task) == 0.0


def test_gsm_symbolic_has_no_oracle():
    lm = tiny_chat_lm()
    task = ReasoningGymTask(lm, "gsm_symbolic")
    with pytest.raises(ValueError, match="only chain_sum"):
        task.oracle_rewards(task.problems(1, seed=0)[0], [5, 6])
    with pytest.raises(ValueError, match="unknown reasoning-gym task"):
        ReasoningGymTask(lm, "sudoku")


def test_the_default_task_is_the_configs_chain_sums():
    c = RLConfig(min_terms=6, max_terms=7, min_digits=2, max_digits=2, width=3)
    got = PromptStream(c, seed=11).take(5)
    rng = np.random.default_rng(11)
    want = [arithmetic.make_problem(rng, int(rng.integers(6, 8)), 2, width=3, min_digits=2) for _ in range(5)]
    assert [p.prompt for p in got] == [p.prompt for p in want]
    t = ArithmeticTask.from_config(c)
    assert (t.EOS, t.PAD, t.banned_ids) == (arithmetic.EOS, arithmetic.PAD, (arithmetic.BOS,))


def test_the_named_lm_profiles_resolve():
    from paperlib.repro.registry import get_paper

    paper = get_paper("prime")
    assert list(paper.profiles)[:3] == ["smoke", "quick", "full"] and {"lm-smoke", "full-lm"} <= set(paper.profiles)
    smoke, full = paper.resolve("lm-smoke"), paper.resolve("full-lm")
    assert smoke["lm"] == full["lm"] == "smollm2" and smoke["seeds"] == [0]
    assert (full["device"], full["lm_precision"], full["mini_batches"], full["prm_mini_batches"]) == ("cuda", "bf16-mixed", 4, 4)
    assert 64 <= full["batch_prompts"] <= 128 and 300 <= full["steps"] <= 500 and len(full["seeds"]) == 5


def test_claims_of_measurements_a_configuration_does_not_run_are_not_assessed(monkeypatch, tmp_path):
    from paperlib.repro.claims import ClaimsError, MissingMeasurement
    from paperlib.repro.record import RUN_DIR_ENV, Run

    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    run = Run("prime", {"seeds": [0, 1]})
    for arm in ("rloo", "prime"):
        run.measure(f"{arm}_final_train_acc", [0.3, 0.4])
        run.measure(f"{arm}_auc", [0.3, 0.4])
        run.measure(f"{arm}_heldout_acc", [0.3, 0.4])
    run.measure("prime_step_ratio", [0.8, 0.9])
    run.measure("c2_online_prm_acc_change", [0.0, 0.1])
    not_run = ["oracle_step_ratio", "oracle_auc", "prime_frozen_final_train_acc", "c2_online_bank_acc",
               "c2_frozen_bank_acc", "c2_frozen_bank_drift", "c3_prm_hits", "c3_sft_hits", "c3_rloo_logratio_hits"]
    with pytest.raises(MissingMeasurement, match="c3_prm_hits"):  # without not_run: strict
        run.check_claims()
    with pytest.raises(MissingMeasurement, match="c3_sft_hits"):  # a name left out (or misspelt) still fails
        run.check_claims(not_run=[n for n in not_run if n != "c3_sft_hits"] + ["c3_sft_hit"])
    with pytest.raises(ClaimsError, match="recorded but"):
        run.check_claims(not_run=not_run + ["prime_auc"])
    claims = {c["id"]: c for c in run.check_claims(not_run=not_run)}
    assert claims["C1"]["verdict"] == "not_assessed" and "oracle_step_ratio" in claims["C1"]["note"]
    assert claims["C3"]["verdict"] == "not_assessed"
    assert "was not recorded" in claims["C3"]["conditions"][0]["note"]
