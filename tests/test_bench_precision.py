"""benchmarks/bench_precision.py and parity_precision.py: which variants run where, the settings each variant trains
with, and the parity verdict (a precision agrees when its mean FID moves less than the seed-to-seed spread)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from bench_support import load_script


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    yield from load_script("bench_precision")


@pytest.fixture(scope="module")
def parity() -> Iterator[ModuleType]:
    yield from load_script("parity_precision")


def test_each_variant_trains_with_its_settings(bench):
    settings = bench.training_cases.arithmetic_settings
    assert settings("fp32", "wgan-gp") == {"precision": "fp32"}
    assert settings("bf16+cl", "wgan-gp") == {"precision": "bf16", "channels_last": True}
    # compile: only the generator when the loss's penalty needs the double backward, else both networks
    assert settings("bf16+compile", "wgan-gp") == {"precision": "bf16", "compile": "generator"}
    assert settings("bf16+compile", "non-saturating") == {"precision": "bf16", "compile": "both"}


def test_variants_run_where_they_exist(bench):
    assert not bench.offered("fp16", "cpu", "dcgan", asked=True)
    assert bench.offered("fp16", "cuda", "dcgan", asked=False)
    assert not bench.offered("bf16+cl", "cpu", "mlp", asked=True)  # no image tensors in an MLP
    assert not bench.offered("bf16+compile", "cpu", "dcgan", asked=False)  # minutes of compiling: only if named
    assert bench.offered("bf16+compile", "cpu", "dcgan", asked=True)
    assert bench.offered("bf16+compile", "cuda", "dcgan", asked=False)


def test_ratios_pair_each_block_with_the_reference_block_of_its_round(bench):
    blocks = [{"arch": "dcgan", "loss": "wgan-gp", "impl": impl, "round": r, "steps": 2, "steps_per_s": speed,
               "cpu_s": 2 / speed} for impl, r, speed in [("reference", 0, 1.0), ("reference", 1, 0.5),
                                                          ("bf16", 0, 1.8), ("bf16", 1, 0.8)]]
    rows = bench.summarise(blocks, [("dcgan", "wgan-gp")])
    bf16 = next(r for r in rows if r["variant"] == "ganzoo bf16")
    assert bf16["ratios"] == [1.8, 1.6] and bf16["ratio_median"] == pytest.approx(1.7)
    assert "| dcgan+wgan-gp | ganzoo bf16" in bench.format_table(rows)


def test_parity_compares_the_precision_with_the_seed_to_seed_spread(parity):
    def records(fp32, bf16):
        return ([{"arch": "dcgan", "loss": "wgan-gp", "precision": "fp32", "fid": f} for f in fp32]
                + [{"arch": "dcgan", "loss": "wgan-gp", "precision": "bf16", "fid": f} for f in bf16])

    case = [("dcgan", "wgan-gp")]
    agree = parity.summarise(records([100.0, 110.0], [104.0, 112.0]), case, ("fp32", "bf16"))
    assert [r["within_spread"] for r in agree] == [True, True]
    assert agree[1]["difference"] == pytest.approx(3.0) and agree[1]["spread"] == pytest.approx(8.0)
    apart = parity.summarise(records([100.0, 102.0], [130.0, 131.0]), case, ("fp32", "bf16"))
    assert apart[1]["within_spread"] is False and "NO" in parity.format_table(apart, "fp32")
    one_seed = parity.summarise(records([100.0, 102.0], [101.0]), case, ("fp32", "bf16"))
    assert one_seed[1]["within_spread"] is None  # no spread to compare with: no verdict


def test_parity_reads_the_fid_that_ganzoo_eval_wrote(parity, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert parity.read_fid(run) is None
    (run / "results.json").write_text('[{"metric": "is", "extractor": "fashion-cnn", "value": 5.0}, '
                                      '{"metric": "fid", "extractor": "fashion-cnn", "value": 41.5}]')
    assert parity.read_fid(run) == 41.5
