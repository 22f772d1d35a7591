"""Data-parallel speed: generator steps/s and samples/s of one run trained by 1 and by N processes, side by side.

Each configuration is one torchrun launch (``torch.distributed.run --standalone``) of this script in worker mode:
every rank builds the run as ``ganzoo train`` does (``api.make_config`` + ``api.join_processes`` +
``api.make_trainer``, so DDP-wrapped networks and gloo/NCCL exactly as in training), makes ``--warmup`` untimed
generator steps, then ``--repeats`` timed blocks of ``--steps`` generator steps (``Trainer.train_step``, each
with its n_critic critic steps), with a barrier and a host sync around each block. Rank 0 prints the median.

Two ways to add processes, both shown:

- ``strong``: the global batch stays ``--batch-size`` (the paper's m; what ``ganzoo train --nproc N`` does with the
  paper defaults): N processes split it, so each has less work and communication weighs more.
- ``weak``: each process keeps ``--batch-size`` samples, so the global batch grows N-fold (a different
  hyper-parameter: say so when you use it). samples/s is the figure to compare.

How to read it: ``steps/s`` is generator steps per second (wall clock, each with its n_critic critic steps);
``samples/s`` is real samples the critic trains on per second (steps/s x global batch x n_critic); ``x 1 process``
is the ratio of both to the first row of the same scaling (1 process with every thread). The configurations run
one after the other; on a shared machine repeat the script and trust ratios more than absolute numbers.

On CPU (gloo) the script compares 1 process with T threads against N processes with T / N threads each (the same
cores), plus 1 process with T / N threads: on a 2-core machine expect little from 2 processes. On CUDA it compares
1 GPU with N GPUs (NCCL), one process per GPU; the same command works unchanged.

Usage::

    python benchmarks/bench_ddp.py                          # dcgan + wgan-gp on digits 28x28, 1 vs 2 processes
    python benchmarks/bench_ddp.py --nproc 4 --arch mlp --loss wgan-gp --dataset gaussians8 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import auto_device, machine, markdown_table, thread_env  # noqa: E402


def worker(args: argparse.Namespace) -> None:
    """One rank of one configuration (run by torchrun)."""
    import torch.distributed as dist

    from ganzoo import api
    from ganzoo.plugin.loading import get_registry

    torch.set_num_threads(args.threads)
    registry = get_registry()
    config = api.make_config(args.arch, args.loss, args.dataset, sets=args.set, batch_size=args.global_batch,
                             device=args.device, steps=10**6, register=False)
    ranks = api.join_processes(config)
    trainer = api.make_trainer(config, registry, Path(os.devnull), progress=False, ranks=ranks)

    def sync() -> None:
        if trainer.device.type == "cuda":
            torch.cuda.synchronize(trainer.device)
        ranks.barrier()

    for _ in range(args.warmup):
        trainer.train_step()
    rates = []
    for _ in range(args.repeats):
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            values = trainer.train_step()
        values.cpu()
        sync()
        rates.append(args.steps / (time.perf_counter() - start))
    if ranks.is_main:
        print("RESULT " + json.dumps({"steps_per_s": statistics.median(rates), "n_critic": config.n_critic,
                                      "device": str(trainer.device), "backend": ranks.backend}), flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


def launch(args: argparse.Namespace, nproc: int, threads: int, global_batch: int) -> dict:
    """One configuration: ``nproc`` ranks of this script under torch.distributed.run; rank 0's result."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
               __file__, "--worker", "--threads", str(threads), "--global-batch", str(global_batch),
               "--arch", args.arch, "--loss", args.loss, "--dataset", args.dataset, "--device", args.device,
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
               *(w for item in args.set for w in ("--set", item))]
    done = subprocess.run(command, capture_output=True, text=True, env=thread_env(threads))
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"configuration nproc={nproc} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--global-batch", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help="torch threads in all (CPU) [default: cores]")
    parser.add_argument("--nproc", type=int, default=0, help="processes to compare with 1 [default: GPUs, or 2]")
    parser.add_argument("--arch", default="dcgan")
    parser.add_argument("--loss", default="wgan-gp")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--set", action="append", default=[], help="key=value, as ganzoo train --set")
    parser.add_argument("--batch-size", type=int, default=64, help="the paper's m [default: 64]")
    parser.add_argument("--device", default=auto_device())
    parser.add_argument("--steps", type=int, default=5, help="generator steps per timed block")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scaling", choices=("strong", "weak", "both"), default="both")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    cuda = args.device.startswith("cuda")
    nproc = args.nproc or (torch.cuda.device_count() if cuda else 2)
    threads = args.threads or os.cpu_count() or 1
    # (processes, threads per process): on CPU the same cores in all, and 1 process on one process's share
    configs = [(1, 1), (nproc, 1)] if cuda else \
        list(dict.fromkeys([(1, threads), (1, max(1, threads // nproc)), (nproc, max(1, threads // nproc))]))
    rows, figures = [], []
    for scaling in (("strong", "weak") if args.scaling == "both" else (args.scaling,)):
        base = None
        for processes, per_process in configs:
            global_batch = args.batch_size * (processes if scaling == "weak" else 1)
            result = launch(args, processes, per_process, global_batch)
            samples = result["steps_per_s"] * global_batch * result["n_critic"]
            if processes == 1 and per_process == configs[0][1]:
                base = result["steps_per_s"], samples
            figures.append({"scaling": scaling, "processes": processes, "threads_per_process": per_process,
                            "global_batch": global_batch, "per_process_batch": global_batch // processes,
                            "samples_per_s": samples, **result})
            ratio = f"{result['steps_per_s'] / base[0]:.2f} / {samples / base[1]:.2f}" if base else "-"
            rows.append([scaling, str(processes), str(per_process), f"{global_batch} = {processes} x "
                         f"{global_batch // processes}", f"{result['steps_per_s']:.2f}", f"{samples:.0f}", ratio,
                         result["backend"] or "-"])
    print(f"{args.arch} + {args.loss} on {args.dataset} ({' '.join(args.set) or 'default options'}), "
          f"{args.device}, torch {torch.__version__}; median of {args.repeats} blocks of {args.steps} steps")
    print(markdown_table(["scaling", "processes", "threads each", "global batch", "steps/s", "samples/s",
                          "x 1 process (steps / samples)", "backend"], rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
                                         "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
