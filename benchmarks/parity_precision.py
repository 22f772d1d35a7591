"""Quality parity of mixed precision: FID[fashion-cnn] after the same generator steps in fp32 and in bf16.

For each case (architecture + loss), seed and precision the script trains one run with ``ganzoo train`` (a
subprocess, one at a time) and scores its final generator with ``ganzoo eval --run RUN --fid -e fashion-cnn``
(10,000 samples against the Fashion-MNIST test split). It then prints one row per case and precision: the FIDs
of the seeds, their mean, and the seed-to-seed spread (largest minus smallest FID of the same precision); the
verdict column says whether the bf16 mean lies within the fp32 seed-to-seed spread of the fp32 mean (and the
other way round), i.e. whether changing the precision moves FID by less than changing the seed does.

A run folder that already holds a finished run (``results.json`` with an FID) is reused, so an interrupted
parity run continues where it stopped; ``--out`` names the folder of the runs.

Usage::

    python benchmarks/parity_precision.py --out /tmp/parity                      # defaults: 1,000 steps, seeds 0 1
    python benchmarks/parity_precision.py --out /tmp/parity --set width=16 --precisions fp32 bf16 fp16
    python benchmarks/parity_precision.py --out /tmp/parity --cases dcgan:wgan-gp --seeds 0 1 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_CASES = ("dcgan:wgan-gp", "dcgan:non-saturating")
DEFAULT_PRECISIONS = ("fp32", "bf16")


def ganzoo_command() -> list[str]:
    """``ganzoo`` of this interpreter's environment."""
    return [sys.executable, "-m", "ganzoo"]


def run_folder(out: Path, arch: str, loss: str, seed: int, precision: str) -> Path:
    return out / f"{arch}-{loss}-seed{seed}-{precision}"


def read_fid(run: Path) -> float | None:
    """The newest FID[fashion-cnn] in a run folder's results.json (``ganzoo eval --run`` writes it), or None."""
    try:
        results = json.loads((run / "results.json").read_text())
    except (OSError, ValueError):
        return None
    found = [r for r in results if isinstance(r, dict) and r.get("metric") == "fid"
             and r.get("extractor") == "fashion-cnn" and isinstance(r.get("value"), (int, float))]
    return float(found[-1]["value"]) if found else None


def train_and_score(arch: str, loss: str, seed: int, precision: str, args: argparse.Namespace) -> dict[str, Any]:
    run = run_folder(Path(args.out), arch, loss, seed, precision)
    fid = read_fid(run)
    record: dict[str, Any] = {"arch": arch, "loss": loss, "seed": seed, "precision": precision, "run": str(run)}
    if fid is not None:
        return {**record, "fid": fid, "reused": True}
    sets = [item for s in args.set for item in ("--set", s)]
    train = [*ganzoo_command(), "train", arch, loss, "--steps", str(args.steps), "--seed", str(seed),
             "--device", args.device, "--out", str(run), "--no-register", "--quiet", *sets,
             "--precision", precision]
    resume = [*ganzoo_command(), "train", "--resume", str(run), "--quiet"]
    started = time.perf_counter()
    # a folder with a checkpoint but no results is an interrupted run: continue it
    command = resume if (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir()) else train
    _run(command)
    trained = time.perf_counter() - started
    _run([*ganzoo_command(), "eval", "--run", str(run), "--fid", "-e", "fashion-cnn", "--n", str(args.n),
          "--device", args.device])
    fid = read_fid(run)
    if fid is None:
        raise SystemExit(f"{run}: ganzoo eval wrote no FID into results.json")
    return {**record, "fid": fid, "reused": False, "train_s": trained}


def _run(command: Sequence[str]) -> None:
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed with exit status {done.returncode}: {' '.join(command)}")


def summarise(records: list[dict[str, Any]], cases: Sequence[tuple[str, str]],
              precisions: Sequence[str]) -> list[dict[str, Any]]:
    """One row per case and precision. ``within_spread``: the precision's mean FID differs from the baseline's
    (the first precision) by no more than the larger of the two seed-to-seed spreads; None when either has fewer
    than two seeds (no spread to compare with)."""
    rows = []
    for arch, loss in cases:
        of = {p: [r["fid"] for r in records if (r["arch"], r["loss"], r["precision"]) == (arch, loss, p)]
              for p in precisions}
        base = of[precisions[0]]
        if not base:
            continue
        base_mean, base_spread = statistics.mean(base), max(base) - min(base)
        for p in precisions:
            fids = of[p]
            if not fids:
                continue
            mean, spread = statistics.mean(fids), max(fids) - min(fids)
            within = (abs(mean - base_mean) <= max(base_spread, spread) if len(base) > 1 and len(fids) > 1
                      else None)
            rows.append({"case": f"{arch}+{loss}", "precision": p, "fids": fids, "mean": mean, "spread": spread,
                         "difference": mean - base_mean, "within_spread": within})
    return rows


def format_table(rows: list[dict[str, Any]], baseline: str) -> str:
    head = ["case", "precision", "FID per seed", "mean", "seed spread", f"mean - {baseline} mean", "within spread"]
    lines = [[r["case"], r["precision"], " / ".join(f"{f:.2f}" for f in r["fids"]), f"{r['mean']:.2f}",
              f"{r['spread']:.2f}", f"{r['difference']:+.2f}",
              {True: "yes", False: "NO", None: "- (one seed)"}[r["within_spread"]]] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]

    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([row(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(row, lines)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder of the run folders (reused when run again)")
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), metavar="ARCH:LOSS")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--precisions", nargs="+", default=list(DEFAULT_PRECISIONS),
                        help="the first is the baseline (default: fp32 bf16; on CUDA also fp16)")
    parser.add_argument("--steps", type=int, default=1000, help="generator steps of every run (default 1000)")
    parser.add_argument("--n", type=int, default=10000, help="generated samples per FID (default 10000)")
    parser.add_argument("--device", default="cpu", help="device of training and scoring (default cpu)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to every `ganzoo train`, e.g. width=16")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: the table of the runs in --out that are already scored")
    parser.add_argument("--json", action="store_true", help="print the records and rows as JSON")
    args = parser.parse_args(argv)
    cases = []
    for text in args.cases:
        arch, sep, loss = text.partition(":")
        if not sep:
            parser.error(f"a case is ARCH:LOSS, got {text!r}")
        cases.append((arch, loss))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    for arch, loss in cases:
        for seed in args.seeds:
            for precision in args.precisions:
                if args.report_only:
                    fid = read_fid(run_folder(Path(args.out), arch, loss, seed, precision))
                    if fid is None:
                        continue
                    record = {"arch": arch, "loss": loss, "seed": seed, "precision": precision, "fid": fid}
                else:
                    record = train_and_score(arch, loss, seed, precision, args)
                print(f"{arch}+{loss} seed {seed} {precision}: FID {record['fid']:.3f}", file=sys.stderr, flush=True)
                records.append(record)
    rows = summarise(records, cases, args.precisions)
    about = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "steps": args.steps, "sets": args.set,
             "wall_s": round(time.perf_counter() - started), "load_average_at_end": os.getloadavg()}
    if args.json:
        print(json.dumps({"about": about, "records": records, "rows": rows}, indent=1))
    else:
        print(f"# {args.steps} generator steps, seeds {' '.join(map(str, args.seeds))}, sets {args.set or '-'}, "
              f"FID[fashion-cnn] on {args.n} samples vs the test split, wall {about['wall_s']} s")
        print(format_table(rows, args.precisions[0]))
    return 0 if all(r["within_spread"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
