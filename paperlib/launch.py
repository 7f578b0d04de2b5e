"""Script entry point for multi-process training: ``python -m paperlib.launch sft ...``.

Inside a notebook only one device, or Lightning's ``ddp_notebook``, can be used. Several processes (several GPUs
on one node, or several nodes) need a script that every process runs from the top: Lightning's ``ddp`` strategy
then either starts the other local processes itself (``python -m paperlib.launch ... --devices 2``) or joins the
processes that ``torchrun`` / ``srun`` started (it reads their ``LOCAL_RANK`` / ``SLURM_PROCID`` environment)::

    python -m paperlib.launch sft --accelerator cpu --devices 2 --strategy ddp --out runs/sft-ddp
    torchrun --nproc-per-node 4 -m paperlib.launch sft --accelerator gpu --devices 4 --precision bf16-mixed --out ...
    srun --ntasks-per-node 4 --gpus-per-node 4 python -m paperlib.launch sft --accelerator gpu --devices 4 --out ...

``sft`` is the supervised next-token loop that PRIME's SFT and A-LoL's reference policies train with
(:class:`paperlib.training.NextTokenModule` over :class:`paperlib.training.TensorDataModule`) on worked
chain-sum solutions. ``--batch-size`` is the *global* batch: each of the W processes takes ``batch / W`` rows of its
own shard, so the number of optimiser steps and the examples per step do not depend on the device count.

Rank 0 writes ``OUT/result.json`` (world size, per-device batch, optimiser steps, the loss per step, wall time); every
rank writes ``OUT/rank-<r>.json`` with a checksum of its weights after training (DDP keeps them equal).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _sft(a: argparse.Namespace) -> None:
    from .data import arithmetic
    from .nn.gpt import GPT, GPTConfig
    from .rl.sft import encode_solutions
    from .training import NextTokenModule, TensorDataModule, make_trainer, seed_everything

    seed_everything(a.seed)
    problems = arithmetic.sample_problems(a.examples, a.seed, 2, a.max_terms, 2, width=3)
    tokens, loss_mask = encode_solutions(problems, block_size=10**9)  # the model's block size follows the data
    T = tokens.shape[1]
    model = GPT(GPTConfig(vocab_size=arithmetic.VOCAB_SIZE, block_size=max(64, T), n_layer=a.n_layer, n_head=2,
                          n_embd=a.n_embd))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    module = NextTokenModule(model, a.lr, pad_id=arithmetic.PAD)
    data = TensorDataModule((tokens, loss_mask), batch_size=a.batch_size, seed=a.seed)
    trainer = make_trainer({"accelerator": a.accelerator, "devices": a.devices, "strategy": a.strategy,
                            "precision": a.precision}, max_epochs=a.epochs, use_distributed_sampler=False)
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=data)
    wall = time.perf_counter() - t0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float() for k, v in module.model.state_dict().items()}
    checksum = float(sum(v.double().sum() for v in state.values()))
    moved = float(sum((state[k] - before[k].float()).abs().sum() for k in state))
    rank = trainer.global_rank
    (out / f"rank-{rank}.json").write_text(json.dumps({"rank": rank, "checksum": checksum, "weights_moved": moved,
                                                        "losses": module.losses}))
    trainer.strategy.barrier()  # every rank's file is written before rank 0 reports (and its process ends)
    if rank == 0:
        (out / "result.json").write_text(json.dumps({
            "loop": "sft", "world_size": trainer.world_size, "global_batch": a.batch_size,
            "per_device_batch": data._per_device(a.batch_size), "optimizer_steps": trainer.global_step,
            "examples": a.examples, "epochs": a.epochs, "losses": module.losses, "wall_s": wall,
            "strategy": a.strategy, "accelerator": a.accelerator, "precision": a.precision}, indent=1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m paperlib.launch", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="loop", required=True)
    p = sub.add_parser("sft", help="next-token SFT of a small GPT on worked chain sums (PRIME's SFT, A-LoL's reference)")
    p.add_argument("--accelerator", default="cpu", help="cpu | gpu | auto")
    p.add_argument("--devices", type=int, default=1, help="processes (devices) on this node")
    p.add_argument("--strategy", default="auto", help="auto | ddp (several devices) | ...")
    p.add_argument("--precision", default="32-true", help="32-true | bf16-mixed")
    p.add_argument("--batch-size", type=int, default=32, help="global batch (split evenly over the devices)")
    p.add_argument("--examples", type=int, default=256)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-terms", type=int, default=4)
    p.add_argument("--n-layer", type=int, default=1)
    p.add_argument("--n-embd", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for result.json and rank-<r>.json")
    a = ap.parse_args(argv)
    if a.batch_size % a.devices:
        ap.error(f"--batch-size {a.batch_size} must be divisible by --devices {a.devices} (it is the global batch)")
    {"sft": _sft}[a.loop](a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
