"""Multi-process training through the script entry point: a two-process CPU ddp fit (gloo) of the SFT loop
(paperlib.launch), with the global batch fixed across device counts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fit(out: Path, devices: int, strategy: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MASTER_PORT": str(29500 + os.getpid() % 1000 + devices)}
    cmd = [sys.executable, "-m", "paperlib.launch", "sft", "--accelerator", "cpu", "--devices", str(devices),
           "--strategy", strategy, "--batch-size", "32", "--examples", "256", "--out", str(out)]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "result.json").read_text())


@pytest.mark.slow
def test_two_process_ddp_fit_keeps_the_global_batch_and_the_ranks_in_step(tmp_path):
    one = _fit(tmp_path / "one", 1, "auto")
    two = _fit(tmp_path / "two", 2, "ddp")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    # the global batch is fixed: each of 2 processes takes half, and the run takes the same number of steps
    assert (one["per_device_batch"], two["per_device_batch"]) == (32, 16)
    assert one["optimizer_steps"] == two["optimizer_steps"] == 256 // 32
    ranks = [json.loads((tmp_path / "two" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    # DDP averaged the gradients: both processes hold the same weights after training, and they moved
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-6)
    assert ranks[0]["weights_moved"] > 1.0
    # each rank saw its own half of each global batch (different losses), and the loss fell
    assert ranks[0]["losses"] != ranks[1]["losses"]
    ddp_loss = np.mean([r["losses"] for r in ranks], axis=0)
    assert ddp_loss[-1] < ddp_loss[0] - 0.1
    # same global batches in size and count: the two loss curves agree closely (data order differs)
    assert np.max(np.abs(ddp_loss - np.array(one["losses"]))) < 0.05


def test_a_global_batch_that_does_not_split_over_the_devices_is_refused(tmp_path):
    res = subprocess.run([sys.executable, "-m", "paperlib.launch", "sft", "--devices", "3", "--batch-size", "32",
                          "--out", str(tmp_path)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "must be divisible by --devices 3" in res.stderr
