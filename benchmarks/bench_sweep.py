"""Sweep throughput: trials per hour of the local executor with 1 and 2 workers, and the per-trial overhead of the
ray executor against the local one, measured side by side in one run.

The same small sweep runs each way (``mlp`` + ``non-saturating`` on ``gaussians8``, one trial per seed, ``--steps``
generator steps, scored with ``w1``), each time in a fresh sweep folder and a fresh model store, so every trial is
trained, evaluated and registered: what ``ganzoo sweep`` does end to end, worker start-up included. The ways take
turns (``harness.take_turns``) for ``--rounds`` rounds; the table shows each one's median.

- ``local x1`` / ``local x2``: ``--executor local --workers 1`` / ``2``.
- ``ray x2``: ``--executor ray`` on a local Ray cluster of 2 CPUs started once before the measurements (its start-up
  is reported on its own, not charged to the trials), 1 CPU per trial.

Per-trial overhead of ray = (wall of ``ray x2`` - wall of ``local x2``) x 2 / trials: the extra seconds each trial
costs on Ray at the same parallelism. On a shared machine absolute speeds drift: compare the rows of one run.

Usage::

    python benchmarks/bench_sweep.py                       # 6 trials of 200 steps, 1 round, table
    python benchmarks/bench_sweep.py --trials 4 --steps 100 --rounds 2 --json
    python benchmarks/bench_sweep.py --no-ray              # the local executor only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness


def sweep_values(trials: int, steps: int) -> dict[str, Any]:
    return {"name": "bench", "loss": "ns", "arch": "mlp", "dataset": "gaussians8", "seeds": [*range(trials)],
            "steps": steps, "metrics": ["w1"], "set": {"hidden": 64, "layers": 3, "batch_size": 64}}


def run_once(way: str, values: dict[str, Any], eval_n: int) -> float:
    """Wall seconds of the whole sweep run ``way`` in a fresh folder and store."""
    from ganzoo.store import ModelStore
    from ganzoo.sweep import run_sweep

    executor, options = {"local x1": ("local", {"workers": 1}), "local x2": ("local", {"workers": 2}),
                         "ray x2": ("ray", {"cpus_per_trial": 1})}[way]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as work:
        store = ModelStore(Path(work) / "home", notify=lambda _: None)
        with harness.timed() as timing:
            result = run_sweep(values, executor=executor, executor_options=options, out=Path(work) / "sweep",
                               eval_n=eval_n, store=store, echo=lambda _: None, progress=False)
        failed = [o for o in result.outcomes if o.status != "finished"]
        if failed:
            raise SystemExit(f"{way}: {len(failed)} trials did not finish: {failed[0].error}")
    return timing.time_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--eval-n", type=int, default=500)
    parser.add_argument("--no-ray", action="store_true", help="measure the local executor only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ["GANZOO_LOAD_PLUGINS"] = ""  # built-ins only: what is measured is ganzoo's own
    values = sweep_values(args.trials, args.steps)
    ways = ["local x1", "local x2"]
    ray_start_s = None
    if not args.no_ray:
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray_start_s = time.perf_counter() - started
        ways.append("ray x2")
    walls: dict[str, list[float]] = {way: [] for way in ways}
    try:
        for _, way in harness.take_turns(ways, args.rounds):
            walls[way].append(run_once(way, values, args.eval_n))
            print(f"{way}: {walls[way][-1]:.1f} s", file=sys.stderr)
    finally:
        if ray_start_s is not None:
            import ray

            ray.shutdown()
    wall = {way: statistics.median(times) for way, times in walls.items()}
    rows, report = [], {"machine": harness.machine(), "trials": args.trials, "steps": args.steps,
                        "rounds": args.rounds, "ray_cluster_start_s": ray_start_s, "ways": {}}
    for way in ways:
        per_hour = args.trials / wall[way] * 3600
        entry = {"wall_s": wall[way], "trials_per_hour": per_hour, "seconds_per_trial": wall[way] / args.trials,
                 "speedup_vs_local_x1": wall["local x1"] / wall[way]}
        if way == "ray x2":
            entry["ray_overhead_per_trial_s"] = (wall[way] - wall["local x2"]) * 2 / args.trials
        report["ways"][way] = entry
        rows.append([way, f"{wall[way]:.1f}", f"{per_hour:.0f}", f"{entry['seconds_per_trial']:.2f}",
                     f"{entry['speedup_vs_local_x1']:.2f}x",
                     f"{entry['ray_overhead_per_trial_s']:+.2f}" if "ray_overhead_per_trial_s" in entry else "-"])
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"sweep of {args.trials} trials x {args.steps} steps (mlp + non-saturating on gaussians8, w1 on "
          f"{args.eval_n} samples), median of {args.rounds} round(s)")
    print(harness.markdown_table(["executor", "wall s", "trials/hour", "s/trial", "vs local x1",
                                  "ray overhead s/trial"], rows))
    if ray_start_s is not None:
        print(f"Ray cluster start-up (once, not in the rows): {ray_start_s:.1f} s")


if __name__ == "__main__":
    main()
