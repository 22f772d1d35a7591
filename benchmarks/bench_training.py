"""Training speed: ganzoo's Trainer against a plain PyTorch reference loop, same everything else.

For each case (architecture + loss) the script trains with the same config, data set (Fashion-MNIST train,
28x28), batch size (64), device, torch thread count, generator/critic modules and optimizers:

- ``ganzoo``: ``api.make_trainer(config, registry, run_dir).train_step()``, the method ``Trainer.run()`` calls once per
  generator step (data held as one uint8 tensor on the device, critic frozen during the generator step). What
  ``run()`` adds around it (sample grids and checkpoints every K steps) is file output a user's loop would
  also pay for, and is left out of both loops; its per-10-steps log flush (one host sync) is in both.
- ``reference``: Algorithm 1 of the WGAN / WGAN-GP papers (or the GAN paper's k = 1 loop) written directly, the
  way a user writes it: ``torchvision.datasets.FashionMNIST`` + ``Compose([ToTensor(), Normalize((0.5,),
  (0.5,))])`` + ``DataLoader(batch_size=64, shuffle=True, drop_last=True, num_workers=N)``, iterated and
  re-created at each epoch end, measured once per N in ``--workers`` (default 0 and 2); the loss written inline;
  the critic is not frozen during the generator step.
  The generator and critic come from the same ganzoo architecture plugin with the same options (including the
  batch-norm -> layer-norm switch ganzoo makes for wgan-gp), seeded identically, so the networks are the same.

Each loop runs in its own subprocess (``--serve``), one per loop and case, so peak memory is per loop. The
processes are set up one after the other, then take turns: in each of ``--repeats`` rounds every loop runs one
block of ``--steps`` generator steps while the others wait idle (blocked reading their stdin), and who goes first
rotates from round to round. The machine is shared: absolute speeds drift with other people's work, but two
blocks run seconds apart see about the same load, so their ratio drifts much less.

How to read the output (one row per case and reference ``num_workers``):

- ``ganzoo it/s`` / ``ref it/s``: median over the rounds of generator steps per second, wall clock (one
  generator step = its ``n_critic`` critic steps + one generator update), after ``--warmup`` untimed steps.
- ``ratio``: median over the rounds of (ganzoo it/s / reference it/s) of the SAME round, with the smallest and
  largest round in brackets. > 1 means ganzoo is faster. Only ratios are comparable between runs or machines.
- ``CPU ms/step``, ``CPU ratio``: CPU time (user + system) per generator step of the measuring process and its
  children (the DataLoader workers), median over rounds, and the median of (reference / ganzoo) per round. Other
  people's processes barely change CPU time, so it is the steadier figure on a busy machine; wall time is what
  a user waits for (DataLoader workers can overlap with training when a core is idle).
- ``setup s``: seconds from "imports done" to "ready to train" (data read + networks + optimizers), not timed in
  the steps/s. The reference's one-time gunzip of the IDX files (what torchvision's download does once) is not
  included; it is printed once as ``prepared reference data``. DataLoader workers start on the first batch,
  i.e. in the warm-up, not in ``setup s``.
- ``peak RSS MiB``: ``getrusage(RUSAGE_SELF).ru_maxrss`` of the measuring process after all its blocks. Both
  import the same modules (torch, torchvision, ganzoo and its plugins) before setup; ``(imports)`` is the peak
  RSS right after those imports, so peak minus ``(imports)`` is what the training itself added. ``ref workers
  PSS`` (only with ``--workers`` > 0) is the DataLoader worker processes' summed proportional set size after the
  last block (forked workers share most pages with the parent; PSS counts shared pages once overall).
  On CUDA ``cuda MiB`` is ``torch.cuda.max_memory_allocated``.
- ``check:`` lines (stderr; skip with ``--no-check``): before timing, the reference's inline losses are shown to
  give the same values and critic gradients as ganzoo's loss plugins on the same networks and batches, so both
  loops train the same thing.

Usage::

    python benchmarks/bench_training.py                      # default cases, CPU/GPU auto, Markdown table
    python benchmarks/bench_training.py --repeats 9 --json   # more rounds, machine-readable
    python benchmarks/bench_training.py --cases dcgan:wgan --steps 10 --workers 0
    python benchmarks/bench_training.py --one reference mlp wgan --steps 50 --profile   # one block, profiled

This script composes three modules beside it: ``harness.py`` (measuring processes taking turns, timing, CPU time,
memory, the table), ``reference_gan.py`` (the reference loop and its inline losses, plain PyTorch) and
``training_cases.py`` (a case as ganzoo resolves it: config, networks, ganzoo's loop, the loss check; the only one
that imports ganzoo).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import harness
import reference_gan
import torch
import training_cases
from training_cases import BATCH, DATASET, IMPLS

DEFAULT_CASES = ("dcgan:wgan-gp", "dcgan:non-saturating", "mlp:wgan")
#: num_workers of the reference DataLoader: 0 is DataLoader's default; 2 is what PyTorch's DCGAN tutorial uses.
#: Which is faster depends on the machine's idle cores (on a shared 2-core machine, either can win).
DEFAULT_WORKERS = (0, 2)
#: Timed generator steps per block when --steps is not given: about 3-4 s per block of the slower loop on one
#: idle core of the 2-core development machine, so the default run (3 cases x 3 loops x 9 rounds, plus ~10 s of
#: imports, setup and warm-up per process) takes about 6-7 minutes when the machine is otherwise idle. Short
#: blocks and many rounds: the load other people put on a shared machine changes within seconds.
CPU_STEPS = {"dcgan:wgan-gp": 2, "dcgan:non-saturating": 10, "dcgan:minimax": 10, "dcgan:wgan": 8,
             "dcgan:wgan-lp": 2, "mlp:wgan": 8, "mlp:wgan-gp": 5, "mlp:non-saturating": 30,
             "mlp:minimax": 30, "mlp:wgan-lp": 5}
GPU_STEPS = 50
FLUSH_EVERY = 10  # both loops bring their losses to the host every 10 steps, as ganzoo's run() does


def default_threads() -> int:
    """One intra-op thread: on a shared 2-core machine two OpenMP threads contend with other work (a 512x512
    matmul measured up to 9x slower with 2 threads than with 1 under load), and one core stays free for a
    DataLoader worker of the reference loop."""
    return 1


def parse_case(text: str) -> tuple[str, str]:
    arch, sep, loss = text.partition(":")
    if not sep or not arch or not loss:
        raise argparse.ArgumentTypeError(f"a case is ARCH:LOSS, e.g. dcgan:wgan-gp, got {text!r}")
    if loss not in reference_gan.PAPER:
        raise argparse.ArgumentTypeError(f"the reference loop knows losses {', '.join(reference_gan.PAPER)}, "
                                         f"got {loss!r}")
    return arch, loss


def parse_cases(parser: argparse.ArgumentParser, texts: Sequence[str]) -> list[tuple[str, str]]:
    """Every ``--cases`` entry as (arch, loss); a bad one ends the script with the parser's usage error."""
    try:
        return [parse_case(text) for text in texts]
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))


