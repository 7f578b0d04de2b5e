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


def test_several_error_kinds_are_marked_located_and_at_the_asked_rate():
    probs = arithmetic.sample_problems(3000, seed=3, min_terms=7, max_terms=10, max_digits=2, width=3, min_digits=2,
                                       p_error=0.12)
    kinds = [k for p in probs for k in p.error_kinds]
    assert set(kinds) == set(arithmetic.ERROR_KINDS)
    n_steps = sum(len(p.steps) for p in probs)
    assert abs(len(kinds) / n_steps - 0.12) < 0.015
    for p in probs:
        assert 6 <= len(p.steps) <= 9
        assert arithmetic.first_wrong_step(p.terms, p.solution) == p.first_error
        if p.first_error is None:
            assert arithmetic.verify(p.terms, p.solution) == 1.0
    # no error -> an exact copy; a miscopied operand is added correctly, a digit slip keeps the operand
    rng = np.random.default_rng(0)
    assert arithmetic.solve([12, 34], rng, p_error=0.0).solution == arithmetic.solve([12, 34], rng).solution
    assert arithmetic.step_variants(40, 12, "operand", width=3) == [(11, 51), (13, 53), (2, 42), (22, 62)]
    assert arithmetic.step_variants(40, 12, "units", width=3) == [(12, 51), (12, 53)]
    assert arithmetic.step_variants(950, 40, "hundreds", width=3) == [(40, 890)]  # 1090 would overflow 3 digits
    dist = arithmetic.step_distribution(40, 12, 0.2, width=3)
    assert dist[0] == ((12, 52), 0.8) and abs(sum(w for _, w in dist) - 1) < 1e-12
    with pytest.raises(ValueError, match="unknown error kind"):
        arithmetic.solve([1, 2], rng, p_error=0.1, error_kinds=("thousands",))


def test_oracle_reward_marks_the_last_token_of_the_first_wrong_step():
    terms = [15, 20, 7]  # 15+20=35; 35+7=42
    w = lambda s: arithmetic.encode(s) + [arithmetic.EOS]  # noqa: E731
    right = "51+02=53;53+7=24;A24"
    assert arithmetic.first_error_span(terms, right) is None
    assert not arithmetic.oracle_step_rewards(terms, w(right)).any()
    wrong2 = "51+02=53;53+7=25;A25"  # second step wrong
    r = arithmetic.oracle_step_rewards(terms, w(wrong2))
    assert r.sum() == -1 and arithmetic.decode(w(wrong2))[int(np.argmin(r))] == ";" and int(np.argmin(r)) == 16
    miscopy = "51+03=54;54+7=25;A25"  # first operand miscopied (30 for 20): the first step is wrong
    assert int(np.argmin(arithmetic.oracle_step_rewards(terms, w(miscopy)))) == 8
    bad_answer = "51+02=53;53+7=24;A34"  # every step right, the answer wrong: the answer span
    r = arithmetic.oracle_step_rewards(terms, w(bad_answer))
    assert int(np.argmin(r)) == len(bad_answer) - 1 and r.sum() == -1
    assert arithmetic.oracle_step_rewards(terms, [arithmetic.EOS])[0] == -1  # empty response
