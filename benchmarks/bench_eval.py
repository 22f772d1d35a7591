"""Evaluation speed: classifier FID + IS + KID of 10,000 generated vs 10,000 real 28x28 images on the CPU.

What is timed is exactly what ``ganzoo eval MODEL --n 10000`` runs (``ganzoo.eval.engine.evaluate``) for a
``dcgan`` generator (default width 64, random weights: a trained one costs the same) of Fashion-MNIST images,
against the Fashion-MNIST test split (10,000 images) in the ``fashion-cnn`` feature space:

1. ``cold``: an empty feature cache (a fresh GANZOO_HOME): generates 10,000 images, pushes them AND the 10,000
   real images through the classifier, computes FID, IS (10 splits) and KID (100 subsets of 1,000).
2. ``cached``: the same evaluation again: the real features come from the on-disk cache. The script shows that
   the classifier saw only the 10,000 generated images (its image counter) and that the cache reported a hit.

Printed per run: wall time of the whole evaluation (loading the reference data set, generating, features,
scores), generated images per second, images through the classifier, and (timed on its own) how long generation
takes. Speeds on a shared machine are noisy: compare the cold/cached ratio measured in one run, not absolute
seconds. The timing (``timed``) and the thread setting come from ``harness.py``, shared with the training benchmark.

Usage::

    python benchmarks/bench_eval.py                 # 10,000 vs 10,000, 2 threads, table
    python benchmarks/bench_eval.py --n 2000 --threads 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

import harness


def run(n: int, label: str) -> dict[str, Any]:
    import ganzoo_plugins.extractors as extractors
    import torch

    from ganzoo.eval import engine as evaluate
    from ganzoo.plugin.loading import get_registry

    registry = get_registry()
    data = evaluate.reference_data(registry, "fashion-mnist", {}, "test")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        generator, _ = registry.arch("dcgan").factory(tuple(data.shape), 100)
    subject = evaluate.Subject(generator.eval(), 100, tuple(data.shape), "images", "fashion-mnist", {},
                               "random dcgan")
    counter = extractors.fidelity_classifier_class()
    seen = counter.images_seen
    with harness.timed() as generation:
        evaluate.generate(subject.generator, 100, n, seed=0)  # timed alone for the breakdown; the engine does it again
    with harness.timed() as evaluation_time:
        evaluation = evaluate.evaluate(subject, ["fid", "is", "kid"], n=n, registry=registry)
    generate_s, total = generation.time_s, evaluation_time.time_s
    return {"run": label, "n": n, "seconds": round(total, 2), "generated_per_s": round(n / total, 1),
            "generate_s": round(generate_s, 2), "classifier_images": counter.images_seen - seen,
            "cache_hit": evaluation.results[0].get("feature_cache_hit"),
            "values": {r["label"]: round(r["value"], 4) for r in evaluation.results}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="generated images (and real: at most 10,000)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    import torch

    harness.set_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-eval-") as home:
        os.environ["GANZOO_HOME"] = home  # an empty feature cache for the cold run
        with harness.timed() as imports:
            import ganzoo_plugins.extractors as extractors
            import torch_fidelity  # noqa: F401 - imported once up front so neither run pays for it
        imports_s = imports.time_s
        rows = [run(args.n, "cold"), run(args.n, "cached")]
        cache_files = sorted(p.name for p in extractors.feature_cache_dir().iterdir())
    report = {"threads": args.threads, "torch": torch.__version__, "imports_s": round(imports_s, 2), "runs": rows,
              "cache_files": cache_files,
              "real_features_recomputed_in_cached_run": rows[1]["classifier_images"] != args.n}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"classifier FID + IS + KID, {args.n} generated vs {min(args.n, 10_000)} real Fashion-MNIST test images, "
          f"extractor fashion-cnn, {args.threads} CPU thread(s), torch {torch.__version__}")
    print(f"{'run':<8}{'wall s':>9}{'gen img/s':>11}{'classifier imgs':>17}{'cache hit':>11}   (generation alone "
          "timed on its own)")
    for r in rows:
        print(f"{r['run']:<8}{r['seconds']:>9.2f}{r['generated_per_s']:>11.0f}{r['classifier_images']:>17}"
              f"{str(r['cache_hit']):>11}   generate {r['generate_s']:.2f} s")
    cold, cached = rows
    print(f"cached / cold wall time: {cached['seconds'] / cold['seconds']:.2f}; the cached run pushed "
          f"{cached['classifier_images']} images through the classifier (the {args.n} generated ones only): real "
          f"features {'RECOMPUTED' if report['real_features_recomputed_in_cached_run'] else 'read from the cache'}")
    print("values (cold run): " + ", ".join(f"{k} {v}" for k, v in cold["values"].items()))
    if cold["values"] != cached["values"]:
        print("WARNING: the cached run gave different values", file=sys.stderr)


if __name__ == "__main__":
    main()
