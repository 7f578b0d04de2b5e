"""Continuous-indexed spatio-temporal tensors for the FunBaT reproduction (Fang et al., ICLR 2024).

FunBaT treats data as entries of a tensor whose modes are continuous coordinates (longitude, latitude,
time). Each loader here returns a :class:`SpatioTemporalData`: coordinates X of shape (N, 3), values y of
shape (N,), observed entries only.

* :func:`load_colorado_temperature`: monthly station temperature (or precipitation) in Colorado, from the
  R package ``fields`` (``COmonthlyMet.rda``), an offline stand-in for the paper's US-Temp data.
* :func:`load_midwest_ozone`: daily 8-hour ozone at Midwest US stations, summer 1987 (``fields``'
  ``ozone2.rda``).
* :func:`load_us_temperature_original`: the paper's own US-Temp tensor from the official repository
  (download on request).

The ``.rda`` files live in ``data_dir()/spatiotemporal`` and are read with the PyPI package ``rdata``.
:func:`normalise_coordinates` and :func:`random_split` give the official preprocessing (each mode scaled
to [0, 1]) and a random train/test split.
"""
from __future__ import annotations

import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import MissingDataError, cache_dir, data_dir

SUBDIR = "spatiotemporal"
COLORADO_FILE = "COmonthlyMet.rda"
OZONE_FILE = "ozone2.rda"
COLORADO_UNITS = {"tmax": "degrees C", "tmin": "degrees C", "ppt": "mm"}
COLORADO_DESCRIPTION = {
    "tmax": "monthly mean of daily maximum temperature",
    "tmin": "monthly mean of daily minimum temperature",
    "ppt": "monthly total precipitation",
}
US_TEMP_FILE = "CONTI_15x95x267.npy"
US_TEMP_URL = ("https://raw.githubusercontent.com/xuangu-fang/Functional-Bayesian-Tucker-Decomposition/"
               "main/data/US_temp/" + US_TEMP_FILE)


@dataclass(frozen=True)
class SpatioTemporalData:
    """Observed entries of a continuous-indexed tensor: ``X[n]`` holds the coordinates of value ``y[n]``."""

    X: np.ndarray  # (N, K) float64, one column per mode
    y: np.ndarray  # (N,) float64
    names: tuple[str, ...]  # the K mode names, in column order
    description: str
    units: str  # units of y


def _rda_path(name: str) -> Path:
    path = data_dir() / SUBDIR / name
    if not path.is_file():
        raise MissingDataError(
            f"{path} not found. It is a data file of the R package fields (GPL >= 2): copy it from the Debian "
            f"package r-cran-fields or from data/ in the CRAN source tarball fields_<version>.tar.gz into "
            f"{data_dir() / SUBDIR}, or set PAPERLIB_DATA_DIR to a folder holding {SUBDIR}/{name}.")
    return path


def _read_rda(name: str) -> dict:
    import rdata  # imported here so that the rest of paperlib works without it

    return rdata.read_rda(_rda_path(name))


