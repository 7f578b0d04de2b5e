"""``paperlib lab PAPER``: explore a paper in JupyterLab on a working copy, never on the source.

JupyterLab autosaves what it has open. Opened on ``notebooks/<paper>.py`` (the jupytext source), it
writes whatever a user types into the parameters cell back into the tracked file, and a later
``paperlib reproduce`` would silently run at those values. So ``paperlib lab`` converts the source
into ``runs/<paper>/lab/<paper>.ipynb`` (git-ignored), with the chosen profile's parameters injected
below the parameters cell exactly as papermill injects them, and opens JupyterLab there with the
project's kernel. The user's edits stay in that copy; ``--fresh`` starts over (the old copy is kept
beside it with a timestamp, never deleted).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .registry import Paper, ReproError, repo_root
from .runner import KERNELSPEC



def lab_dir(paper: Paper) -> Path:
    return repo_root() / "runs" / paper.slug / "lab"


def working_copy(paper: Paper, profile: str = "quick", overrides: dict[str, Any] | None = None,
                 fresh: bool = False, folder: Path | None = None) -> Path:
    """The notebook a user explores: made once from the source with ``profile``'s parameters.

    An existing copy is kept as it is (it holds the user's work) unless ``fresh``; then it is moved
    aside to ``<name>.<timestamp>.ipynb`` first.
    """
    import jupytext
    import nbformat
    from papermill.parameterize import parameterize_notebook

    params = paper.resolve(profile, overrides)  # raises ReproError on unknown or mistyped values
    folder = Path(folder) if folder is not None else lab_dir(paper)
    path = folder / f"{paper.slug}.ipynb"
    if path.exists() and not fresh:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    if path.exists():
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        shutil.move(path, folder / f"{paper.slug}.{stamp}.ipynb")
    nb = jupytext.read(paper.notebook)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("jupytext", None)  # a plain notebook: saving it never rewrites the .py source
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])  # papermill's parameterize looks up tags on every cell
    nb.metadata.setdefault("papermill", {})
    nb = parameterize_notebook(nb, params, report_mode=False)
    nb.metadata["paperlib"] = {"paper": paper.slug, "profile": profile, "source": str(paper.notebook.relative_to(
        repo_root())), "note": "a working copy made by `paperlib lab`; edit freely, the source is untouched"}
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)
    return path


def lab_command(path: Path, extra: list[str]) -> list[str]:
    """The JupyterLab command line that opens ``path`` (run from its folder)."""
    cmd = [sys.executable, "-m", "jupyterlab", path.name]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        cmd.append("--allow-root")  # JupyterLab refuses to start as root without it (containers, CI)
    return cmd + list(extra)


def launch(path: Path, extra: list[str]) -> int:
    """Replace this process with JupyterLab on ``path`` (runs interactively until the user stops it)."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        raise ReproError("JupyterLab is not installed: `pip install -e '.[lab]'` (scripts/setup.sh does it)") from None
    cmd = lab_command(path, extra)
    os.chdir(path.parent)
    os.execv(cmd[0], cmd)
    return 0  # not reached
