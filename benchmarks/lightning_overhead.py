"""Training throughput of paperlib's Lightning loop against a plain PyTorch loop (same model, data).

Target: Lightning costs at most 15% more wall time per epoch. Also prints the quick profile's wall
time from the committed results (or runs it with --run-quick).

    .venv/bin/python benchmarks/lightning_overhead.py [--epochs 3] [--n 10000] [--run-quick]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import torch

from paperlib.compsum import CompSumClassifier, comp_sum_loss
from paperlib.data.fashion_mnist import load_fashion_mnist
from paperlib.nn import MLP
from paperlib.training import TensorDataModule, batch_loader, make_trainer, seed_everything

ROOT = Path(__file__).resolve().parents[1]


def plain_loop(x, y, epochs, batch, lr):
    seed_everything(0)
    net = MLP(784, (256, 256), 10)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loader = batch_loader(x, y, batch_size=batch, shuffle=True, seed=0)
    t = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = comp_sum_loss(net(xb), yb, tau=1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - t


class LoopTimer(L.Callback):
    """Time of the training loop itself, from its first batch to its end (setup excluded)."""

    def on_train_start(self, trainer, module):
        self.t0 = time.perf_counter()

    def on_train_end(self, trainer, module):
        self.seconds = time.perf_counter() - self.t0


def lightning_loop(x, y, epochs, batch, lr):
    """Returns (whole fit() wall time, training-loop time)."""
    seed_everything(0)
    module = CompSumClassifier(MLP(784, (256, 256), 10), method="comp_sum", tau=1.0, lr=lr)
    timer = LoopTimer()
    trainer = make_trainer(max_epochs=epochs, callbacks=[timer])
    dm = TensorDataModule((x, y), batch_size=batch, seed=0)
    t = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    return time.perf_counter() - t, timer.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--run-quick", action="store_true", help="time `paperlib reproduce compsum` into a temp dir")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y = [t[: args.n] for t in load_fashion_mnist()["train"]]
    steps = args.epochs * -(-args.n // args.batch)
    print(f"MLP 784-256-256-10, {args.n} Fashion-MNIST images, batch {args.batch}, {args.epochs} epochs "
          f"({steps} steps), {args.threads} threads, best of {args.repeats}")
    plain = min(plain_loop(x, y, args.epochs, args.batch, 1e-3) for _ in range(args.repeats))
    runs = [lightning_loop(x, y, args.epochs, args.batch, 1e-3) for _ in range(args.repeats)]
    fit_s, loop_s = min(r[0] for r in runs), min(r[1] for r in runs)

    def line(name, sec):
        return f"{name:<28}: {sec:6.2f} s  ({steps / sec:5.0f} steps/s, {args.n * args.epochs / sec:6.0f} examples/s)"

    print(line("plain PyTorch loop", plain))
    print(line("Lightning training loop", loop_s))
    print(line("Lightning fit() incl. setup", fit_s))
    for what, sec in (("training loop", loop_s), ("whole fit()", fit_s)):
        overhead = sec / plain - 1
        print(f"Lightning overhead, {what:<13}: {100 * overhead:+.1f}%  "
              f"(target <= +15%: {'met' if overhead <= 0.15 else 'NOT met'})")
    if args.run_quick:
        import tempfile
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "paperlib", "reproduce", "compsum", "-q", "--out", out], check=True,
                           stdout=subprocess.DEVNULL)
            print(f"quick profile (compsum), measured now: {time.perf_counter() - t:.0f} s")
    committed = ROOT / "reproductions" / "compsum" / "results" / "quick" / "results.json"
    if committed.exists():
        m = json.loads(committed.read_text())["manifest"]
        print(f"quick profile (compsum), committed run: {m['wall_s']:.0f} s on {m['hardware']['cpu_count']} CPUs")


if __name__ == "__main__":
    main()
