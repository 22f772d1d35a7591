"""What a CPU-sized run learns on the 8-Gaussians ring (or the 25-grid, or the Swiss roll): modes captured and %
high-quality samples (exact W1 on the Swiss roll), per seed.

``--loss`` picks the losses (default wgan-gp) and ``--setting`` whether each trains with the data set's
recommendation for its loss family (``toy``, the default) or with its paper's settings (``paper``: the data set's
recommendations left out, the same number of generator steps); with both, a last table compares them per loss.

The settings are those of ``tests/test_learning.py``: ``mlp`` (3 hidden layers of 128 units) + ``wgan-gp`` on
``gaussians8`` with the data set's recommended settings (Adam lr 1e-3 decayed linearly to 0 over the run, batch
256, 2-D noise, 1,500 generator steps) and the loss's paper settings (n_critic 5, lambda 10, betas (0, 0.9)).
Every ``--every`` steps (and at the end) the generator is evaluated with docs/science.md's protocol: 2,500 samples
from fixed evaluation noise (seed 1234, the test's), a sample is high quality (HQ) within 3 standard deviations
of its nearest mode centre, a mode is captured if at least one HQ sample is nearest to it (the ``modes`` metric
plugin).

The loop calls ``Trainer.train_step`` as ``Trainer.run`` does; evaluation draws from its own ``torch.Generator``
and touches neither the trainer's RNG nor torch's global stream, so the figures at the last step are those of
the test's ``trainer.run()``. ``--dataset gaussians25`` measures the same on the 25-Gaussians grid (the same
settings: the toy sets share their recommendations), ``--dataset swissroll`` the exact W1 of the same 2,500
samples to as many real points on the Swiss roll, which has no modes. With ``--out DIR`` each seed's run
directory keeps the final sample scatter (``DIR/seed_N/samples/step_0001500.png``).

Usage::

    python benchmarks/toy_learning.py                          # seeds 0 1 2, Markdown table (1-4 min per seed)
    python benchmarks/toy_learning.py --seeds 0 --out runs/toy  # one seed, keep the scatter plot
    python benchmarks/toy_learning.py --seeds 0 --set lr_schedule=constant --steps 2000   # the constant-lr run
    python benchmarks/toy_learning.py --loss minimax non-saturating wgan wgan-gp wgan-lp --setting toy paper
    python benchmarks/toy_learning.py --dataset gaussians25 --loss wgan-gp wgan-lp --setting toy paper
    python benchmarks/toy_learning.py --dataset swissroll --loss wgan-gp wgan-lp --setting toy paper
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
#: The toy sets and how many modes each has (None: no modes; scored by exact W1 instead).
MODES: dict[str, int | None] = {"gaussians8": 8, "gaussians25": 25, "swissroll": None}
SETTINGS = ("toy", "paper")
#: tests/test_learning.py's narrower MLP (the paper's is 4 x 512), so that a run fits a CPU test.
ARCH_SETS: dict[str, Any] = {"arch.hidden": 128, "arch.layers": 3}
EVAL_SAMPLES = 2500
EVAL_SEED = 1234


def metric_name(dataset: str) -> str:
    """What scores a toy set: the ``modes`` metric where it has modes, else exact W1 (the ``w1`` metric)."""
    return "w1" if MODES[dataset] is None else "modes"


def describe_scores(scores: dict[str, float]) -> str:
    """``8 modes, 56.8 % HQ`` or ``W1 0.812``."""
    if "modes" in scores:
        return f"{scores['modes']:.0f} modes, {scores['hq_percent']:.1f} % HQ"
    return f"W1 {scores['w1']:.3f}"


def evaluate(trainer: Any, metric: Any) -> dict[str, float]:
    """``metric`` (:func:`metric_name`) on ``EVAL_SAMPLES`` generated points from fixed noise (as
    tests/test_learning.py)."""
    import torch

    noise = torch.Generator().manual_seed(EVAL_SEED)
    z = torch.randn(EVAL_SAMPLES, trainer.config.latent_dim, generator=noise).to(trainer.device)
    trainer.generator.eval()
    with torch.no_grad():
        fake = trainer.generator(z)
    trainer.generator.train()
    return metric.compute(fake, trainer.data, noise)


def run_seed(seed: int, args: argparse.Namespace, out: Path, loss: str = LOSS, setting: str = "toy"
             ) -> dict[str, Any]:
    """Train one seed of ``loss`` with ``setting`` (toy: the data set's recommendation for the loss's family; paper:
    the loss's paper settings), evaluating every ``args.every`` steps; returns the config summary and evaluations."""
    from ganzoo.api import make_trainer
    from ganzoo.plugin.loading import get_registry
    from ganzoo.train.resolve import resolve_config

    registry = get_registry()
    overrides: dict[str, Any] = {"seed": seed, "device": args.device}
    sets = {**ARCH_SETS, **args.set}
    if args.steps is not None:
        overrides["steps"] = args.steps
    elif setting == "paper":  # the same budget as the toy setting: the data set's recommended steps
        overrides["steps"] = resolve_config(registry, ARCH, loss, args.dataset, overrides, sets, recommended=True).steps
    config = resolve_config(registry, ARCH, loss, args.dataset, overrides, sets, recommended=setting == "toy")
    trainer = make_trainer(config, registry, out / f"{loss}-{setting}" / f"seed_{seed}", progress=False,
                           echo=lambda _: None)
    metric = registry.metric(metric_name(args.dataset)).factory()
    evaluations = []
    start = time.perf_counter()
    trainer.generator.train()
    trainer.critic.train()
    while trainer.step < config.steps:
        trainer.train_step()
        if trainer.step % args.every == 0 or trainer.step == config.steps:
            scores = evaluate(trainer, metric)
            evaluations.append({"step": trainer.step, "time_s": round(time.perf_counter() - start, 1), **scores})
            kl = f", reverse KL {scores['reverse_kl']:.3f}" if "reverse_kl" in scores else ""
            print(f"{loss} ({setting}) seed {seed} step {trainer.step}: {describe_scores(scores)}{kl}",
                  file=sys.stderr)
    scatter = trainer.save_samples()
    return {"loss": config.loss, "dataset": args.dataset, "setting": setting, "seed": seed, "steps": config.steps,
            "optimizer": config.optimizer, "betas": config.betas, "lr": config.lr, "lr_schedule": config.lr_schedule,
            "batch_size": config.batch_size, "latent_dim": config.latent_dim, "n_critic": config.n_critic,
            "loss_options": config.loss_options, "arch_options": config.arch_options, "scatter": str(scatter),
            "evaluations": evaluations}


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: one row per seed, modes (HQ %) or W1 at each evaluated step, then the final reverse KL (toy sets
    with modes)."""
    steps = sorted({e["step"] for r in results for e in r["evaluations"]})
    several = len({(r["loss"], r["setting"]) for r in results}) > 1
    with_modes = MODES[results[0]["dataset"]] is not None
    head = [*(["loss", "setting"] if several else []), "seed", *(f"step {s}" for s in steps),
            *(["reverse KL (last)"] if with_modes else []), "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in results:
        by_step = {e["step"]: e for e in r["evaluations"]}
        cells = [*([r["loss"], r["setting"]] if several else []), str(r["seed"])]
        for s in steps:
            e = by_step.get(s)
            cells.append("-" if e is None else describe_scores(e))
        last = r["evaluations"][-1]
        cells += [*([f"{last['reverse_kl']:.3f}"] if with_modes else []), f"{last['time_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe_setting(r: dict[str, Any]) -> str:
    """``Adam 0.001 (0, 0.9), linear, batch 256, latent 2, n_critic 5``."""
    betas = f" ({r['betas'][0]:g}, {r['betas'][1]:g})" if r["optimizer"] == "adam" and r["betas"] else ""
    name = {"adam": "Adam", "rmsprop": "RMSprop"}.get(r["optimizer"], r["optimizer"])
    return (f"{name} {r['lr']:g}{betas}, {r['lr_schedule']}, batch {r['batch_size']}, latent {r['latent_dim']}, "
            f"n_critic {r['n_critic']}")


def _mean_std(values: Sequence[float], digits: int = 1) -> str:
    import statistics

    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} +- {spread:.{digits}f}"


def comparison_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: per loss and setting, the settings and the last evaluation over seeds (mean +- standard deviation:
    modes / HQ % / reverse KL, or W1 on a toy set without modes), and whether the toy setting learns at least as
    well as the paper's (no fewer modes and no lower HQ on average; or no higher mean W1)."""
    import statistics

    mean = statistics.fmean
    modes = MODES[results[0]["dataset"]]
    scores = [f"modes (of {modes})", "HQ %", "reverse KL"] if modes is not None else ["W1"]
    head = ["loss", "setting", "settings", "seeds", *scores, "toy >= paper"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["loss"], r["setting"]), []).append(r)
    for (loss, setting), runs in groups.items():
        last = [r["evaluations"][-1] for r in runs]
        verdict = ""
        if setting == "toy" and (loss, "paper") in groups:
            paper = [r["evaluations"][-1] for r in groups[(loss, "paper")]]
            if modes is not None:
                ok = (mean(e["modes"] for e in last) >= mean(e["modes"] for e in paper)
                      and mean(e["hq_percent"] for e in last) >= mean(e["hq_percent"] for e in paper))
            else:
                ok = mean(e["w1"] for e in last) <= mean(e["w1"] for e in paper)
            verdict = "yes" if ok else "**no**"
        if modes is not None:
            cells = [_mean_std([e["modes"] for e in last]), _mean_std([e["hq_percent"] for e in last]),
                     f"{mean(e['reverse_kl'] for e in last):.2f}"]
        else:
            cells = [_mean_std([e["w1"] for e in last], digits=3)]
        lines.append("| " + " | ".join([loss, setting, describe_setting(runs[0]),
                                         " ".join(str(r["seed"]) for r in runs), *cells, verdict]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(MODES), default=DATASET,
                        help=f"the toy set (default {DATASET})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to train (default 0 1 2)")
    parser.add_argument("--loss", nargs="+", default=[LOSS], help=f"losses to train (default {LOSS})")
    parser.add_argument("--setting", nargs="+", choices=SETTINGS, default=["toy"],
                        help="toy: the data set's recommendation for the loss's family; paper: the loss's paper "
                             "settings, same steps (default toy)")
    parser.add_argument("--steps", type=int, default=None,
                        help="generator steps (default: the data set's recommendation, for both settings)")
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
        results = [run_seed(seed, args, out, loss, setting) for loss in args.loss for setting in args.setting
                   for seed in args.seeds]
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": args.threads, "results": results}, indent=1))
    else:
        first = results[0]
        print(f"# {time.strftime('%Y-%m-%d')}, torch {torch.__version__}, {args.threads} thread(s), device "
              f"{args.device}: {ARCH} {first['arch_options']} on {args.dataset}, {first['steps']} steps; "
              f"{EVAL_SAMPLES} samples, " + ("3-sigma rule" if MODES[args.dataset] is not None else "exact W1"))
        for r in {(r["loss"], r["setting"]): r for r in results}.values():
            print(f"# {r['loss']} ({r['setting']}): {describe_setting(r)}, options {r['loss_options']}")
        print(format_table(results))
        if len({(r["loss"], r["setting"]) for r in results}) > 1:
            print()
            print(comparison_table(results))
        if args.out:
            for r in results:
                print(f"seed {r['seed']} scatter: {r['scatter']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
