"""`ganzoo compare` on real models (tests/compare_support.py): the numbers against the stored results, the report
folder, the JSON schema, the pictures, the command line and its errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from compare_support import LOSSES, REFS, SEEDS, as_sweep
from PIL import Image
from typer.testing import CliRunner

from ganzoo.cli import app, main
from ganzoo.compare import figures, stats
from ganzoo.compare.inputs import load_sources
from ganzoo.compare.make import compare_to_folder, default_out, make_comparison
from ganzoo.compare.report import JSON_FILE, REPORT_FILE, number, write_report
from ganzoo.compare.table import SCHEMA, compare
from ganzoo.errors import GanzooError
from ganzoo.plugin.loading import get_registry

runner = CliRunner()


@pytest.fixture
def models(compare_models):
    return compare_models


@pytest.fixture
def store(models, monkeypatch):
    monkeypatch.setenv("GANZOO_HOME", str(models[0].home))
    return models[0]


def stored_w1(store, ref: str) -> float:
    return [r["value"] for r in store.get(ref).metrics if r["metric"] == "w1"][-1]


def test_models_compare_on_their_stored_w1(store):
    comparison = make_comparison(REFS, store=store)
    assert comparison.dataset == "gaussians8" and comparison.metric.key == "w1"
    assert comparison.metric.higher_is_better is False and comparison.metric.direction_source == "metric plugin 'w1'"
    assert comparison.metric.reference == "gaussians8"
    (table,) = comparison.tables
    assert table.arch == "mlp" and {r.loss for r in table.rows} == set(LOSSES)
    for row in table.rows:
        expected = [stored_w1(store, f"{row.loss}-s{seed}:1") for seed in SEEDS]
        assert row.summary == stats.summarize(expected)
        assert row.best.value == min(expected) and row.median.value == max(expected)  # n = 2: the worse middle
        assert row.steps == (20, 20) and row.failed == 0 and row.wall_time_s > 0
    means = [r.summary.mean for r in table.rows]
    assert means == sorted(means) and [r.rank for r in table.rows] == [1, 2]
    (pair,) = table.pairs
    first, second = ([t.value for t in row.finished] for row in table.rows)
    assert pair.welch == stats.welch(first, second)


def test_report_folder_holds_the_numbers_and_the_pictures(store, tmp_path):
    comparison, files = compare_to_folder(REFS, tmp_path / "out", store=store)
    assert set(files) == {"report", "json", "distribution", "curves", "samples"}
    for key in ("distribution", "curves", "samples"):
        with Image.open(files[key]) as image:
            assert image.format == "PNG" and image.width > 300
    report = files["report"].read_text(encoding="utf-8")
    assert files["report"].name == REPORT_FILE
    for name in ("distribution.png", "curves.png", "samples.png"):
        assert f"]({name})" in report
    for row in comparison.tables[0].rows:
        s = row.summary
        assert f"| {row.rank} | {row.loss} | 2 | {number(s.mean)} | {number(s.std)} | " \
               f"[{number(s.ci_low)}, {number(s.ci_high)}] |" in report
    for ref in REFS:
        assert f"| {ref} | mlp |" in report and number(stored_w1(store, ref)) in report
    assert "Welch" in report and "Holm" in report and "lower is better" in report


def test_json_schema(store, tmp_path):
    comparison, files = compare_to_folder(REFS, tmp_path / "out", store=store)
    data = json.loads(files["json"].read_text(encoding="utf-8"))
    assert files["json"].name == JSON_FILE
    assert data["schema"] == SCHEMA and data["sources"] == REFS and data["dataset"] == "gaussians8"
    assert data["metric"] == {"key": "w1", "label": "w1", "higher_is_better": False,
                              "direction_source": "metric plugin 'w1'", "reference": "gaussians8"}
    assert data["confidence"] == 0.95 and data["alpha"] == 0.05
    assert data["figures"] == {"distribution": "distribution.png", "curves": "curves.png", "samples": "samples.png"}
    (table,) = data["tables"]
    assert set(table) == {"arch", "rows", "pairs"}
    row = table["rows"][0]
    assert set(row) == {"arch", "loss", "rank", "trials", "finished", "failed", "unfinished", "n", "mean", "std", "ci",
                        "t_critical", "best", "median", "steps", "mean_wall_time_s", "not_different_from"}
    assert row["rank"] == 1 and row["n"] == 2 and len(row["ci"]) == 2
    assert row["t_critical"] == pytest.approx(12.7062047, rel=1e-6)
    assert set(row["best"]) == {"trial_id", "value", "model_ref", "seed"}
    assert set(table["pairs"][0]) == {"a", "b", "difference", "t", "dof", "p", "p_holm", "different"}
    assert {t["model_ref"] for t in data["trials"]} == set(REFS)
    assert all(t["status"] == "finished" and t["value"] is not None for t in data["trials"])


def test_a_sweep_with_a_failed_trial(models, tmp_path):
    store, runs = models
    trials = as_sweep(store, runs)
    comparison = compare(trials, registry=get_registry(), store=store, sources=["toy-sweep"])
    rows = {r.loss: r for r in comparison.tables[0].rows}
    assert rows[LOSSES[0]].failed == 1 and rows[LOSSES[0]].summary.n == 2 and rows[LOSSES[1]].failed == 0
    files = write_report(comparison, tmp_path / "sweep", store)
    report = files["report"].read_text(encoding="utf-8")
    assert "diverged at step 7 (critic loss nan)" in report and "| failed | - | 7 |" in report
    data = json.loads(files["json"].read_text(encoding="utf-8"))
    assert [t["status"] for t in data["trials"]].count("failed") == 1


def test_curves_come_from_every_trials_log(models):
    store, runs = models
    comparison = compare(as_sweep(store, runs), registry=get_registry(), store=store)
    fig = figures.curves(comparison, store)
    w_ax, metric_ax = fig.axes[:2]
    # wgan-gp estimates W (2 seeds + the failed trial, whose run folder is the first seed's: dotted); non-saturating
    # does not; every trial measured w1 at steps 0, 10, 20
    assert len(w_ax.get_lines()) == 3
    assert [line.get_linestyle() for line in w_ax.get_lines()] == ["-", "-", ":"]
    assert len(metric_ax.get_lines()) == len(REFS) + 1
    assert all(list(line.get_xdata()) == [0.0, 10.0, 20.0] for line in metric_ax.get_lines())


def test_store_only_models_read_their_stored_log(store):
    from ganzoo.compare.logs import training_log

    outcomes, sources = load_sources(REFS[:1], store)
    assert sources[0].kind == "model" and outcomes[0].run_dir is None
    records = training_log(outcomes[0], store)
    assert [r["step"] for r in records if "eval/w1" in r] == [0, 10, 20]


def test_sample_grids_use_the_best_model_of_each_loss_and_the_same_noise(store):
    from ganzoo.store.loading import load_generator

    comparison = make_comparison(REFS, store=store)
    loaded = []

    def load(ref, **kwargs):
        loaded.append(ref)
        return load_generator(ref, **kwargs)

    fig = figures.sample_grids(comparison, store, load=load)
    assert loaded == [row.best.outcome.model_ref for row in comparison.tables[0].rows]
    drawn = [ax.collections[-1].get_offsets() for ax in fig.axes[:2]]
    for ref, points in zip(loaded, drawn, strict=True):
        expected = load_generator(ref, store=store).sample(figures.GRID_POINTS, seed=figures.SAMPLE_SEED).numpy()
        assert np.allclose(np.asarray(points), expected)


# --- the command --------------------------------------------------------------------------------------------------


def test_command_writes_the_report_and_prints_the_tables(store, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["compare", *REFS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "## mlp on gaussians8: w1, lower is better" in result.output
    assert f"report: {out / REPORT_FILE}" in result.output
    assert (out / REPORT_FILE).is_file() and (out / "samples.png").is_file()


def test_command_json(store, tmp_path):
    result = runner.invoke(app, ["compare", *REFS, "--out", str(tmp_path / "j"), "--json", "--metric", "w1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema"] == SCHEMA and data == json.loads((tmp_path / "j" / JSON_FILE).read_text())


def test_default_out_is_named_after_the_arguments():
    assert str(default_out(["wgan-gp-s0:1", "runs/sweeps/toy"])) == "comparisons/wgan-gp-s0_1+toy"


def fails(capsys, monkeypatch, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["ganzoo", *args])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    return capsys.readouterr().err


def test_command_errors(store, capsys, monkeypatch, tmp_path):
    err = fails(capsys, monkeypatch, "compare", "wgan-gp-s3", "--out", str(tmp_path / "x"))
    assert "'wgan-gp-s3' is neither a sweep nor a model" in err and "wgan-gp-s0" in err and "Traceback" not in err
    err = fails(capsys, monkeypatch, "compare", *REFS, "--metric", "fid", "--out", str(tmp_path / "x"))
    assert "metric 'fid' is missing for 4 of 4 finished trials" in err and "w1" in err
    assert not (tmp_path / "x").exists()


def test_unknown_sweep_or_model_in_python(store):
    with pytest.raises(GanzooError, match="neither a sweep nor a model") as info:
        load_sources(["non-saturatin-s0"], store)
    assert "non-saturating-s0" in info.value.hint
    with pytest.raises(GanzooError, match="nothing to compare"):
        load_sources([], store)


def test_a_model_named_twice_counts_once(store):
    outcomes, _ = load_sources([REFS[0], REFS[0], REFS[1]], store)
    assert [o.model_ref for o in outcomes] == REFS[:2]


def test_docs_and_readme_describe_the_command():
    root = Path(__file__).resolve().parents[1]
    sweeps = (root / "docs" / "sweeps.md").read_text(encoding="utf-8")
    for option in ("--metric", "--out", "--json", "--dataset", "comparison.json", "distribution.png", "curves.png",
                   "samples.png", "ganzoo-comparison/1"):
        assert option in sweeps, option
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "--out sweeps/readme && .venv/bin/ganzoo compare sweeps/readme" in readme
    assert str(default_out(["sweeps/readme"])) + "/report.md" in readme
