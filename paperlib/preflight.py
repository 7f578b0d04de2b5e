"""Preflight: run a profile's code path on its smallest slice, and name what is missing.

``paperlib check PAPER --profile full`` runs the paper's notebook with the profile's parameters and
the profile's ``preflight`` overrides from profiles.yaml (one seed, a few examples, one epoch: the
same data pipeline, model, trainer and evaluation, only smaller), with ``$PAPERLIB_PREFLIGHT=1``.
A loader whose data are not on this machine then does not stop the check: it notes what is missing
and the command that fixes it (:func:`missing`), and hands back a stand-in of the right shape and
type, so that the rest of the path (model, optimisation step, evaluation) is still exercised. The
check passes when the path runs; the missing items are listed beside it. Outside a preflight
:func:`standin` raises the loader's own error, unchanged.
"""
from __future__ import annotations

import json
import os
from typing import Callable, TypeVar

PREFLIGHT_ENV = "PAPERLIB_PREFLIGHT"
PREFLIGHT_LOG_ENV = "PAPERLIB_PREFLIGHT_LOG"
T = TypeVar("T")


def active() -> bool:
    return os.environ.get(PREFLIGHT_ENV) == "1"


def missing(what: str, fix: str) -> None:
    """Note, in the current preflight's log, that ``what`` is missing and ``fix`` gets it."""
    log = os.environ.get(PREFLIGHT_LOG_ENV)
    if not log:
        return
    line = json.dumps({"missing": what, "fix": fix}) + "\n"
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def standin(error: Exception, what: str, fix: str, make: Callable[[], T]) -> T:
    """In a preflight: note ``what`` as missing and return ``make()``; otherwise raise ``error``."""
    if not active():
        raise error
    missing(what, fix)
    return make()


def read_log(path) -> list[dict]:
    """The missing items a preflight noted, each once."""
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return []
    seen, out = set(), []
    for ln in lines:
        if ln.strip():
            item = json.loads(ln)
            if item["missing"] not in seen:
                seen.add(item["missing"])
                out.append(item)
    return out
