"""Multi-step arithmetic with worked steps (PRIME, A-LoL): forgotten carries, the verifier, step spans."""
import numpy as np
import pytest

from paperlib.data import arithmetic


def test_lsb_first_and_worked_solution_format():
    p = arithmetic.Problem([7, 15, 8])
    left = 7
    for t in p.terms[1:]:
        p.steps.append((left, t, left + t))
        left += t
    assert p.prompt == "7+51+8="
    assert p.solution == "7+51=22;22+8=03;A03"  # 7+15=22; 22+8=30; answer 30, least significant digit first
    assert arithmetic.verify(p.terms, p.solution) == 1.0
    assert arithmetic.first_wrong_step(p.terms, p.solution) is None
    assert arithmetic.decode(arithmetic.encode(p.solution) + [arithmetic.EOS, 5]) == p.solution


def test_forgotten_carry_is_a_dropped_power_of_ten():
    rng = np.random.default_rng(0)
    assert arithmetic.add_with_dropped_carry(12, 13, rng) is None  # no carry to forget
    assert arithmetic.add_with_dropped_carry(15, 7, rng) == 12  # 15 + 7 = 22 without the carry into the tens
    assert arithmetic.add_with_dropped_carry(95, 7, rng) in (2, 92)  # 102: forget the carry into tens or hundreds


def test_generated_errors_are_marked_and_make_the_answer_wrong():
    probs = arithmetic.sample_problems(300, seed=1, min_terms=3, max_terms=8, max_digits=2, p_slip=0.3, width=3)
    wrong = [p for p in probs if p.first_error is not None]
    assert 0 < len(wrong) < len(probs)
    for p in probs:
        assert arithmetic.verify(p.terms, p.solution) == float(p.first_error is None)
        assert arithmetic.first_wrong_step(p.terms, p.solution) == p.first_error
        assert all(len(num) == 3 for step in p.solution.split(";")[:-1] for num in step.replace("=", "+").split("+"))


def test_verifier_reads_the_last_answer_only():
    assert arithmetic.verify([1, 2], "1+2=3;A3") == 1.0
    assert arithmetic.verify([1, 2], "1+2=3;A4") == 0.0
    assert arithmetic.verify([1, 2], "1+2=3") == 0.0  # no answer
    assert arithmetic.verify([1, 2], "A3;A") == 0.0  # malformed final answer


def test_step_spans_cover_the_response_up_to_eos():
    ids = arithmetic.encode("1+2=3;3+4=7;A7") + [arithmetic.EOS, arithmetic.PAD]
    spans = arithmetic.step_spans(ids)
    assert [arithmetic.decode(ids[a:b]) for a, b in spans] == ["1+2=3;", "3+4=7;", "A7"]


def test_bad_input_is_rejected_clearly():
    with pytest.raises(ValueError, match="not in the arithmetic vocabulary"):
        arithmetic.encode("1+x")
    with pytest.raises(ValueError, match="at least 2 terms"):
        arithmetic.make_problem(np.random.default_rng(0), 1, 2)
    with pytest.raises(ValueError, match="exceed width"):
        arithmetic.make_problem(np.random.default_rng(0), 20, 2, width=3)


def test_generated_problems_as_a_hf_dataset():
    import datasets

    from paperlib.data.arithmetic import as_dataset, sample_problems, verify

    probs = sample_problems(20, seed=3, min_terms=2, max_terms=4, max_digits=3, p_slip=0.5)
    ds = as_dataset(probs)
    assert isinstance(ds, datasets.Dataset) and len(ds) == 20
    for row, p in zip(ds, probs):
        assert row["prompt"] == p.prompt and row["answer"] == sum(row["terms"])
        # the stored solution is right exactly when no step slipped
        assert verify(row["terms"], row["solution"]) == float(row["first_error"] == -1)