def steps_for(case: str, device: str, steps: int | None) -> int:
    if steps is not None:
        return steps
    if device.startswith("cuda"):
        return GPU_STEPS
    return CPU_STEPS.get(case, 20)


# --- one measuring process ------------------------------------------------------------------------------------


def open_measurement(impl: str, arch: str, loss: str, args: argparse.Namespace) -> harness.LoopMeasurement:
    """One loop (ganzoo or the reference) set up in this process, ready to be timed in blocks.

    Whichever loop it runs, the process has imported the same modules (this script's imports: torch,
    torchvision, ganzoo and its plugins) and built ganzoo's plugin registry before the setup clock starts, so
    setup time and the memory baseline do not depend on the loop.
    """
    harness.set_threads(args.threads)
    training_cases.load_plugins()
    device = args.device or harness.auto_device()
    workers = args.workers[0] if impl == "reference" else None
    given_root = Path(args.data_root) if args.data_root else None

    def data_root(tmp: Path) -> Path:
        return given_root or tmp / "data"

    def prepare(tmp: Path) -> None:
        if impl == "reference" and given_root is None:  # --one: no driver has prepared the data
            reference_gan.prepare_data_root(data_root(tmp), Path(args.fashion))

    def build(tmp: Path) -> harness.Step:
        if impl == "ganzoo":
            return training_cases.ganzoo_loop(arch, loss, device, tmp / "run")
        return training_cases.reference_loop(arch, loss, device, data_root(tmp), workers or 0)

    about = {"impl": impl, "workers": workers, "device": device, "threads": torch.get_num_threads()}
    return harness.LoopMeasurement(build, device=device, warmup=args.warmup, flush_every=FLUSH_EVERY,
                                   measure_workers=bool(workers), about=about, prepare=prepare)


