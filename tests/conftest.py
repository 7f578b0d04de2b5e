import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """The real console entry point, as a user runs it."""
    env = dict(os.environ)
    env.pop("PAPERLIB_RUN_DIR", None)
    return subprocess.run([sys.executable, "-m", "paperlib", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def cli():
    return run_cli


_BAD_INPUTS: dict[str, tuple[str, ...]] = {}


def bad_input(name: str, *args: str) -> str:
    """Register a ``paperlib`` command that must fail on bad input (``{out}`` in ``args`` is its own empty
    output folder); a test reads its result from the ``bad_input_runs`` fixture under ``name``.

    Such a run is mostly a kernel's start and the notebook's imports, about 9 s of one core each, so the
    session starts every registered run together, three at a time, the first time a test asks for one.
    """
    if name in _BAD_INPUTS:
        raise ValueError(f"bad-input case {name!r} registered twice")
    _BAD_INPUTS[name] = args
    return name


@pytest.fixture(scope="session")
def bad_input_runs(tmp_path_factory):
    """{name: (CompletedProcess, the output folder it was given)} for every case :func:`bad_input` registered."""
    from concurrent.futures import ThreadPoolExecutor
    root = tmp_path_factory.mktemp("bad-input")

    def one(name):
        out = root / name
        out.mkdir()
        return name, (run_cli(*(a.replace("{out}", str(out)) for a in _BAD_INPUTS[name])), out)

    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(one, sorted(_BAD_INPUTS)))


@pytest.fixture
def one_torch_thread():
    """One torch thread for a test of tiny models: faster, and on a busy shared machine much faster."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _fresh_copy(dest: Path) -> Path:
    """The files a clone of this checkout would have, copied to ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="session")
def fresh_run(tmp_path_factory):
    """``paperlib reproduce all --profile smoke`` in a fresh copy with a temporary HOME (once per session:
    tests/test_papers_smoke.py checks every paper's run, tests/test_compsum_notebook.py reruns compsum against it)."""
    base = tmp_path_factory.mktemp("fresh")
    clone, home, out = _fresh_copy(base / "clone"), base / "home", base / "out"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLIB_")}
    env.update(HOME=str(home), PYTHONPATH=str(clone), XDG_CACHE_HOME=str(home / ".cache"))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "paperlib", "reproduce", "all", "--profile", "smoke",
                          "--out", str(out), "-q", "--jobs", "2"], cwd=clone, env=env, capture_output=True, text=True,
                         timeout=1500)
    print(f"fresh copy: all smoke profiles in {time.perf_counter() - t0:.0f} s (2 at a time)")
    return res, out
