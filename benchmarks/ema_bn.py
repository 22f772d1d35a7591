"""The averaged generator's recomputed batch-norm statistics (``ema_bn=recompute``): what a recompute costs, and how
many forward passes a stable estimate needs.

Loads a run's newest checkpoint (its averaged generator: trained with ``--set ema=DECAY``), recomputes the
statistics with ``ganzoo.train.averaging.recompute_statistics`` for each number of passes in ``--batches`` (at the
run's batch size, on the CPU, one torch thread), times three recomputes (wall clock and CPU time; on a shared
machine trust the CPU time), and with ``--fid`` scores each with FID[fashion-cnn] (or ``--metric``) on ``--n``
samples for ganzoo's fixed noise seed and for seed 1: the difference between the two is the estimate's own noise.

Usage::

    python benchmarks/ema_bn.py RUN                                  # cost for 25, 50, 100, 200 passes
    python benchmarks/ema_bn.py RUN --batches 10,25,50,100 --fid     # + FID for two noise seeds each
"""

from __future__ import annotations

import argparse
import time

import torch

from ganzoo.eval.engine import evaluate
from ganzoo.eval.subjects import subject_from_run
from ganzoo.runs.folder import read_run
from ganzoo.train.averaging import STANDING_SEED, recompute_statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder trained with --set ema=DECAY")
    parser.add_argument("--batches", default="25,50,100,200", help="forward passes to try, comma-separated")
    parser.add_argument("--fid", action="store_true", help="also score each recompute (two noise seeds)")
    parser.add_argument("--metric", default="fid")
    parser.add_argument("--n", type=int, default=10_000, help="samples per score")
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch_size = read_run(args.run)[0].batch_size
    for batches in (int(b) for b in args.batches.split(",")):
        subject = subject_from_run(args.run)
        assert subject.weights == "ema", f"{args.run} keeps no averaged generator (train with --set ema=DECAY)"
        wall, cpu = [], []
        for _ in range(3):
            started, started_cpu = time.perf_counter(), time.process_time()
            recompute_statistics(subject.generator, batch_size, subject.latent_dim, batches=batches, device="cpu")
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        line = (f"{batches:4d} passes of {batch_size}: wall {min(wall) * 1e3:.0f} ms, CPU {min(cpu) * 1e3:.0f} ms "
                "(best of 3, one thread)")
        if args.fid:
            scores = []
            for seed in (STANDING_SEED, 1):
                subject = subject_from_run(args.run)
                recompute_statistics(subject.generator, batch_size, subject.latent_dim, batches=batches, seed=seed,
                                     device="cpu")
                [result] = evaluate(subject, [args.metric], n=args.n, seed=0).results
                scores.append(f"seed {seed}: {result['value']:.1f}")
            line += "; " + args.metric + " " + ", ".join(scores)
        print(line, flush=True)


if __name__ == "__main__":
    main()