def measure_one(impl: str, arch: str, loss: str, args: argparse.Namespace) -> dict[str, Any]:
    """Set up, time one block of steps, report: a single measurement in this process (e.g. with --profile)."""
    measurement = open_measurement(impl, arch, loss, args)
    steps = steps_for(f"{arch}:{loss}", measurement.device, args.steps)
    return {"arch": arch, "loss": loss, **measurement.ready(), **measurement.block(steps, args.profile),
            **measurement.finish()}


# --- the driver -----------------------------------------------------------------------------------------------


def variants(workers: Sequence[int]) -> list[tuple[str, int | None]]:
    """What is measured per case and round: ganzoo, then the reference once per DataLoader worker count."""
    return [("ganzoo", None)] + [("reference", w) for w in workers]


def label(impl: str, workers: int | None) -> str:
    return impl if workers is None else f"{impl} (num_workers={workers})"


def start_child(impl: str, workers: int | None, arch: str, loss: str, args: argparse.Namespace, device: str,
                data_root: Path, log_dir: Path) -> harness.Child:
    """A measuring process of this script (``--serve``) for one loop of one case."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", impl, arch, loss, "--device", device,
           "--threads", str(args.threads), "--workers", str(workers or 0), "--warmup", str(args.warmup),
           "--data-root", str(data_root), "--fashion", args.fashion]
    return harness.Child(f"{label(impl, workers)} {arch}+{loss}", cmd, harness.thread_env(args.threads),
                         log_dir / f"{impl}-{workers}-{arch}-{loss}.log")


def measure_case(arch: str, loss: str, args: argparse.Namespace, device: str, data_root: Path,
                 log_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All variants of one case: (per-process records, per-block records).

    The processes are set up one after the other (each child's first line says it is ready, so setups do not
    overlap), then take turns: in each round every variant runs one block while the others wait idle on stdin.
    """
    steps = steps_for(f"{arch}:{loss}", device, args.steps)

    def start(impl: str, workers: int | None) -> Callable[[], harness.Child]:
        return lambda: start_child(impl, workers, arch, loss, args, device, data_root, log_dir)

    def progress(round_: int, key: tuple[str, int | None], block: dict[str, Any]) -> None:
        print(f"round {round_ + 1}/{args.repeats} {arch}+{loss} {label(*key)}: "
              f"{block['steps_per_s']:.3g} it/s, {1000 * block['cpu_s'] / steps:.0f} CPU ms/step", file=sys.stderr)

    keys = variants(args.workers)
    turns = harness.measure_in_turns([(key, start(*key)) for key in keys], steps, args.repeats, progress)
    processes = [{"arch": arch, "loss": loss, **ready, **finished}
                 for ready, finished in zip(turns.ready, turns.finished, strict=True)]
    blocks = [{"arch": arch, "loss": loss, "impl": impl, "workers": workers, "round": round_, **block}
              for round_, (impl, workers), block in turns.blocks]
    return processes, blocks


def select(records: list[dict[str, Any]], arch: str, loss: str, impl: str,
           workers: int | None) -> list[dict[str, Any]]:
    return [r for r in records if (r["arch"], r["loss"], r["impl"], r["workers"]) == (arch, loss, impl, workers)]


