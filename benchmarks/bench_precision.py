"""Training speed by arithmetic: the plain fp32 reference loop against ganzoo in fp32, bf16 (and, where they exist,
bf16 + channels-last, fp16, torch.compile), side by side in one run.

For each case (architecture + loss) one measuring process per variant trains the same networks on the same data
(Fashion-MNIST train, batch 64, the papers' settings, as ``bench_training.py``); the variants take turns for
``--repeats`` rounds of one block of generator steps each, and the table gives each variant's median steps/s and
the median over rounds of its ratio to the reference's steps/s **of the same round** (brackets: the smallest and
largest round). The reference is ``reference_gan.py``'s plain PyTorch loop in float32 with DataLoader
``num_workers=0``.

Variants (``--variants`` picks; default: every one this device offers):

- ``ganzoo fp32``: ``--precision fp32`` (ganzoo's default, the papers' arithmetic)
- ``ganzoo bf16``: ``--precision bf16`` (autocast; losses and penalty float32)
- ``ganzoo bf16+cl``: bf16 and ``--channels-last`` (images only)
- ``ganzoo fp16``: ``--precision fp16`` with gradient scaling (CUDA only)
- ``ganzoo bf16+compile``: bf16 and ``--compile generator`` (or ``both`` for a loss without a gradient
  penalty); on CUDA by default, on a CPU only when asked for (compiling takes minutes there, in the untimed
  warm-up)

The first lines say whether this machine has fast bf16 (``ganzoo.runs.precision.fast_bf16``): on a CPU without
AMX or AVX-512 BF16 the bf16 rows show the slowdown instead.

Usage::

    python benchmarks/bench_precision.py                               # default cases and variants
    python benchmarks/bench_precision.py --cases dcgan:wgan-gp --repeats 5 --json
    python benchmarks/bench_precision.py --variants fp32 bf16 bf16+compile --cases dcgan:non-saturating
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
from bench_training import FLUSH_EVERY, parse_cases, steps_for
from training_cases import BATCH, DATASET

DEFAULT_CASES = ("dcgan:wgan-gp", "dcgan:non-saturating", "mlp:wgan")
VARIANTS = ("fp32", "bf16", "bf16+cl", "fp16", "bf16+compile")
REFERENCE = "reference"  # the plain loop, float32


def label(impl: str) -> str:
    return "reference fp32 (plain loop)" if impl == REFERENCE else f"ganzoo {impl}"


def offered(variant: str, device: str, arch: str, asked: bool) -> bool:
    """Whether ``variant`` runs here: fp16 on CUDA only, channels-last for image networks, compile on a CPU only
    when asked for by name."""
    if variant == "fp16" and not device.startswith("cuda"):
        return False
    if variant.endswith("+cl") and arch == "mlp":
        return False
    if variant.endswith("+compile") and not device.startswith("cuda"):
        return asked
    return True


def open_measurement(impl: str, arch: str, loss: str, args: argparse.Namespace) -> harness.LoopMeasurement:
    """One loop (the reference, or ganzoo in one variant) set up in this process."""
    harness.set_threads(args.threads)
    training_cases.load_plugins()
    device = args.device or harness.auto_device()
    data_root = Path(args.data_root) if args.data_root else None

    def prepare(tmp: Path) -> None:
        if impl == REFERENCE and data_root is None:
            reference_gan.prepare_data_root(tmp / "data", Path(args.fashion))

    def build(tmp: Path) -> harness.Step:
        if impl == REFERENCE:
            return training_cases.reference_loop(arch, loss, device, data_root or tmp / "data", 0)
        return training_cases.ganzoo_loop(arch, loss, device, tmp / "run",
                                          **training_cases.arithmetic_settings(impl, loss))

    about = {"impl": impl, "device": device, "threads": torch.get_num_threads()}
    return harness.LoopMeasurement(build, device=device, warmup=args.warmup, flush_every=FLUSH_EVERY,
                                   measure_workers=False, about=about, prepare=prepare)


def start_child(impl: str, arch: str, loss: str, args: argparse.Namespace, device: str, data_root: Path,
                log_dir: Path) -> harness.Child:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", impl, arch, loss, "--device", device,
           "--threads", str(args.threads), "--warmup", str(args.warmup), "--data-root", str(data_root),
           "--fashion", args.fashion]
    return harness.Child(f"{label(impl)} {arch}+{loss}", cmd, harness.thread_env(args.threads),
                         log_dir / f"{impl}-{arch}-{loss}.log")


def measure_case(arch: str, loss: str, impls: Sequence[str], args: argparse.Namespace, device: str,
                 data_root: Path) -> list[dict[str, Any]]:
    steps = steps_for(f"{arch}:{loss}", device, args.steps)

    def start(impl: str) -> Callable[[], harness.Child]:
        return lambda: start_child(impl, arch, loss, args, device, data_root, data_root)

    def progress(round_: int, impl: str, block: dict[str, Any]) -> None:
        print(f"round {round_ + 1}/{args.repeats} {arch}+{loss} {label(impl)}: {block['steps_per_s']:.3g} it/s",
              file=sys.stderr)

    turns = harness.measure_in_turns([(impl, start(impl)) for impl in impls], steps, args.repeats, progress)
    return [{"arch": arch, "loss": loss, "impl": impl, "round": round_, **block}
            for round_, impl, block in turns.blocks]


def summarise(blocks: list[dict[str, Any]], cases: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    rows = []
    for arch, loss in cases:
        mine = [b for b in blocks if (b["arch"], b["loss"]) == (arch, loss)]
        reference = {b["round"]: b for b in mine if b["impl"] == REFERENCE}
        impls = list(dict.fromkeys(b["impl"] for b in mine))
        for impl in impls:
            own = [b for b in mine if b["impl"] == impl]
            ratios = [b["steps_per_s"] / reference[b["round"]]["steps_per_s"] for b in own
                      if b["round"] in reference]
            rows.append({"case": f"{arch}+{loss}", "variant": label(impl), "steps": own[0]["steps"], "rounds": len(own),
                         "steps_per_s": statistics.median(b["steps_per_s"] for b in own),
                         "cpu_ms_per_step": statistics.median(1000 * b["cpu_s"] / b["steps"] for b in own),
                         "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                         "ratio_max": max(ratios), "ratios": ratios})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = ["case", "variant", "steps x rounds", "it/s", "CPU ms/step", "vs reference fp32 [min-max]"]
    lines = [[r["case"], r["variant"], f"{r['steps']} x {r['rounds']}", f"{r['steps_per_s']:#.3g}",
              f"{r['cpu_ms_per_step']:.0f}", f"{r['ratio_median']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]"]
             for r in rows]
    return harness.markdown_table(head, lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), metavar="ARCH:LOSS")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=None,
                        help="ganzoo variants (default: all this device offers; compile on a CPU only if named)")
    parser.add_argument("--steps", type=int, default=None, help="generator steps per block (default: per case, "
                                                                 "as bench_training.py)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per case (default 7)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed generator steps first (default 2)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every loop (default 1)")
    parser.add_argument("--fashion", default=str(reference_gan.SYSTEM_FASHION_MNIST),
                        help="folder with the four IDX .gz files")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--fail-below", type=float, default=None,
                        help="exit 1 if the bf16 median ratio of dcgan+wgan-gp is below this (e.g. 1.5)")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--data-root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        impl, arch, loss = args.serve  # "reference" or a variant
        harness.serve(open_measurement(impl, arch, loss, args))
        return 0
    cases = parse_cases(parser, args.cases)
    device = args.device or harness.auto_device()
    fast, why = training_cases.bf16_speed(device)
    info = harness.machine()
    info.update({"device": device, "threads": args.threads, "repeats": args.repeats, "warmup": args.warmup,
                 "batch": BATCH, "dataset": f"{DATASET} train (28x28)", "fast_bf16": fast, "fast_bf16_why": why,
                 "command": " ".join([Path(sys.executable).name, *sys.argv])})
    print(f"fast bf16 on {device}: {'yes' if fast else 'no' if fast is False else 'unknown'} ({why})",
          file=sys.stderr)
    blocks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-data-") as tmp:
        data_root = Path(tmp)
        reference_gan.prepare_data_root(data_root, Path(args.fashion))
        started = time.perf_counter()
        for arch, loss in cases:
            asked = args.variants or VARIANTS
            variants = [v for v in asked if offered(v, device, arch, asked=args.variants is not None)]
            impls = [REFERENCE, *variants]
            blocks += measure_case(arch, loss, impls, args, device, data_root)
        info["wall_s"] = time.perf_counter() - started
    info["load_average_at_end"] = os.getloadavg()
    rows = summarise(blocks, cases)
    if args.json:
        print(json.dumps({"machine": info, "summary": rows, "blocks": blocks}, indent=1))
    else:
        load = "/".join(f"{x:.1f}" for x in info["load_average_at_start"])
        print(f"# {info['date']}, {info['cpu']}, {info['cores']} cores (load average {load} at start), device "
              f"{device}, fast bf16: {'yes' if fast else 'no' if fast is False else 'unknown'} ({why}), torch "
              f"{info['torch']}, {args.threads} torch thread(s), batch {BATCH}, {args.repeats} interleaved rounds, "
              f"wall {info['wall_s']:.0f} s")
        print(format_table(rows))
    if args.fail_below is not None:
        target = [r for r in rows if r["case"] == "dcgan+wgan-gp" and r["variant"] == label("bf16")]
        if target and target[0]["ratio_median"] < args.fail_below:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
