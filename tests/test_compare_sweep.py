"""`ganzoo compare SWEEP_ID` on a real sweep (ganzoo.sweep.run_sweep: state, store labels, outcomes) with one loss
that diverges: its trials are counted as failed, the other loss is compared over its seeds; the sampling page's
Compare tab lists the sweep and compares it by id.

The trials run in this process, through the tests' `serial` executor plugin (tests/plugin_support.py; the executor
is not what is tested here, tests/test_sweep_local.py runs the local one), so that the sweep costs two 20-step
trainings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganzoo.cli import app
from ganzoo.compare.report import JSON_FILE, REPORT_FILE
from ganzoo.store import ModelStore


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, serial_registry):
    from ganzoo.sweep import run_sweep

    root = tmp_path_factory.mktemp("compare-sweep")
    store = ModelStore(root / "home")
    values = {"name": "cmp", "loss": "ns,minimax", "arch": "mlp", "dataset": "gaussians8", "seeds": "0-1",
              "steps": 20, "metrics": ["w1"], "set": {"hidden": 8, "layers": 2, "batch_size": 32},
              "loss_set": {"minimax": {"dataset.radius": 1e300}}}  # real data of infinities: minimax diverges
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANZOO_HOME", str(store.home))
        result = run_sweep(values, executor="serial", out=root / "sweep", eval_n=100, registry=serial_registry,
                           store=store, echo=lambda _: None, progress=False)
    assert [o.status for o in result.outcomes].count("failed") == 2
    return result, store


def test_compare_a_sweep_by_id(sweep, tmp_path, monkeypatch):
    result, store = sweep
    monkeypatch.setenv("GANZOO_HOME", str(store.home))
    out = tmp_path / "report"
    run = CliRunner().invoke(app, ["compare", result.sweep_id, "--out", str(out)])
    assert run.exit_code == 0, run.output
    data = json.loads((out / JSON_FILE).read_text(encoding="utf-8"))
    assert data["sources"] == [result.sweep_id] and data["metric"]["key"] == "w1"
    (table,) = data["tables"]
    rows = {r["loss"]: r for r in table["rows"]}
    ns = [o for o in result.outcomes if o.loss == "non-saturating"]
    assert rows["non-saturating"]["rank"] == 1 and rows["non-saturating"]["n"] == 2
    assert rows["non-saturating"]["mean"] == pytest.approx(sum(o.metrics["w1"] for o in ns) / 2)
    assert rows["minimax"] == {**rows["minimax"], "rank": None, "n": 0, "failed": 2, "finished": 0, "mean": None}
    assert table["pairs"] == []
    report = (out / REPORT_FILE).read_text(encoding="utf-8")
    assert "| - | minimax | 0 | - |" in report and "diverged at step" in report
    assert {t["trial_id"] for t in data["trials"]} == {o.trial_id for o in result.outcomes}
    assert (out / "curves.png").is_file() and data["figures"]["samples"] == "samples.png"


def test_compare_a_sweep_by_its_folder(sweep):
    result, store = sweep
    from ganzoo.compare.make import make_comparison

    by_folder = make_comparison([str(result.folder)], store=store)
    assert [t.outcome.trial_id for t in by_folder.trials] == [o.trial_id for o in result.outcomes]


def test_the_compare_tab_lists_and_compares_the_sweep(sweep):
    from ganzoo.serve.compare_tab import CompareActions
    from ganzoo.serve.service import SamplingService

    result, store = sweep
    service = SamplingService(store)
    try:
        actions = CompareActions(service)
        assert actions.sweeps() == [result.sweep_id]
        text, distribution, curves, samples, data = actions.compare(result.sweep_id, [], "")
        assert "## mlp on gaussians8: w1, lower is better" in text
        assert all(Path(p).is_file() for p in (distribution, curves, samples))
        assert data["sources"] == [result.sweep_id] and len(data["trials"]) == 4
    finally:
        service.close()