def summarise(processes: list[dict[str, Any]], blocks: list[dict[str, Any]], cases: Sequence[tuple[str, str]],
              workers: Sequence[int]) -> list[dict[str, Any]]:
    """One row per case and reference worker count; ratios pair ganzoo's and the reference's block of a round."""
    med = harness.median_present
    rows = []
    for arch, loss in cases:
        ours = select(blocks, arch, loss, "ganzoo", None)
        our_process = select(processes, arch, loss, "ganzoo", None)[0]
        ours_by_round = {b["round"]: b for b in ours}
        for w in workers:
            theirs = select(blocks, arch, loss, "reference", w)
            their_process = select(processes, arch, loss, "reference", w)[0]
            pairs = [(ours_by_round[b["round"]], b) for b in theirs if b["round"] in ours_by_round]
            ratios = [g["steps_per_s"] / r["steps_per_s"] for g, r in pairs]
            cpu_ratios = [(r["cpu_s"] / r["steps"]) / (g["cpu_s"] / g["steps"]) for g, r in pairs]
            rows.append({
                "case": f"{arch}+{loss}", "arch": arch, "loss": loss, "reference_workers": w,
                "steps": ours[0]["steps"], "rounds": len(pairs),
                "ganzoo_steps_per_s": med([b["steps_per_s"] for b in ours]),
                "reference_steps_per_s": med([b["steps_per_s"] for b in theirs]),
                "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                "ratios": ratios,
                "ganzoo_cpu_ms_per_step": med([1000 * b["cpu_s"] / b["steps"] for b in ours]),
                "reference_cpu_ms_per_step": med([1000 * b["cpu_s"] / b["steps"] for b in theirs]),
                "cpu_ratio_median": statistics.median(cpu_ratios), "cpu_ratios": cpu_ratios,
                "ganzoo_setup_s": our_process["setup_s"], "reference_setup_s": their_process["setup_s"],
                "baseline_rss_mib": med([our_process["baseline_rss_mib"], their_process["baseline_rss_mib"]]),
                "ganzoo_peak_rss_mib": our_process["peak_rss_mib"],
                "reference_peak_rss_mib": their_process["peak_rss_mib"],
                "reference_workers_pss_mib": their_process["workers_pss_mib"],
                "ganzoo_cuda_peak_mib": our_process["cuda_peak_mib"],
                "reference_cuda_peak_mib": their_process["cuda_peak_mib"],
            })
    return rows


