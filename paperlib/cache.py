"""Cache keys that change when the code that made an artefact changes, and a record of what a run used.

A cached artefact (a reference policy, a pretrained LM, an SFT model) is only as good as its key: a
key made of the configuration alone lets a rerun load weights that older code trained, and a rerun
on an empty cache then gives other numbers. So every cache key here also covers the *source* of the
modules that produced the artefact::

    key = artifact_key("alol/reference", {"cfg": asdict(cfg), "data": data_key},
                       __name__, type(task).__module__)
    path = cache_dir("alol", "reference") / f"{key}.pt"

``code_version(*modules)`` hashes the source files of the named modules and, transitively, of every
``paperlib`` module they import (``import`` statements anywhere in the file, found by parsing, not
by importing), so a change to the data generator or the model a module uses changes the key too.
Parent packages' ``__init__`` files are not followed unless imported by name. A module given as a
file path (``__file__``, a name ending in ``.py``) is hashed alone, its imports not followed: for a module whose imports reach
well past what made the artefact (name the producers it uses beside it). Nothing outside
``paperlib`` is hashed: library versions (torch, numpy) are recorded in the run's manifest instead.
Editing any of those files therefore retrains the artefact once; that costs minutes, a stale cache
costs a wrong result.

``artifact_key`` also notes the artefact in the current run's log (the file named by
``$PAPERLIB_ARTIFACT_LOG``, which :class:`paperlib.repro.record.Run` sets, and which processes the
notebook spawns inherit), so that ``results.json`` lists under ``artifacts`` the key and code
version of every cached artefact the run used or made.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any, Union

ARTIFACT_LOG_ENV = "PAPERLIB_ARTIFACT_LOG"
PACKAGE_DIR = Path(__file__).resolve().parent  # .../paperlib
PACKAGE = PACKAGE_DIR.name


def _module_file(name: str) -> Path | None:
    """The source file of the paperlib module ``name`` (a dotted name), or None if it is not one."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package_of(name: str, path: Path) -> str:
    """The package that relative imports in module ``name`` (at ``path``) are resolved against."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str, path: Path) -> set[str]:
    """The paperlib modules that ``path`` (module ``name``) imports anywhere in its source."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(name, path).split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from pkg import sub` imports the module pkg.sub when there is one
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if _module_file(m) is not None}


Module = Union[str, ModuleType, "os.PathLike[str]"]  # a dotted name, a module, or a file path


def _name_of(module: str | ModuleType) -> str:
    return module if isinstance(module, str) else module.__name__


def _file_module(path: os.PathLike) -> tuple[str, Path]:
    """(dotted name, file) of a paperlib source file given by its path."""
    path = Path(path).resolve()
    try:
        rel = path.relative_to(PACKAGE_DIR)
    except ValueError:
        raise ValueError(f"code_version: {path} is not a source file of the {PACKAGE} package") from None
    parts = [PACKAGE, *rel.with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts), path


def source_files(*modules: Module) -> dict[str, Path]:
    """Module name -> source file, for ``modules`` and every paperlib module they import, transitively
    (a module given as a file path: that file only)."""
    seen: dict[str, Path] = {}
    todo = []
    for m in modules:
        if isinstance(m, ModuleType) or (isinstance(m, str) and not m.endswith(".py")):
            todo.append(_name_of(m))
        else:
            name, path = _file_module(m)
            seen[name] = path
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise ValueError(f"code_version: {name!r} is not a module of the {PACKAGE} package")
        seen[name] = path
        todo.extend(_imports(name, path) - set(seen))
    return dict(sorted(seen.items()))


def code_version(*modules: Module) -> str:
    """A 16-hex-digit hash of the source of ``modules`` and the paperlib modules they import.

    Whitespace and comments count (a hash cannot tell which edits matter); file locations do not,
    so two checkouts of the same commit give the same version.
    """
    h = hashlib.sha256()
    for name, path in source_files(*modules).items():
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def artifact_key(kind: str, inputs: Any, *modules: Module, length: int = 16) -> str:
    """The cache key of an artefact of ``kind`` made from ``inputs`` (JSON-able: its configuration
    and data identity) by the code of ``modules``; noted in the current run's artefact log."""
    version = code_version(*modules)
    blob = json.dumps({"kind": kind, "inputs": inputs, "code": version}, sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:length]
    note_artifact({"kind": kind, "key": key, "code_version": version,
                   "modules": sorted(source_files(*modules))})
    return key


def note_artifact(entry: dict) -> None:
    """Append ``entry`` to the run's artefact log, if a run set one (one JSON object per line)."""
    log = os.environ.get(ARTIFACT_LOG_ENV)
    if not log:
        return
    line = json.dumps(entry, sort_keys=True) + "\n"
    # one short write in append mode: lines from the notebook and its worker processes do not interleave
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_artifact_log(path: str | os.PathLike) -> list[dict]:
    """The artefacts noted in the log at ``path``, each once, in the order first noted."""
    path = Path(path)
    if not path.is_file():
        return []
    out: dict[tuple[str, str], dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            out.setdefault((entry["kind"], entry["key"]), entry)
    return list(out.values())


__all__ = ["ARTIFACT_LOG_ENV", "artifact_key", "code_version", "note_artifact", "read_artifact_log",
           "source_files"]
