"""The papers paperlib reproduces, their profiles, claims and notebook parameters.

A paper is a folder ``reproductions/<slug>/`` holding ``paper.yaml`` (title, citation, notebook),
``profiles.yaml`` (parameter values per profile) and ``claims.yaml``; its notebook is
``notebooks/<slug>.py`` (jupytext py:percent) whose cell tagged ``parameters`` declares every
parameter with a default, and so its type.
"""
from __future__ import annotations

import ast
import difflib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

PROFILES = ("smoke", "quick", "full")


class ReproError(Exception):
    """A user error (unknown paper, profile or parameter, bad value); the message says what to do."""


def repo_root() -> Path:
    """The repository checkout: ``$PAPERLIB_ROOT`` or the folder above the installed package."""
    env = os.environ.get("PAPERLIB_ROOT")
    root = Path(env) if env else Path(__file__).resolve().parents[2]
    if not (root / "reproductions").is_dir():
        raise ReproError(f"no reproductions/ folder under {root}: run paperlib from a checkout "
                         "installed with `pip install -e .`, or set PAPERLIB_ROOT to the checkout")
    return root


@dataclass
class Parameter:
    name: str
    default: Any
    comment: str = ""

    @property
    def type_name(self) -> str:
        if isinstance(self.default, list) and self.default:
            return f"list[{type(self.default[0]).__name__}]"
        return type(self.default).__name__

    def check(self, value: Any) -> Any:
        """``value`` if it has this parameter's type (ints are accepted for floats), else ReproError."""
        d = self.default
        ok: bool
        if d is None:
            ok = True
        elif isinstance(d, bool):
            ok = isinstance(value, bool)
        elif isinstance(d, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(d, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok:
                value = float(value)
        elif isinstance(d, list):
            ok = isinstance(value, list)
            if ok and d:
                elem = Parameter(self.name + "[]", d[0])
                try:
                    value = [elem.check(v) for v in value]
                except ReproError:
                    ok = False
        else:
            ok = isinstance(value, type(d))
        if not ok:
            raise ReproError(f"parameter {self.name!r} must be {self.type_name} (default {d!r}), "
                             f"got {value!r} ({type(value).__name__})")
        return value


def parse_parameters(notebook: Path) -> dict[str, Parameter]:
    """The parameters cell of a py:percent notebook: name -> Parameter (default and comment)."""
    text = notebook.read_text()
    cells = re.split(r"^# %%", text, flags=re.M)
    for cell in cells[1:]:
        header, _, body = cell.partition("\n")
        if "parameters" not in header:
            continue
        params: dict[str, Parameter] = {}
        lines = body.splitlines()
        for node in ast.parse(body).body:
            if not (isinstance(node, (ast.Assign, ast.AnnAssign))):
                raise ReproError(f"{notebook}: the parameters cell may hold only assignments "
                                 f"(line {node.lineno})")
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if not isinstance(target, ast.Name):
                raise ReproError(f"{notebook}: parameters must be plain names (line {node.lineno})")
            line = lines[node.end_lineno - 1]
            comment = line.split("#", 1)[1].strip() if "#" in line else ""
            params[target.id] = Parameter(target.id, ast.literal_eval(node.value), comment)
        return params
    raise ReproError(f"{notebook} has no cell tagged parameters (`# %% tags=[\"parameters\"]`)")


@dataclass
class Paper:
    slug: str
    folder: Path
    meta: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.meta.get("title", self.slug)

    @property
    def notebook(self) -> Path:
        return repo_root() / self.meta.get("notebook", f"notebooks/{self.slug}.py")

    @cached_property
    def _profiles_file(self) -> dict:
        data = yaml.safe_load((self.folder / "profiles.yaml").read_text()) or {}
        unknown = set(data) - set(PROFILES) - {"descriptions", "resources", "preflight"}
        if unknown:
            raise ReproError(f"{self.folder/'profiles.yaml'}: unknown profile(s) {sorted(unknown)}")
        return data

    @property
    def profiles(self) -> dict[str, dict]:
        return {p: (self._profiles_file.get(p) or {}) for p in PROFILES if p in self._profiles_file}

    @property
    def profile_descriptions(self) -> dict[str, str]:
        return self._profiles_file.get("descriptions", {})

    def resources(self, profile: str) -> dict:
        """What one run of ``profile`` needs (profiles.yaml ``resources``): gpus, cpus, mem_gb, hours."""
        res = (self._profiles_file.get("resources") or {}).get(profile) or {}
        unknown = set(res) - {"gpus", "cpus", "mem_gb", "hours"}
        if unknown:
            raise ReproError(f"{self.folder/'profiles.yaml'}: resources.{profile} has unknown keys {sorted(unknown)}; "
                             "valid: gpus, cpus, mem_gb, hours")
        return res

    def preflight(self, profile: str) -> dict | None:
        """The overrides that shrink ``profile`` to its smallest slice for ``paperlib check`` (profiles.yaml
        ``preflight``), or None when the paper declares none for it."""
        return (self._profiles_file.get("preflight") or {}).get(profile)

    @cached_property
    def claims(self) -> list[dict]:
        path = self.folder / "claims.yaml"
        return (yaml.safe_load(path.read_text()) or {}).get("claims", []) if path.exists() else []

    @cached_property
    def parameters(self) -> dict[str, Parameter]:
        return parse_parameters(self.notebook)

    def resolve(self, profile: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The parameters a run gets: profile values, then overrides, each checked by name and type."""
        if profile not in self.profiles:
            raise ReproError(f"{self.slug} has no profile {profile!r}; valid: {', '.join(self.profiles)}")
        resolved: dict[str, Any] = {}
        for source, values in ((f"profile {profile!r}", self.profiles[profile]), ("-p", overrides or {})):
            for name, value in values.items():
                if name not in self.parameters:
                    raise ReproError(self.unknown_parameter_message(name, source))
                resolved[name] = self.parameters[name].check(value)
        return resolved

    def unknown_parameter_message(self, name: str, source: str = "-p") -> str:
        close = difflib.get_close_matches(name, self.parameters, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        valid = "\n".join(f"  {p.name}: {p.type_name} = {p.default!r}  # {p.comment}"
                          for p in self.parameters.values())
        return f"{self.slug}: unknown parameter {name!r} (from {source}).{hint} Valid parameters:\n{valid}"


def papers() -> dict[str, Paper]:
    """Every paper with a ``reproductions/<slug>/paper.yaml``, by slug."""
    found = {}
    for meta_path in sorted((repo_root() / "reproductions").glob("*/paper.yaml")):
        found[meta_path.parent.name] = Paper(meta_path.parent.name, meta_path.parent,
                                             yaml.safe_load(meta_path.read_text()) or {})
    return found


def get_paper(slug: str) -> Paper:
    known = papers()
    if slug not in known:
        close = difflib.get_close_matches(slug, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ReproError(f"unknown paper {slug!r}.{hint} Known papers: {', '.join(known) or 'none'} "
                         "(see `paperlib list`)")
    return known[slug]
