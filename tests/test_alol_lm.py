"""A-LoL's real-LM path (``paperlib.alol.lm``, the notebook's ``lm`` parameter) on a tiny random Llama with a chat
template, built from a config (no download): the offline data's layout, disjoint train / dev / test prompts, every
method takes its steps and changes the weights, and (slow) the whole notebook path through the runner with the tiny
Llama saved to a folder as ``lm``, its claims not assessed. The real SmolLM2 run is the ``lm-smoke`` profile
(committed under reproductions/alol/results/lm-smoke/)."""
import json

import numpy as np
import pytest

pytest.importorskip("transformers")
reasoning = pytest.importorskip("paperlib.data.reasoning")
pytest.importorskip("reasoning_gym")

from test_nn_hf import char_tokenizer, tiny_llama  # noqa: E402

from paperlib.alol.lm import dev_targets, lm_problems, offline_lm_data, run_all_lm, split_problems  # noqa: E402
from paperlib.alol.trainer import ALL_METHODS, OfflineConfig  # noqa: E402
from paperlib.nn.hf import HFCausalLM  # noqa: E402

CLAIM_METHODS = ["nll", "wnll", "r_gold", "a_lol", "a_lol_seq", "a_lol_kl", "a_lol_ref_free", "dpo"]
SUMS = dict(min_terms=2, max_terms=2, min_digits=1, max_digits=1)


def tiny_chat_llama(seed=0):
    tok = char_tokenizer()
    model = tiny_llama(seed, vocab=len(tok))
    model.config.max_position_embeddings = 512  # rotary positions: the chat-formatted prompts are ~300 characters
    return model, tok


@pytest.fixture(scope="module")
def setup():
    model, tok = tiny_chat_llama()
    lm = HFCausalLM(model, tok)
    task = reasoning.ReasoningTask(lm, "chain_sum", max_new_tokens=6)
    train, dev, test = lm_problems("chain_sum", 4, 3, 3, seed=0, **SUMS)
    data = offline_lm_data(lm, task, train, samples=1, solutions=1, seed=0)
    return lm, task, data, dev, test


def test_splits_are_disjoint_and_too_few_prompts_is_an_error():
    train, dev, test = lm_problems("chain_sum", 5, 3, 3, seed=1, **SUMS)
    a, b, c = ({p.prompt for p in s} for s in (train, dev, test))
    assert (len(a), len(b), len(c)) == (5, 3, 3) and not (a & b or a & c or b & c)
    probs = reasoning.make_problems("chain_sum", 30, 1, **SUMS)
    with pytest.raises(ValueError, match="distinct prompts"):
        split_problems(probs[:4], 3, 1, 1)


def test_offline_data_holds_pi_refs_samples_then_the_worked_solution_each_scored_by_the_verifier(setup):
    lm, task, data, dev, test = setup
    assert len(data) == 8 and data.responses_per_prompt == 2 and data.sources == ["pi_ref", "solution"] * 4
    assert [p.prompt for p in data.problems[::2]] == [p.prompt for p in data.problems[1::2]]  # a prompt's rows adjacent
    assert np.all(data.rewards[1::2] == 1.0)  # the worked solution is verified
    # an untrained random model writes no right answer: every prompt is a (solution, sample) DPO pair
    assert np.all(data.rewards[::2] == 0.0) and data.pairs() == [(2 * i + 1, 2 * i) for i in range(4)]
    with pytest.raises(ValueError, match="at least one response"):
        offline_lm_data(lm, task, dev, samples=0, solutions=0, seed=0)


