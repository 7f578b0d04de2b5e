"""Reasoning tasks from reasoning-gym: the verifiers accept the gold answer and reject a wrong one,
chain_sum's step labels find the first wrong step, the oracle's dense reward lands on that step's
last token, and the task runs through the LM adapter's chat encoding."""
import pytest
import torch

pytest.importorskip("reasoning_gym")

from paperlib.data import reasoning as R  # noqa: E402


@pytest.fixture(scope="module")
def chains():
    return R.make_problems("chain_sum", 20, seed=0, min_terms=3, max_terms=6, allow_negation=True)


@pytest.fixture(scope="module")
def gsm():
    return R.make_problems("gsm_symbolic", 5, seed=0)


def test_problems_are_reproducible_and_checked():
    a = R.make_problems("chain_sum", 5, seed=3)
    b = R.make_problems("chain_sum", 5, seed=3)
    c = R.make_problems("chain_sum", 5, seed=4)
    assert [p.question for p in a] == [p.question for p in b] != [p.question for p in c]
    with pytest.raises(ValueError, match="valid"):
        R.make_problems("gsm8k", 2, seed=0)


@pytest.mark.parametrize("name", ["chains", "gsm"])
def test_verifier_accepts_gold_and_rejects_wrong(name, request):
    for p in request.getfixturevalue(name):
        assert R.verify(p, p.solution) == 1.0  # the worked solution in the prompted format
        assert R.verify(p, f"<answer>{p.answer}</answer>") == 1.0
        assert R.verify(p, f"so the result is {p.answer}") == 1.0  # untagged: the last number
        wrong = str(int(float(p.answer)) + 1)
        assert R.verify(p, f"<answer>{wrong}</answer>") == 0.0
        # the tag wins over a later bare number, and a response with no number scores 0
        assert R.verify(p, f"<answer>{wrong}</answer> (I think {p.answer})") == 0.0
        assert R.verify(p, "I do not know.") == 0.0


def test_gsm_symbolic_score_keeps_the_generators_partial_credit(gsm):
    p = gsm[0]
    assert R.score(p, "<answer>-1</answer>") == pytest.approx(0.01)  # reasoning-gym's own value
    assert R.verify(p, "<answer>-1</answer>") == 0.0


def test_chain_terms_and_solution():
    assert R.chain_terms("5 - -3 + 2 - 10") == [5, 3, 2, -10]
    assert R.partial_sums([5, 3, 2, -10]) == [8, 10, 0]
    assert R.chain_solution("5 - -3 + 2 - 10") == "5 + 3 = 8\n8 + 2 = 10\n10 - 10 = 0\n<answer>0</answer>"
    with pytest.raises(ValueError):
        R.chain_terms("5 * 3")


def test_step_labels_find_the_first_wrong_step():
    p = R.ReasoningProblem("chain_sum", "q", "0", {"expression": "5 - -3 + 2 - 10"})
    assert R.first_wrong_step(p, p.solution) is None
    assert [s.correct for s in R.response_steps(p, p.solution)] == [True, True, True, True]
    # a slip in step 2, carried on correctly from the wrong value: step 2 is the first wrong one
    slip = "5 + 3 = 8\n8 + 2 = 11\n11 - 10 = 1\n<answer>1</answer>"
    assert [s.correct for s in R.response_steps(p, slip)] == [True, False, False, False]
    assert R.first_wrong_step(p, slip) == 1
    # right steps, wrong final answer: the answer step
    assert R.first_wrong_step(p, "5 + 3 = 8\n8 + 2 = 10\n10 - 10 = 0\n<answer>3</answer>") == 3
    # right arithmetic off the chain (a wrong term) is wrong
    assert R.first_wrong_step(p, "5 - 3 = 2\n2 + 2 = 4\n<answer>4</answer>") == 0
    # no answer at all: an empty, wrong answer step at the end
    steps = R.response_steps(p, "5 + 3 = 8")
    assert steps[-1].is_answer and not steps[-1].correct
    # an untagged answer closing the last equation is one step, not two
    steps = R.response_steps(p, "5 + 3 = 8, 8 + 2 = 10, 10 - 10 = 0")
    assert len(steps) == 3 and steps[-1].is_answer and all(s.correct for s in steps)


