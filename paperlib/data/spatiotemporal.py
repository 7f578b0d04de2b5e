"""Continuous-indexed spatio-temporal tensors for the FunBaT reproduction (Fang et al., ICLR 2024).

FunBaT treats data as entries of a tensor whose modes are continuous coordinates (longitude, latitude,
time). Each loader here returns a :class:`SpatioTemporalData`: coordinates X of shape (N, 3), values y of
shape (N,), observed entries only.

* :func:`load_colorado_temperature`: monthly station temperature (or precipitation) in Colorado, from the
  R package ``fields`` (``COmonthlyMet.rda``), an offline stand-in for the paper's US-Temp data.
* :func:`load_midwest_ozone`: daily 8-hour ozone at Midwest US stations, summer 1987 (``fields``'
  ``ozone2.rda``).
* :func:`load_official_fold`: the paper's own tensors (US-Temp; Beijing PM2.5, PM10, SO2) from the official
  repository, its five stored folds, downloaded on request with a checksum (git blob id) check, a clear error
  offline; :func:`load_us_temperature_original` keeps the older one-array form for US-Temp.

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


OFFICIAL_COMMIT = "fe270e8"  # xuangu-fang/Functional-Bayesian-Tucker-Decomposition, the commit the configs were read at
OFFICIAL_RAW = "https://raw.githubusercontent.com/xuangu-fang/Functional-Bayesian-Tucker-Decomposition/main/"
# The paper's own continuous-indexed tensors (Section 6.2, Table 1): path in the official repository, the git blob
# SHA-1 of the file in its tree at OFFICIAL_COMMIT (the checksum every local or downloaded copy must match), mode
# names, units and a description. Each file stores five random 80/20 folds ("data": [{tr_ind_CONTI, tr_y,
# te_ind_CONTI, te_y, ...}] * 5), coordinates already scaled to [0, 1] by the authors.
OFFICIAL = {
    "us_temp": dict(path="data/US_temp/CONTI_15x95x267.npy", blob="fe3d3b9f7af9f20f2d6905b012999add2f3a86d2",
                    names=("latitude", "longitude", "year"), units="degrees F",
                    description="US-Temp (FunBaT paper): yearly mean temperature of 248 US cities"),
    "beijing_pm25": dict(path="data/beijing/beijing_PM2.5/CONTI_428x501x1461.npy",
                         blob="edadc81c9d486c0dca070c1ce8bdceb98c9bd8d5", names=("latitude", "longitude", "time"),
                         units="ug/m3", description="Beijing air quality (FunBaT paper): PM2.5"),
    "beijing_pm10": dict(path="data/beijing/beijing_PM10/CONTI_428x501x1461.npy",
                         blob="882e8a57d25d4ad57a11e4fb46516fae63a36bfb", names=("latitude", "longitude", "time"),
                         units="ug/m3", description="Beijing air quality (FunBaT paper): PM10"),
    "beijing_so2": dict(path="data/beijing/beijing_SO2/CONTI_428x501x1461.npy",
                        blob="03af7f0d033ec41b613cf3336b53b1efb392cb04", names=("latitude", "longitude", "time"),
                        units="ug/m3", description="Beijing air quality (FunBaT paper): SO2"),
}


def git_blob_sha1(path: Path) -> str:
    """The git blob id of a file (SHA-1 of ``b"blob <size>\\0" + content``): the checksum git's tree records."""
    import hashlib

    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def official_file(name: str, download: bool = False) -> Path:
    """The local copy of the official data file ``name`` (a key of :data:`OFFICIAL`), checksum verified.

    Looks in ``data_dir()/<its folder in the official repository>`` and ``cache_dir("funbat-official")``; with
    ``download=True`` fetches it from the official repository into the cache. A copy whose git blob id differs
    from the one recorded here is refused (the files are numpy pickles: loading one runs code, so only the
    recorded bytes are loaded). Offline without a copy: :class:`MissingDataError` saying where to put it.
    """
    if name not in OFFICIAL:
        raise ValueError(f"unknown official dataset {name!r}: choose from {sorted(OFFICIAL)}")
    spec = OFFICIAL[name]
    rel = Path(spec["path"])
    cache = cache_dir("funbat-official")
    candidates = [data_dir() / rel.relative_to("data"), cache / rel.name]
    path = next((c for c in candidates if c.is_file()), None)
    url = OFFICIAL_RAW + spec["path"]
    if path is None and download:
        path = cache / rel.name
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=rel.name + ".", suffix=".part")
        try:
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
            except OSError as err:
                raise MissingDataError(f"could not download {url} ({err}); offline? Put the file at {candidates[0]}") from err
            got = git_blob_sha1(Path(tmp))
            if got != spec["blob"]:
                raise ValueError(f"downloaded {url} has git blob id {got}, expected {spec['blob']} (the file at "
                                 f"commit {OFFICIAL_COMMIT}); refusing to load it")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    if path is None:
        raise MissingDataError(
            f"{rel.name} ({spec['description']}) not found (looked in: " + ", ".join(str(c) for c in candidates)
            + f"). When online, pass download=True (fetches {url}, checksum verified), or put the file at {candidates[0]}.")
    got = git_blob_sha1(path)
    if got != spec["blob"]:
        raise ValueError(f"{path} has git blob id {got}, expected {spec['blob']} (the official file at commit "
                         f"{OFFICIAL_COMMIT}); delete it and download again")
    return path


def load_official_fold(name: str, fold: int = 0, download: bool = False) -> tuple[SpatioTemporalData, SpatioTemporalData]:
    """(training, test) entries of stored fold ``fold`` (0-4) of the paper's dataset ``name`` (see :data:`OFFICIAL`).

    The same loader interface as the stand-ins (:class:`SpatioTemporalData`); the split is the authors' stored
    one, as the official script reads it (``make_data_dict(..., fold)``).
    """
    spec = OFFICIAL.get(name)
    path = official_file(name, download=download)
    folds = np.load(path, allow_pickle=True).item()["data"]
    if isinstance(fold, bool) or not 0 <= fold < len(folds):
        raise ValueError(f"fold must be in 0..{len(folds) - 1}, got {fold!r}")
    f = folds[fold]
    parts = []
    for split in ("tr", "te"):
        X = np.asarray(f[f"{split}_ind_CONTI"], dtype=float)
        y = np.asarray(f[f"{split}_y"], dtype=float).ravel()
        parts.append(SpatioTemporalData(X=X, y=y, names=spec["names"], units=spec["units"],
                                        description=f"{spec['description']}, fold {fold}, {'train' if split == 'tr' else 'test'}"))
    return parts[0], parts[1]


def load_us_temperature_original(fold: int = 0, download: bool = False) -> SpatioTemporalData:
    """The paper's US-Temp tensor, fold ``fold``'s training and test entries concatenated (the first rows are
    its training part); see :func:`load_official_fold`, which returns them apart."""
    tr, te = load_official_fold("us_temp", fold, download=download)
    return SpatioTemporalData(X=np.concatenate([tr.X, te.X]), y=np.concatenate([tr.y, te.y]), names=tr.names,
                              description=f"US-Temp (FunBaT paper): yearly mean temperature of US cities, fold {fold}, "
                                          f"{len(tr.y)} train + {len(te.y)} test entries", units=tr.units)


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