def test_every_method_changes_the_weights_of_the_adapter(setup):
    lm, task, data, dev, test = setup
    from paperlib.alol.value import fit_value_head, prompt_states

    targets, outs = dev_targets(lm, task, dev)
    assert len(outs) == len(dev) and set(targets) <= {0.0, 1.0}
    x, xm, _ = task.encode_batch([p.prompt for p in dev])
    head, _ = fit_value_head(prompt_states(lm, x, xm), xm, targets, epochs=1, seed=0, max_value=task.max_value)
    xt, xtm, _ = task.encode_batch([p.prompt for p in data.problems])
    import torch
    with torch.no_grad():
        adv = data.rewards - head(prompt_states(lm, xt, xtm), xtm).numpy()
    assert (adv > 0).any() and (adv < 0).any()  # the solutions have A > 0, the wrong samples A < 0
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    jobs = [("chain_sum/main", task, lm, data, adv, dev, test, OfflineConfig(method=m, steps=2, batch_size=2,
                                                                              eval_every=1, seed=0))
            for m in ALL_METHODS]
    out = run_all_lm(jobs, samples=1, ref_dev_reward={"chain_sum/main": float(targets.mean())}, log=lambda *_: None)
    assert [r["method"] for r in out] == list(ALL_METHODS) and {r["split"] for r in out} == {"chain_sum/main"}
    for r in out:
        assert r["steps"] == 2 and r["weights_moved"] > 0, r["method"]
        assert r["history"]["step"] == [0, 1, 2] and r["history"]["dev_reward"][0] == float(targets.mean())
        assert 0.0 <= r["test_reward"] <= 1.0 and 0.0 <= r["sample_reward"] <= 1.0 and len(r["outputs"]) == len(test)
    # A-LoL trains on the positive-advantage rows only (the solutions here)
    assert {r["method"]: r["data_used"] for r in out}["a_lol"] == pytest.approx(float((adv > 0).mean()))
    assert all(torch.equal(v, lm.state_dict()[k]) for k, v in before.items())  # pi_ref itself is never trained


def test_the_named_lm_profiles_resolve_and_run_every_method_the_claims_compare():
    from paperlib.repro.registry import get_paper

    paper = get_paper("alol")
    smoke, full = paper.resolve("lm-smoke"), paper.resolve("full-lm")
    assert smoke["lm"] == full["lm"] == "smollm2" and smoke["seeds"] == [0] and smoke["tasks"] == []
    assert sorted(smoke["methods"]) == sorted(CLAIM_METHODS) and smoke["lm_solutions"] == 1
    assert (full["device"], full["precision"], full["batch_size"], len(full["seeds"])) == ("cuda", "bf16-mixed", 16, 5)
    assert paper.preflight("full-lm")["device"] == "auto"


def test_a_run_that_records_none_of_the_claims_measurements_leaves_every_claim_not_assessed(monkeypatch, tmp_path):
    from paperlib.repro.claims import MissingMeasurement
    from paperlib.repro.record import RUN_DIR_ENV, Run

    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    run = Run("alol", {"seeds": [0]})
    run.measure("chain_sum_main_a_lol_test_reward", [0.5])
    names = run.claim_measurements()
    assert "arithmetic_main_a_lol_test_reward" in names and "review_noisy_nll_test_reward" in names
    with pytest.raises(MissingMeasurement):
        run.check_claims()
    claims = run.check_claims(not_run=sorted(names))
    assert claims and {c["verdict"] for c in claims} == {"not_assessed"}
    assert {c["verdict"] for c in run.checks} <= {"not_assessed"}


@pytest.mark.slow
def test_the_notebooks_lm_path_runs_end_to_end_on_a_tiny_llama_folder(tmp_path):
    """The lm-smoke profile with the tiny Llama (saved like a hub model) as ``lm`` and tiny sizes: every method
    changes the weights, the prompts are disjoint, the LM split's measurements are recorded, no claim is judged."""
    from conftest import run_cli

    model, tok = tiny_chat_llama()
    folder = tmp_path / "tiny-llama"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    res = run_cli("reproduce", "alol", "--profile", "lm-smoke", "--out", str(tmp_path / "out"), "-p", f"lm={folder}",
                  "-p", "lm_train_prompts=3", "-p", "dev_prompts=2", "-p", "test_prompts=2", "-p", "lm_max_new_tokens=4",
                  "-p", "steps=1", "-p", "eval_every=1", "-p", "threads=1", "-p", "value_epochs=1")
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads((tmp_path / "out" / "alol" / "results.json").read_text())
    m = out["metrics"]
    assert (m["data/chain_sum/distinct_train_prompts"], m["data/chain_sum/distinct_dev_prompts"],
            m["data/chain_sum/distinct_test_prompts"]) == (3, 2, 2)
    assert m["data/chain_sum/main/dpo_pairs"] == 3 and m["data/chain_sum/main/reward_solution"] == 1.0
    for meth in CLAIM_METHODS:
        assert m[f"chain_sum/main/{meth}/seed=0/weights_moved"] > 0, meth
        assert m[f"chain_sum/main/{meth}/seed=0/steps"] == 1
        assert len(out["measurements"][f"chain_sum_main_{meth}_test_reward"]) == 1
    assert {c["verdict"] for c in out["claims"]} == {"not_assessed"}
    assert "was not recorded by this run" in out["claims"][0]["conditions"][0]["note"]
