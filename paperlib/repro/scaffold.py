"""``paperlib new SLUG``: the files of a new paper, in the one shape every paper has.

What a paper provides (ARCHITECTURE.md, "One shape for a paper"):

- ``paperlib/<slug>/``: ``__init__.py`` (the citation; the public API), ``experiment.py`` (the runs,
  per-seed results), ``claims.py`` (the claim statistics as plain functions);
- ``notebooks/<slug>.py``: the story (jupytext py:percent, a ``parameters`` cell, figures inline);
- ``reproductions/<slug>/``: ``paper.yaml``, ``profiles.yaml`` (smoke, quick, full), ``claims.yaml``,
  ``REPORT.md``;
- ``tests/test_<slug>.py``: unit tests of the package.

The templates live in ``paperlib/repro/templates/``; ``__SLUG__`` and ``__TITLE__`` are filled in.
The scaffold is a working toy: its smoke profile runs as it is, so a new paper starts from a
passing pipeline and replaces the toy piece by piece.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

from .registry import ReproError, repo_root

TEMPLATES = Path(__file__).resolve().parent / "templates"
# destination (relative to the repository root) -> template (relative to TEMPLATES)
FILES = {
    "paperlib/{slug}/__init__.py": "package/__init__.py.tmpl",
    "paperlib/{slug}/experiment.py": "package/experiment.py.tmpl",
    "paperlib/{slug}/claims.py": "package/claims.py.tmpl",
    "notebooks/{slug}.py": "notebook.py.tmpl",
    "reproductions/{slug}/paper.yaml": "paper.yaml.tmpl",
    "reproductions/{slug}/profiles.yaml": "profiles.yaml.tmpl",
    "reproductions/{slug}/claims.yaml": "claims.yaml.tmpl",
    "reproductions/{slug}/REPORT.md": "REPORT.md.tmpl",
    "tests/test_{slug}.py": "test.py.tmpl",
}
SLUG = re.compile(r"[a-z][a-z0-9_]*\Z")


def check_slug(slug: str, root: Path) -> None:
    """ReproError unless ``slug`` can name a new paper: a lowercase Python identifier used by nothing yet."""
    if not SLUG.match(slug) or keyword.iskeyword(slug):
        raise ReproError(f"{slug!r} cannot name a paper: the slug is its Python package name "
                         "(paperlib.<slug>), so it must be a lowercase Python identifier that is not a keyword: "
                         "letters, digits and underscores, starting with a letter (e.g. 'compsum', 'rna_fm')")
    taken = [p for p in (root / "paperlib" / slug, root / "paperlib" / f"{slug}.py",
                         root / "reproductions" / slug, root / "notebooks" / f"{slug}.py",
                         root / "tests" / f"test_{slug}.py") if p.exists()]
    if taken:
        raise ReproError(f"{slug!r} is taken: {', '.join(str(p.relative_to(root)) for p in taken)} already "
                         "exist(s); choose another slug")


def render(slug: str, title: str) -> dict[str, str]:
    """Destination path (relative) -> file text."""
    title = " ".join(title.split())
    if '"' in title:
        raise ReproError("the title may not contain double quotes (it goes into paper.yaml)")
    return {dest.format(slug=slug): (TEMPLATES / src).read_text().replace("__SLUG__", slug).replace("__TITLE__", title)
            for dest, src in FILES.items()}


def new_paper(slug: str, title: str | None = None, root: Path | None = None) -> list[Path]:
    """Write the scaffold of paper ``slug``; all files or none. Returns the paths written."""
    root = root or repo_root()
    check_slug(slug, root)
    files = render(slug, title or f"TODO: the title of the paper ({slug})")
    written: list[Path] = []
    try:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x") as f:  # never overwrite
                f.write(text)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        for folder in (root / "paperlib" / slug, root / "reproductions" / slug):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return written


NEXT_STEPS = """\
Next steps for {slug}:
  1. paperlib reproduce {slug} --profile smoke --out /tmp/{slug}-smoke   # the toy runs end to end
  2. replace the toy: the method in paperlib/{slug}/ (files named after the paper's concepts), the runs in
     experiment.py, the claim statistics in claims.py, the story in notebooks/{slug}.py; fill in
     paper.yaml, profiles.yaml and claims.yaml (the paper's claims, where it states them, margins with reasons)
  3. pytest tests/test_{slug}.py; then commit, and store its golden smoke measurements:
     paperlib verify {slug} --update   (tests/test_papers_smoke.py compares every smoke run with them)
  4. paperlib reproduce {slug}   # the quick profile, from a clean checkout; then write REPORT.md"""
