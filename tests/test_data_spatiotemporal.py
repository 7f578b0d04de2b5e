"""Spatio-temporal loaders (R package fields data) and the FunBaT preprocessing helpers."""
import numpy as np
import pytest

from paperlib.data import MissingDataError, data_dir
from paperlib.data.spatiotemporal import (load_colorado_temperature, load_midwest_ozone,
                                          load_us_temperature_original, normalise_coordinates, random_split)

needs_colorado = pytest.mark.skipif(not (data_dir() / "spatiotemporal" / "COmonthlyMet.rda").is_file(),
                                    reason="COmonthlyMet.rda not in data_dir()/spatiotemporal")
needs_ozone = pytest.mark.skipif(not (data_dir() / "spatiotemporal" / "ozone2.rda").is_file(),
                                 reason="ozone2.rda not in data_dir()/spatiotemporal")


@needs_colorado
def test_colorado_temperature():
    d = load_colorado_temperature()
    assert d.X.ndim == 2 and d.X.shape[1] == 3 and d.y.shape == (len(d.X),)
    assert d.names == ("longitude", "latitude", "time") and d.units == "degrees C"
    assert np.isfinite(d.X).all() and np.isfinite(d.y).all()
    assert 1993 < d.X[:, 2].min() < 1993 + 1 / 12 and 1997 + 11 / 12 < d.X[:, 2].max() < 1998
    months = (d.X[:, 2] - np.floor(d.X[:, 2])) * 12 + 0.5
    np.testing.assert_allclose(months, np.round(months), atol=1e-9)
    assert -110 < d.X[:, 0].min() and d.X[:, 0].max() < -100 and 36 < d.X[:, 1].min() and d.X[:, 1].max() < 42
    assert -30 < d.y.min() and d.y.max() < 45
    assert len(d.y) <= 5 * 12 * 376


@needs_colorado
def test_colorado_arguments_and_subsampling():
    full = load_colorado_temperature(years=(1997, 1997), variable="tmin")
    sub = load_colorado_temperature(years=(1997, 1997), variable="tmin", max_entries=100, seed=3)
    assert len(sub.y) == 100 and len(full.y) > 100
    rows = {tuple(r) for r in np.column_stack([full.X, full.y])}
    assert all(tuple(r) in rows for r in np.column_stack([sub.X, sub.y]))
    again = load_colorado_temperature(years=(1997, 1997), variable="tmin", max_entries=100, seed=3)
    np.testing.assert_array_equal(sub.X, again.X)
    assert len(load_colorado_temperature(years=(1997, 1997), variable="tmin", max_entries=10**6).y) == len(full.y)
    for years in [(1800, 1900), (1990, 2005), (1997, 1993), "1993"]:
        with pytest.raises(ValueError, match="years"):
            load_colorado_temperature(years=years)
    with pytest.raises(ValueError, match="variable"):
        load_colorado_temperature(variable="snow")
    with pytest.raises(ValueError, match="max_entries"):
        load_colorado_temperature(max_entries=0)


@needs_ozone
def test_midwest_ozone():
    d = load_midwest_ozone()
    assert d.X.shape == (len(d.y), 3) and d.names == ("longitude", "latitude", "day")
    assert np.isfinite(d.X).all() and np.isfinite(d.y).all()
    assert d.X[:, 2].min() == 0 and d.X[:, 2].max() == 88
    assert len(d.y) <= 89 * 153 and d.y.min() >= 0
    assert len(load_midwest_ozone(max_entries=500).y) == 500


def test_missing_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(MissingDataError, match="COmonthlyMet.rda"):
        load_colorado_temperature()
    with pytest.raises(MissingDataError, match="ozone2.rda"):
        load_midwest_ozone()
    with pytest.raises(MissingDataError, match="download=True"):
        load_us_temperature_original()


def test_normalise_coordinates():
    X_train = np.array([[0.0, 5.0, 1.0], [2.0, 10.0, 1.0], [1.0, 7.5, 1.0]])
    X_test = np.array([[4.0, 0.0, 1.0]])
    a, b = normalise_coordinates(X_train, X_test)
    np.testing.assert_allclose(a, [[0, 0, 0], [1, 1, 0], [0.5, 0.5, 0]])
    np.testing.assert_allclose(b, [[2.0, -1.0, 0.0]])
    with pytest.raises(ValueError):
        normalise_coordinates(X_train, X_test[:, :2])


def test_random_split():
    train, test = random_split(101, test_fraction=0.2, seed=1)
    assert len(test) == 20 and len(train) == 81
    assert np.array_equal(np.sort(np.r_[train, test]), np.arange(101))
    assert np.array_equal(random_split(101, 0.2, seed=1)[1], test)
    assert not np.array_equal(random_split(101, 0.2, seed=2)[1], test)
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError):
            random_split(10, bad)


def _fake_official(tmp_path, monkeypatch):
    """A tiny file in the official format under data_dir(), registered under its own git blob id."""
    import paperlib.data.spatiotemporal as st
    rng = np.random.default_rng(0)
    folds = [dict(tr_ind_CONTI=rng.uniform(size=(8, 3)), tr_y=rng.standard_normal((8, 1)),
                  te_ind_CONTI=rng.uniform(size=(2, 3)), te_y=rng.standard_normal((2, 1))) for _ in range(5)]
    path = tmp_path / "data" / "fake" / "CONTI_fake.npy"
    path.parent.mkdir(parents=True)
    np.save(path, {"data": folds}, allow_pickle=True)
    monkeypatch.setenv("PAPERLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(st.OFFICIAL, "fake", dict(path="data/fake/CONTI_fake.npy", blob=st.git_blob_sha1(path),
                                                  names=("a", "b", "c"), units="u", description="fake"))
    return st, path, folds


def test_official_fold_loads_the_stored_split_and_checks_the_checksum(tmp_path, monkeypatch):
    st, path, folds = _fake_official(tmp_path, monkeypatch)
    tr, te = st.load_official_fold("fake", fold=3)
    np.testing.assert_array_equal(tr.X, folds[3]["tr_ind_CONTI"])
    np.testing.assert_array_equal(te.y, folds[3]["te_y"].ravel())
    assert tr.names == ("a", "b", "c") and len(tr.y) == 8 and len(te.y) == 2
    with pytest.raises(ValueError, match="fold must be"):
        st.load_official_fold("fake", fold=5)
    with open(path, "ab") as f:  # a corrupted (or different) copy is refused before numpy unpickles it
        f.write(b"x")
    with pytest.raises(ValueError, match="git blob id"):
        st.load_official_fold("fake", fold=0)


def test_official_data_offline_is_a_clear_error(tmp_path, monkeypatch):
    import paperlib.data.spatiotemporal as st
    monkeypatch.setenv("PAPERLIB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("us_temp", "beijing_pm25", "beijing_pm10", "beijing_so2"):
        with pytest.raises(MissingDataError, match="download=True"):
            st.load_official_fold(name)
    with pytest.raises(ValueError, match="unknown official dataset"):
        st.load_official_fold("beijing")


def test_git_blob_sha1_matches_git():
    import subprocess
    from pathlib import Path
    from paperlib.data.spatiotemporal import git_blob_sha1
    p = Path(__file__)
    assert git_blob_sha1(p) == subprocess.run(["git", "hash-object", str(p)], capture_output=True, text=True,
                                              check=True).stdout.strip()
