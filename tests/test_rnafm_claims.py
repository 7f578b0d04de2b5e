"""The claim statistics of RNA-FM (paperlib.rnafm.claims): the length- and GC-controlled silhouette."""
import numpy as np
import pytest

from paperlib.rnafm import claims as cl


def _families(rng, n=40):
    """Two families that differ only in length (20 vs 60 nt) and GC content, and a feature that is a
    function of length and GC plus noise."""
    seqs, labels = [], []
    for fam, (L, gc) in enumerate([(20, 0.3), (60, 0.7)]):
        for _ in range(n):
            seqs.append("".join(rng.choice(list("GC")) if rng.random() < gc else rng.choice(list("AU"))
                                for _ in range(L)))
            labels.append(fam)
    return seqs, np.array(labels)


def test_length_gc_hand_worked():
    np.testing.assert_allclose(cl.length_gc(["GGCA", "AU"]), [[np.log(4), 0.75], [np.log(2), 0.0]])
    with pytest.raises(ValueError, match="empty"):
        cl.length_gc(["ACG", ""])


def test_residualise_removes_exactly_the_linear_part():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((50, 2))
    noise = rng.standard_normal((50, 3))
    x = 2.0 + z @ np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 1.0]]) + noise
    r = cl.residualise(x, z)
    assert np.abs(np.column_stack([np.ones(50), z]).T @ r).max() < 1e-8  # orthogonal to covariates and intercept
    with pytest.raises(ValueError, match="covariate rows"):
        cl.residualise(x, z[:10])


def test_a_representation_of_length_and_gc_only_scores_high_raw_and_nothing_controlled():
    rng = np.random.default_rng(1)
    seqs, labels = _families(rng)
    conf = cl.length_gc(seqs)
    x = np.column_stack([conf, conf ** 2]) + 0.01 * rng.standard_normal((len(seqs), 4))
    assert cl.silhouette(x, labels) > 0.5
    assert cl.length_gc_silhouette(labels, seqs) > 0.5
    assert cl.controlled_silhouette(x[:, :2], labels, seqs) < 0.05


def test_a_representation_that_knows_the_family_beyond_length_keeps_its_controlled_silhouette():
    # two families with the same length and GC distributions; the feature carries the family and the length
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGU"), size=int(rng.integers(20, 60)))) for _ in range(80)]
    labels = np.repeat([0, 1], 40)
    conf = cl.length_gc(seqs)
    x = np.column_stack([labels * 3.0 + conf[:, 0], 5 * conf[:, 0], conf[:, 1]]) + 0.1 * rng.standard_normal((80, 3))
    assert cl.controlled_silhouette(x, labels, seqs) > 0.25  # the residual noise columns dilute it
    # the measure is conservative: family signal collinear with length is removed along with length
    seqs2, labels2 = _families(rng)
    x2 = np.column_stack([labels2 * 3.0, cl.length_gc(seqs2)])
    assert cl.controlled_silhouette(x2, labels2, seqs2) < 0.1


def test_pair_gap():
    assert cl.pair_gap({"paired": 0.4, "unpaired": 0.3}) == pytest.approx(0.1)