class CharLM:
    """The two calls the oracle makes on an LM: one character per token id, EOS = 0, pad = -1."""
    eos_id, pad_id = 0, -1

    def response_token_ids(self, ids):
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i != self.pad_id:
                out.append(i)
        return out

    def decode(self, ids):
        return "".join(chr(i) for i in self.response_token_ids(ids))

    def token_char_ends(self, ids):
        return list(range(1, len(self.response_token_ids(ids)) + 1))


def test_oracle_reward_lands_on_the_last_token_of_the_first_wrong_step():
    p = R.ReasoningProblem("chain_sum", "q", "0", {"expression": "5 - -3 + 2 - 10"})
    lm = CharLM()
    slip = "5 + 3 = 8\n8 + 2 = 11\n11 - 10 = 1\n<answer>1</answer>"
    ids = [ord(c) for c in slip] + [0, -1, -1]
    r = R.oracle_process_rewards(p, ids, lm)
    assert len(r) == len(ids) and sum(r) == -1.0
    assert r.index(-1.0) == slip.index("8 + 2 = 11") + len("8 + 2 = 11") - 1
    right = [ord(c) for c in p.solution] + [0]
    assert R.oracle_process_rewards(p, right, lm) == [0.0] * len(right)
    # untagged, stopped early: its last number (8, on the chain) is read as a wrong answer, -1 there
    ids = [ord(c) for c in "5 + 3 = 8"] + [0, -1]
    assert R.oracle_process_rewards(p, ids, lm).index(-1.0) == 8
    # no answer at all: the -1 goes on the EOS
    ids = [ord(c) for c in "no idea"] + [0, -1]
    assert R.oracle_process_rewards(p, ids, lm).index(-1.0) == 7


def test_task_on_the_lm_adapter_encodes_chat_prompts_and_rewards(chains):
    pytest.importorskip("transformers")
    from test_nn_hf import char_tokenizer, tiny_llama

    from paperlib.nn.hf import HFCausalLM

    tok = char_tokenizer()
    lm = HFCausalLM(tiny_llama(vocab=len(tok)), tok)
    small = [R.ReasoningProblem("chain_sum", "1 + 2 =", "3", {"expression": "1 + 2"}),
             R.ReasoningProblem("chain_sum", "4 - 1 - 2 =", "1", {"expression": "4 - 1 - 2"})]
    task = R.ReasoningTask(lm, "chain_sum", max_new_tokens=8, system_prompt="add")
    tokens, mask, P = task.encode_batch([p.prompt for p in small], [p.solution for p in small])
    assert task.decode(tokens[1, P:]) == small[1].solution
    assert [task.reward(p, task.decode(tokens[i, P:])) for i, p in enumerate(small)] == [1.0, 1.0]
    assert task.EOS == lm.eos_id and task.PAD == lm.pad_id != task.EOS
    assert "<|im_start|>system\nadd<|im_end|>" in lm.format_prompt(small[0].prompt)
    # the oracle through the real adapter's offsets: the wrong step's last character's token
    ids = lm.response_ids("1 + 2 = 4\n<answer>4</answer>")
    r = R.oracle_process_rewards(small[0], ids, lm)
    assert r.index(-1.0) == len("1 + 2 = 4") - 1
    # sampling through the task's ids (random weights: any text, but the layout holds)
    x, xm, _ = task.encode_batch([p.prompt for p in small])
    out, om = lm.generate(x, xm, task.max_new_tokens, generator=torch.Generator().manual_seed(0))
    assert out.shape[0] == 2 and om[:, :x.shape[1]].equal(xm)


def test_as_dataset_has_the_columns(chains):
    ds = R.as_dataset(chains[:4])
    assert ds.column_names == ["dataset", "question", "answer", "solution", "metadata"]
    assert ds[0]["answer"] == chains[0].answer


def test_missing_reasoning_gym_names_the_pip_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "reasoning_gym", None)  # import now raises ModuleNotFoundError
    with pytest.raises(ModuleNotFoundError, match="pip install reasoning-gym==0.1.25"):
        R.make_problems("chain_sum", 2, seed=0)