def _subsample(X: np.ndarray, y: np.ndarray, max_entries: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_entries`` entries, drawn uniformly without replacement (original order kept)."""
    if max_entries is None:
        return X, y
    if isinstance(max_entries, bool) or not isinstance(max_entries, (int, np.integer)) or max_entries < 1:
        raise ValueError(f"max_entries must be a positive integer or None, got {max_entries!r}")
    if len(y) <= max_entries:
        return X, y
    keep = np.sort(np.random.default_rng(seed).choice(len(y), size=max_entries, replace=False))
    return X[keep], y[keep]


def load_colorado_temperature(years: tuple[int, int] = (1993, 1997), variable: str = "tmax",
                              max_entries: int | None = None, seed: int = 0) -> SpatioTemporalData:
    """Colorado monthly meteorology (R package fields, ``COmonthlyMet``): 376 stations, 1895-1997.

    Modes (longitude, latitude, time), with time = year + (month - 0.5) / 12 in years, so January 1993 is
    1993.0417. ``years`` is an inclusive (first, last) range; ``variable`` is "tmax" or "tmin" (monthly mean
    of the daily maximum/minimum temperature, degrees C) or "ppt" (monthly total precipitation, documented
    by fields as mm). Only observed (non-missing) entries are returned; with ``max_entries`` a uniform
    random subset of that size (drawn with ``seed``).
    """
    if variable not in COLORADO_UNITS:
        raise ValueError(f"variable must be one of {sorted(COLORADO_UNITS)}, got {variable!r}")
    try:
        first, last = (int(v) for v in years)
    except (TypeError, ValueError):
        raise ValueError(f"years must be a (first, last) pair of integers, got {years!r}") from None
    d = _read_rda(COLORADO_FILE)
    all_years = np.asarray(d["CO.years"], dtype=int)
    lo, hi = int(all_years.min()), int(all_years.max())
    if not lo <= first <= last <= hi:
        raise ValueError(f"years must satisfy {lo} <= first <= last <= {hi}, got {years!r}")
    values = np.asarray(d[f"CO.{variable}"], dtype=float)  # (year, month, station)
    loc = np.asarray(d["CO.loc"][["lon", "lat"]], dtype=float)  # (station, 2)
    rows = np.flatnonzero((all_years >= first) & (all_years <= last))
    block = values[rows]
    yi, mi, si = np.nonzero(np.isfinite(block))
    time = all_years[rows][yi] + (mi + 0.5) / 12.0
    X = np.column_stack([loc[si, 0], loc[si, 1], time])
    X, y = _subsample(X, block[yi, mi, si], max_entries, seed)
    return SpatioTemporalData(
        X=X, y=y, names=("longitude", "latitude", "time"),
        description=f"Colorado {COLORADO_DESCRIPTION[variable]} ({variable}), {first}-{last}, "
                    f"{len(loc)} stations (R package fields, COmonthlyMet)",
        units=COLORADO_UNITS[variable])


def load_midwest_ozone(max_entries: int | None = None, seed: int = 0) -> SpatioTemporalData:
    """Midwest US daily 8-hour average ozone, 153 stations x 89 days (summer 1987; fields ``ozone2``).

    Modes (longitude, latitude, day) with day the index 0..88 as a float. Only observed entries; with
    ``max_entries`` a uniform random subset of that size (drawn with ``seed``).
    """
    d = _read_rda(OZONE_FILE)["ozone2"]
    loc = np.asarray(d["lon.lat"], dtype=float)  # (station, 2)
    values = np.asarray(d["y"], dtype=float)  # (day, station)
    di, si = np.nonzero(np.isfinite(values))
    X = np.column_stack([loc[si, 0], loc[si, 1], di.astype(float)])
    X, y = _subsample(X, values[di, si], max_entries, seed)
    dates = np.asarray(d["dates"])
    return SpatioTemporalData(
        X=X, y=y, names=("longitude", "latitude", "day"),
        description=f"Midwest US daily 8-hour average ozone, {len(loc)} stations, days 0..{len(dates) - 1} = "
                    f"19{dates[0]}..19{dates[-1]} (yymmdd; R package fields, ozone2)",
        units="ppb")


def load_us_temperature_original(fold: int = 0, download: bool = False) -> SpatioTemporalData:
    """The paper's US-Temp tensor (official FunBaT repository, ``data/US_temp/CONTI_15x95x267.npy``).

    Yearly mean temperature (degrees F) of 248 US cities; modes (latitude, longitude, year), each already
    normalised to [0, 1] by the authors (15 x 95 x 267 distinct values). The file stores five random
    80/20 folds; this returns fold ``fold``'s training and test entries concatenated (the first
    ``len(tr_y)`` rows are its training part). Looks in ``data_dir()/US_temp`` and
    ``cache_dir("funbat-us-temp")``; with ``download=True`` fetches the file into the cache. The file is a
    numpy pickle, so loading it runs code from that repository: download it only from there.
    """
    cache = cache_dir("funbat-us-temp")
    candidates = [data_dir() / "US_temp", cache]
    path = next((d / US_TEMP_FILE for d in candidates if (d / US_TEMP_FILE).is_file()), None)
    if path is None and download:
        path = cache / US_TEMP_FILE
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=US_TEMP_FILE + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(US_TEMP_URL, timeout=60) as resp:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    if path is None:
        raise MissingDataError(
            f"{US_TEMP_FILE} not found (looked in: " + ", ".join(str(d) for d in candidates) + "). Call "
            f"load_us_temperature_original(download=True) when online (fetches {US_TEMP_URL}), or put the file "
            f"in {candidates[0]}.")
    folds = np.load(path, allow_pickle=True).item()["data"]
    if not 0 <= fold < len(folds):
        raise ValueError(f"fold must be in 0..{len(folds) - 1}, got {fold}")
    f = folds[fold]
    X = np.concatenate([np.asarray(f["tr_ind_CONTI"], dtype=float), np.asarray(f["te_ind_CONTI"], dtype=float)])
    y = np.concatenate([np.asarray(f["tr_y"], dtype=float).ravel(), np.asarray(f["te_y"], dtype=float).ravel()])
    return SpatioTemporalData(
        X=X, y=y, names=("latitude", "longitude", "year"),
        description=f"US-Temp (FunBaT paper): yearly mean temperature of US cities, fold {fold}, "
                    f"{len(f['tr_y'])} train + {len(f['te_y'])} test entries",
        units="degrees F")


def normalise_coordinates(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each column to [0, 1] with the training min/max (the official FunBaT preprocessing).

    Test coordinates outside the training range land outside [0, 1]; a constant training column maps to 0.
    """
    X_train = np.asarray(X_train, dtype=float)
    X_test = np.asarray(X_test, dtype=float)
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"expected 2-D arrays with equal column counts, got {X_train.shape} and {X_test.shape}")
    if len(X_train) == 0:
        raise ValueError("X_train is empty")
    lo = X_train.min(axis=0)
    span = X_train.max(axis=0) - lo
    span[span == 0] = 1.0
    return (X_train - lo) / span, (X_test - lo) / span


def random_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random partition of ``range(n)`` into (train_idx, test_idx), each sorted; round(n * test_fraction) test."""
    if n < 2:
        raise ValueError(f"need n >= 2 to split, got {n}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = min(max(int(round(n * test_fraction)), 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
