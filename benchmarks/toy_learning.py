"""What a CPU-sized run learns on the 8-Gaussians ring: modes captured and % high-quality samples, per seed.

The settings are those of ``tests/test_learning.py``: ``mlp`` (3 hidden layers of 128 units) + ``wgan-gp`` on
``gaussians8`` with the data set's recommended settings (Adam lr 1e-3 decayed linearly to 0 over the run, batch
256, 2-D noise, 1,500 generator steps) and the loss's paper settings (n_critic 5, lambda 10, betas (0, 0.9)).
Every ``--every`` steps (and at the end) the generator is evaluated with docs/science.md's protocol: 2,500 samples
from fixed evaluation noise (seed 1234, the test's), a sample is high quality (HQ) within 3 standard deviations
of its nearest mode centre, a mode is captured if at least one HQ sample is nearest to it (the ``modes`` metric
plugin).

The loop calls ``Trainer.train_step`` as ``Trainer.run`` does; evaluation draws from its own ``torch.Generator``
and touches neither the trainer's RNG nor torch's global stream, so the figures at the last step are those of
the test's ``trainer.run()``. With ``--out DIR`` each seed's run directory keeps the final sample scatter
(``DIR/seed_N/samples/step_0001500.png``).

Usage::

    python benchmarks/toy_learning.py                          # seeds 0 1 2, Markdown table (1-4 min per seed)
    python benchmarks/toy_learning.py --seeds 0 --out runs/toy  # one seed, keep the scatter plot
    python benchmarks/toy_learning.py --seeds 0 --set lr_schedule=constant --steps 2000   # the constant-lr run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ARCH, LOSS, DATASET = "mlp", "wgan-gp", "gaussians8"
#: tests/test_learning.py's narrower MLP (the paper's is 4 x 512), so that a run fits a CPU test.
ARCH_SETS: dict[str, Any] = {"arch.hidden": 128, "arch.layers": 3}
EVAL_SAMPLES = 2500
EVAL_SEED = 1234


def evaluate(trainer: Any, metric: Any) -> dict[str, float]:
    """The ``modes`` metric on ``EVAL_SAMPLES`` generated points from fixed noise (as tests/test_learning.py)."""
    import torch

    noise = torch.Generator().manual_seed(EVAL_SEED)
    z = torch.randn(EVAL_SAMPLES, trainer.config.latent_dim, generator=noise).to(trainer.device)
    trainer.generator.eval()
    with torch.no_grad():
        fake = trainer.generator(z)
    trainer.generator.train()
    return metric.compute(fake, trainer.data, noise)


def run_seed(seed: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Train one seed, evaluating every ``args.every`` steps; returns the config summary and the evaluations."""
    from ganzoo.api import make_config, make_trainer
    from ganzoo.plugin.loading import get_registry

    registry = get_registry()
    overrides: dict[str, Any] = {"seed": seed, "device": args.device}
    if args.steps is not None:
        overrides["steps"] = args.steps
    sets = {**ARCH_SETS, **args.set}
    config = make_config(ARCH, LOSS, DATASET, sets=sets, registry=registry, **overrides)
    trainer = make_trainer(config, registry, out / f"seed_{seed}", progress=False, echo=lambda _: None)
    metric = registry.metric("modes").factory()
    evaluations = []
    start = time.perf_counter()
    trainer.generator.train()
    trainer.critic.train()
    while trainer.step < config.steps:
        trainer.train_step()
        if trainer.step % args.every == 0 or trainer.step == config.steps:
            scores = evaluate(trainer, metric)
            evaluations.append({"step": trainer.step, "time_s": round(time.perf_counter() - start, 1), **scores})
            print(f"seed {seed} step {trainer.step}: {scores['modes']:.0f} modes, HQ {scores['hq_percent']:.1f} %, "
                  f"reverse KL {scores['reverse_kl']:.3f}", file=sys.stderr)
    scatter = trainer.save_samples()
    return {"seed": seed, "steps": config.steps, "lr": config.lr, "lr_schedule": config.lr_schedule,
            "batch_size": config.batch_size, "latent_dim": config.latent_dim, "n_critic": config.n_critic,
            "loss_options": config.loss_options, "arch_options": config.arch_options, "scatter": str(scatter),
            "evaluations": evaluations}


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: one row per seed, modes (HQ %) at each evaluated step, then the final reverse KL."""
    steps = sorted({e["step"] for r in results for e in r["evaluations"]})
    head = ["seed", *(f"step {s}" for s in steps), "reverse KL (last)", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in results:
        by_step = {e["step"]: e for e in r["evaluations"]}
        cells = [str(r["seed"])]
        for s in steps:
            e = by_step.get(s)
            cells.append("-" if e is None else f"{e['modes']:.0f} modes, {e['hq_percent']:.1f} % HQ")
        last = r["evaluations"][-1]
        cells += [f"{last['reverse_kl']:.3f}", f"{last['time_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to train (default 0 1 2)")
    parser.add_argument("--steps", type=int, default=None, help="generator steps (default: gaussians8's 1500)")
    parser.add_argument("--every", type=int, default=250, help="evaluate every N generator steps (default 250)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra setting, as `ganzoo train --set` (e.g. lr_schedule=constant)")
    parser.add_argument("--device", default="cpu", help="training device (default cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--out", default=None, help="keep each seed's run directory (scatter plot) under DIR")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error("--every must be >= 1")
    from ganzoo.errors import ConfigError
    from ganzoo.runs.config import parse_sets

    try:
        args.set = parse_sets(args.set)  # `ganzoo train --set`'s rules
    except ConfigError as exc:
        parser.error(str(exc))

    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="ganzoo-toy-") as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        results = [run_seed(seed, args, out) for seed in args.seeds]
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": args.threads, "results": results}, indent=1))
    else:
        first = results[0]
        print(f"# {time.strftime('%Y-%m-%d')}, torch {torch.__version__}, {args.threads} thread(s), device "
              f"{args.device}: {ARCH} {first['arch_options']} + {LOSS} {first['loss_options']} on {DATASET}, "
              f"lr {first['lr']:g} ({first['lr_schedule']}), batch {first['batch_size']}, latent "
              f"{first['latent_dim']}, n_critic {first['n_critic']}, {first['steps']} steps; "
              f"{EVAL_SAMPLES} samples, 3-sigma rule")
        print(format_table(results))
        if args.out:
            for r in results:
                print(f"seed {r['seed']} scatter: {r['scatter']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
