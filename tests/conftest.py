import os
import subprocess
import sys
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


@pytest.fixture
def one_torch_thread():
    """One torch thread for a test of tiny models: faster, and on a busy shared machine much faster."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
