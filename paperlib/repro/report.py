"""The cross-paper table ``reproductions/README.md``, rebuilt from the committed results.

``reevaluate`` recomputes the verdicts of a committed ``results.json`` from its recorded per-seed
measurements with the paper's current ``claims.yaml`` (no notebook runs): conditions whose
measurement that run never recorded come out ``not_assessed`` with a note saying so. The previous
verdicts are kept under ``previous_verdicts`` so a REPORT can say how they moved.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import yaml

from . import claims as claims_mod
from .claims import claims_table, summary
from .io import _git, atomic_write_json, atomic_write_text
from .registry import PROFILES, get_paper, papers, repo_root

BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"


def result_paths(slug: str | None = None) -> list[Path]:
    """Committed results.json files (never smoke: a pipeline check, not a reproduction)."""
    found = []
    for s, paper in papers().items():
        if slug and s != slug:
            continue
        for profile in PROFILES:
            if profile == "smoke":
                continue
            path = paper.folder / "results" / profile / "results.json"
            if path.exists():
                found.append(path)
    return found


def collect() -> list[dict]:
    return [json.loads(p.read_text()) for p in result_paths()]


def _old_verdict(c: dict) -> str:
    if "verdict" in c:
        return c["verdict"]
    return {True: "holds", False: "does not hold", None: "not assessed"}[c.get("holds")]


def reevaluate(path: Path) -> dict:
    """Recompute ``path``'s claims and checks from its measurements and the current claims.yaml."""
    res = json.loads(Path(path).read_text())
    paper = get_paper(res["paper"])
    spec = yaml.safe_load((paper.folder / "claims.yaml").read_text())
    out = claims_mod.evaluate_spec(spec, res.get("measurements", {}), strict=False)
    previous = res.get("previous_verdicts") or {c["id"]: _old_verdict(c) for c in res.get("claims", [])}
    res["claims"], res["checks"] = out["claims"], out["checks"]
    res["previous_verdicts"] = previous
    res["claims_evaluated"] = {"by": "paperlib report --reevaluate", "git_sha": _git(repo_root(), "rev-parse", "HEAD"),
                               "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(path, res)
    return res


def summary_markdown(results: list[dict]) -> str:
    if not results:
        return "_No committed results yet: run `paperlib reproduce all`._\n"
    parts = []
    for res in results:
        m = res["manifest"]
        checks = res.get("checks", [])
        text = (f"### {res['paper']} ({res['profile']} profile)\n\n"
                f"The paper's claims: {summary(res['claims'])}. Produced by "
                f"`paperlib reproduce {res['paper']} --profile {res['profile']}` in "
                f"{m['wall_s']:.0f} s at git {str(m['git_sha'])[:10]}"
                f"{' (dirty)' if m.get('dirty') else ''}, {m['hardware'].get('cpu_count')} CPUs, "
                f"GPU: {m['hardware'].get('gpu') or 'none'}.")
        if res.get("claims_evaluated"):
            ev = res["claims_evaluated"]
            moved = ", ".join(f"{c['id']} {res['previous_verdicts'].get(c['id'], 'new')} -> "
                              f"{c['verdict'].replace('_', ' ')}" for c in res["claims"])
            text += (f" Verdicts recomputed from the recorded measurements with the claims.yaml of git "
                     f"{str(ev.get('git_sha'))[:10]} (before: {moved}).")
        text += "\n\n" + claims_table([res], markdown=True) + "\n"
        if checks:
            text += (f"\nOur own checks (not the paper's claims): {summary(checks)}.\n\n"
                     + claims_table([res], markdown=True, key="checks") + "\n")
        parts.append(text)
    return "\n".join(parts)


def _fill_markers(path: Path, body: str) -> None:
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{body}\n{END}",
                         text, flags=re.S)
            atomic_write_text(path, new)


def _overview(results: list[dict]) -> str:
    """One line per paper and profile: how many of its claims came out which way."""
    if not results:
        return ""
    lines = ["| paper | profile | claims | reproduced | contradicted | inconclusive | not assessed |",
             "|---|---|---|---|---|---|---|"]
    for res in results:
        n = {v: sum(c.get("verdict", "not_assessed") == v for c in res["claims"]) for v in claims_mod.VERDICTS}
        lines.append(f"| {res['paper']} | {res['profile']} | {len(res['claims'])} | {n['reproduced']} | "
                     f"{n['contradicted']} | {n['inconclusive']} | {n['not_assessed']} |")
    return "\n".join(lines) + "\n\n"


def write_report() -> Path:
    """Rebuild reproductions/README.md, and the claims sections of README.md and each REPORT.md."""
    root = repo_root()
    results = collect()
    body = summary_markdown(results)
    for slug, paper in papers().items():
        mine = [r for r in results if r["paper"] == slug]
        if mine:
            _fill_markers(paper.folder / "REPORT.md", summary_markdown(mine))
    target = root / "reproductions" / "README.md"
    atomic_write_text(target, "# Reproductions: claims and verdicts\n\nGenerated by `paperlib report` "
                      "from `reproductions/*/results/*/results.json`; do not edit by hand. Verdicts: "
                      "reproduced, contradicted, inconclusive (the run could not tell; MDE = the smallest "
                      "effect its seeds detect with 80% power), not assessed (too few seeds, or a positive "
                      "control failed so the set-up cannot show the effect).\n\n" + _overview(results) + body)
    _fill_markers(root / "README.md", _overview(results) + "Each paper's table with intervals and MDEs is in "
                  "[reproductions/README.md](reproductions/README.md) and its REPORT.md.\n")
    return target