def format_table(rows: list[dict[str, Any]], cuda: bool) -> str:
    """A Markdown table, one row per case and reference worker count."""
    head = ["case", "ref workers", "steps x rounds", "ganzoo it/s", "ref it/s", "ratio [min-max]",
            "CPU ms/step g / ref", "CPU ratio", "setup s g / ref", "peak RSS MiB g / ref", "(imports)",
            "ref workers PSS MiB"]
    if cuda:
        head.append("cuda MiB g / ref")
    lines = []
    for r in rows:
        line = [r["case"], str(r["reference_workers"]), f"{r['steps']} x {r['rounds']}",
                f"{r['ganzoo_steps_per_s']:#.3g}", f"{r['reference_steps_per_s']:#.3g}",
                f"{r['ratio_median']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]",
                f"{r['ganzoo_cpu_ms_per_step']:.0f} / {r['reference_cpu_ms_per_step']:.0f}",
                f"{r['cpu_ratio_median']:.2f}",
                f"{r['ganzoo_setup_s']:.2f} / {r['reference_setup_s']:.2f}",
                f"{r['ganzoo_peak_rss_mib']:.0f} / {r['reference_peak_rss_mib']:.0f}",
                f"{r['baseline_rss_mib']:.0f}",
                "-" if r["reference_workers_pss_mib"] is None else f"{r['reference_workers_pss_mib']:.0f}"]
        if cuda:
            line.append(f"{r['ganzoo_cuda_peak_mib']:.0f} / {r['reference_cuda_peak_mib']:.0f}")
        lines.append(line)
    return harness.markdown_table(head, lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), metavar="ARCH:LOSS",
                        help=f"cases to compare (default: {' '.join(DEFAULT_CASES)})")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"timed generator steps per block (default: per case on CPU, e.g. "
                             f"{CPU_STEPS['dcgan:wgan-gp']} for dcgan:wgan-gp; {GPU_STEPS} on CUDA)")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds (blocks per loop) per case "
                                                                "(default 9)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed generator steps first (default 2)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="torch.set_num_threads in both loops (default 1, see default_threads)")
    parser.add_argument("--workers", type=int, nargs="+", default=list(DEFAULT_WORKERS), metavar="N",
                        help="the reference DataLoader's num_workers; several values measure the reference once "
                             "per value (default: 0 2, DataLoader's default and PyTorch's DCGAN tutorial's)")
    parser.add_argument("--fashion", default=str(reference_gan.SYSTEM_FASHION_MNIST),
                        help="folder with the four IDX .gz files")
    parser.add_argument("--no-check", action="store_true", help="skip the reference-vs-plugin loss check")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--fail-below", type=float, default=None,
                        help="exit 1 if any median ratio is below this (e.g. 1.0)")
    parser.add_argument("--one", nargs=3, metavar=("IMPL", "ARCH", "LOSS"),
                        help="one measurement in this process (ganzoo|reference ARCH LOSS), one JSON line")
    parser.add_argument("--profile", action="store_true", help="with --one: torch.profiler table on stderr")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--data-root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--steps and --repeats must be >= 1, --warmup >= 0")

    single = args.one or args.serve
    if single:
        impl, arch, loss = single
        if impl not in IMPLS:
            parser.error(f"IMPL must be one of {', '.join(IMPLS)}")
        parse_case(f"{arch}:{loss}")
        if args.serve:
            harness.serve(open_measurement(impl, arch, loss, args))
        else:
            print(json.dumps(measure_one(impl, arch, loss, args)))
        return 0

    cases = parse_cases(parser, args.cases)
    device = args.device or harness.auto_device()
    info = harness.machine()
    info.update({"device": device, "threads": args.threads, "workers": args.workers, "repeats": args.repeats,
                 "warmup": args.warmup, "batch": BATCH, "dataset": f"{DATASET} train (28x28)",
                 "command": " ".join([Path(sys.executable).name, *sys.argv])})
    checks = [] if args.no_check else training_cases.check_losses(cases, device)
    for line in checks:
        print(f"check: {line}", file=sys.stderr)
    processes: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-data-") as tmp:
        data_root = Path(tmp)
        info["reference_data_prep_s"] = reference_gan.prepare_data_root(data_root, Path(args.fashion))
        print(f"prepared reference data (gunzip into {data_root}/FashionMNIST/raw): "
              f"{info['reference_data_prep_s']:.2f} s", file=sys.stderr)
        started = time.perf_counter()
        for arch, loss in cases:
            case_processes, case_blocks = measure_case(arch, loss, args, device, data_root, data_root)
            processes += case_processes
            blocks += case_blocks
        info["wall_s"] = time.perf_counter() - started
    info["load_average_at_end"] = os.getloadavg()
    rows = summarise(processes, blocks, cases, args.workers)
    if args.json:
        print(json.dumps({"machine": info, "checks": checks, "summary": rows, "processes": processes,
                          "blocks": blocks}, indent=1))
    else:
        load = "/".join(f"{x:.1f}" for x in info["load_average_at_start"])
        print(f"# {info['date']}, {info['cpu']}, {info['cores']} cores (load average {load} at start), device "
              f"{device}, torch {info['torch']}, torchvision {info['torchvision']}, {args.threads} torch "
              f"thread(s), batch {BATCH}, {args.repeats} interleaved rounds, {args.warmup} warm-up steps, "
              f"wall {info['wall_s']:.0f} s")
        print(format_table(rows, device.startswith("cuda")))
    if args.fail_below is not None and any(r["ratio_median"] < args.fail_below for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
