"""Experiments (issue 14): the hook and its entry, the runner's folder, the command line, and every built-in
experiment run at its tiny budget with its numbers checked."""

from __future__ import annotations

import json
import math
import types

import pytest
from typer.testing import CliRunner

from ganzoo import Experiment, ExperimentSpec, Findings, Table, Verdict
from ganzoo.cli.app import app
from ganzoo.errors import ConfigError, PluginError, UnknownNameError
from ganzoo.experiment import run_experiment
from ganzoo.plugin.experiment import BUDGETS, VERDICTS
from ganzoo.plugin.loading import get_registry

REGISTRY = get_registry()
EXPERIMENTS = [s.name for s in REGISTRY.entries("experiment")]
BUDGET_TEXT = {b: f"{b} budget" for b in BUDGETS}

def test_builtin_experiments_register_through_the_entry_point_group():
    assert {"distances", "saturation", "clipping", "one-sided", "zoo", "w-tracks", "no-batch-norm"} <= set(EXPERIMENTS)
    for spec in REGISTRY.entries("experiment"):
        assert spec.provider.distribution == "ganzoo" and spec.provider.plugin == f"experiments-{spec.name}"
        assert spec.claim and spec.verdict_rule and set(spec.budgets) == set(BUDGETS)


@pytest.mark.parametrize(("changes", "word"), [
    ({"claim": ""}, "claim"),
    ({"budgets": {"tiny": "t"}}, "budgets"),
    ({"name": "Bad_Name"}, "kebab"),
])
def test_malformed_experiment_entries_are_refused(changes, word):
    values = {"name": "ok", "factory": Experiment, "claim": "c", "verdict_rule": "r", "budgets": BUDGET_TEXT,
              **changes}
    with pytest.raises(PluginError, match=word):
        ExperimentSpec(**values).validate()


def test_a_verdict_is_one_of_three_and_a_table_prints_as_markdown():
    with pytest.raises(PluginError, match="reproduced"):
        Verdict("maybe", "no")
    text = Table("t", ["a", "b"], [[1.23456, None]]).markdown()
    assert "| 1.235 | - |" in text and "|---|---|" in text


@pytest.mark.parametrize(("reproduced", "partly", "word"), [
    (True, True, "reproduced"), (False, True, "partly"), (False, False, "not reproduced")])
def test_a_graded_verdict_says_all_some_or_none(reproduced, partly, word):
    assert Verdict.graded("numbers", reproduced=reproduced, partly=partly) == Verdict(word, "numbers")


def _clipping_numbers(**changes):
    numbers = {"spread[clip 0.1]": 1.5, "spread[clip 0.01]": -0.5, "spread[clip 0.001]": -1.5,
               "spread[wgan-gp]": 0.2, "dead[clip 0.1]": 0.0, "dead[clip 0.01]": 0.0, "dead[clip 0.001]": 0.0,
               "dead[wgan-gp]": 0.0}
    return {**numbers, **changes}


@pytest.mark.parametrize(("changes", "word", "shown"), [
    ({}, "reproduced", "clip 0.001 -1.50"),
    ({"spread[clip 0.1]": -0.39}, "partly", "clip 0.1 -0.39"),
    # a critic with no gradient at any layer has an undefined spread (0 / 0): it has vanished, not gone missing
    ({"spread[clip 0.1]": -0.39, "spread[clip 0.001]": None, "dead[clip 0.001]": 1.0}, "partly", "no gradient"),
    ({"spread[clip 0.001]": None}, "not reproduced", "missing"),
    ({"spread[wgan-gp]": 1.3}, "not reproduced", "penalty +1.30"),
])
def test_the_clipping_rule_counts_a_dead_critic_as_vanishing(changes, word, shown):
    verdict = REGISTRY.experiment("clipping").factory().verdict(_clipping_numbers(**changes))
    assert verdict.verdict == word and shown in verdict.reason


def test_unknown_experiment_budget_and_executor_are_clear_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'distances'") as err:
        run_experiment("distance", out=tmp_path)
    assert "ganzoo experiment list" in err.value.hint
    with pytest.raises(ConfigError, match="unknown budget 'smal'") as err:
        run_experiment("distances", budget="smal", out=tmp_path)
    assert "did you mean 'small'" in err.value.hint
    with pytest.raises(UnknownNameError, match="unknown executor 'slurm'"):
        run_experiment("distances", executor="slurm", out=tmp_path)
    result = CliRunner().invoke(app, ["experiment", "run", "distanse", "--budget", "tiny"])
    assert result.exit_code != 0 and "did you mean 'distances'" in str(result.exception) + result.output


def test_experiment_list_shows_claims_rules_and_budgets():
    result = CliRunner().invoke(app, ["experiment", "list", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == set(EXPERIMENTS)
    assert all(r["claim"] and r["verdict_rule"] and set(r["budgets"]) == set(BUDGETS) for r in rows.values())
    text = CliRunner().invoke(app, ["experiment", "list"]).stdout
    assert "distances  [ganzoo]" in text and "--budget tiny:" in text


class Counting(Experiment):
    """A third-party experiment: one tiny sweep, a number read from its logs, a rule on it."""

    def sweeps(self, budget):
        return [{"name": "count", "loss": "wgan", "arch": "mlp", "dataset": "gaussians8", "steps": 2,
                 "set": {"hidden": 8, "layers": 1}, "metrics": ["w1"]}]

    def evaluation(self, budget):
        return {"n": 64}

    def analyse(self, context):
        (trial,) = context.trials
        generator, critic = context.networks(trial)
        return Findings({"steps": float(len(context.records(trial))), "w1": trial.metrics["w1"],
                         "critic_params": float(sum(p.numel() for p in critic.parameters()))})

    def verdict(self, numbers):
        return Verdict("reproduced" if numbers["steps"] == 2 else "not reproduced", f"{numbers['steps']} steps")


def test_a_plugin_experiment_runs_its_sweep_through_the_local_executor_and_is_judged_on_its_numbers(tmp_path):
    from plugin_support import builtin_plugins

    from ganzoo import hookimpl
    from ganzoo.plugin.loading import build_registry

    spec = ExperimentSpec(name="count", factory=Counting, claim="two steps are two steps", verdict_rule="2 steps",
                          budgets=BUDGET_TEXT)
    module = types.SimpleNamespace(register_experiments=hookimpl(lambda register: register(spec)))
    registry = build_registry([*builtin_plugins(), ("count", module, "ganzoo-count", "1.0")])
    result = run_experiment("count", budget="tiny", executor="local", executor_options={"workers": 1},
                            out=tmp_path / "x", registry=registry, echo=lambda _: None)
    assert result.verdict.verdict == "reproduced" and result.findings.numbers["w1"] > 0
    assert result.findings.numbers["critic_params"] == 2 * 8 + 8 + 8 + 1  # Linear(2, 8) + Linear(8, 1)
    data = json.loads((tmp_path / "x" / "results.json").read_text())
    assert data["trials"][0]["status"] == "finished" and data["trials"][0]["metrics"]["w1"] > 0
    assert data["trials"][0]["model_ref"]  # stored like any sweep's trial
    lines = []
    again = run_experiment("count", budget="tiny", out=tmp_path / "x", registry=registry, echo=lines.append)
    assert again.findings.numbers == result.findings.numbers  # the finished sweep is continued, not trained again
    assert any("1 finished" in line and "0 to run" in line for line in lines)
    continued = json.loads((tmp_path / "x" / "results.json").read_text())  # the trials' time is still counted
    assert continued["trials_wall_time_s"] == data["trials_wall_time_s"] == pytest.approx(
        data["trials"][0]["wall_time_s"], abs=0.01) and data["trials_wall_time_s"] > 0
    assert f"wall times sum to {data['trials_wall_time_s']:.1f} s" in (tmp_path / "x" / "report.md").read_text()


# The trials go through the sweep's driver with the tests' `serial` executor (tests/plugin_support.py), in this
# process: worker processes would start torch again for every sweep. The test above uses the real local executor.
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_builtin_experiment_runs_at_its_tiny_budget(name, tmp_path, serial_registry):
    result = run_experiment(name, budget="tiny", executor="serial", out=tmp_path / name, registry=serial_registry,
                            echo=lambda _: None)
    out = tmp_path / name
    data = json.loads((out / "results.json").read_text())
    assert data["experiment"] == name and data["budget"] == "tiny" and data["verdict"] in VERDICTS
    assert data["reason"] and data["verdict_rule"] == REGISTRY.experiment(name).verdict_rule
    assert data["command"] == f"ganzoo experiment run {name} --budget tiny --executor serial --out {out}"
    assert result.findings.figures and all((out / f).stat().st_size > 5000 for f in data["figures"].values())
    report = (out / "report.md").read_text()
    assert f"**Verdict: {data['verdict']}.**" in report and all(f"]({f})" in report for f in data["figures"].values())
    assert result.findings.numbers and all(v is None or isinstance(v, float) for v in result.findings.numbers.values())
    assert all(t["status"] == "finished" for t in data["trials"])
    check = CHECKS.get(name)
    if check is not None:
        check(result, data)


def _distances(result, data):
    numbers = result.findings.numbers
    assert numbers["w_max_error"] == 0.0 and numbers["js_min_off_zero"] == numbers["js_max_off_zero"] == math.log(2)
    assert numbers["kl_off_zero_infinite"] == 1.0 and numbers["tv_off_zero"] == 1.0
    (table,) = result.findings.tables
    for theta, w, js, kl, tv, *_ in table.rows:
        assert w == abs(theta) and js == (math.log(2) if theta else 0.0) and tv == (1.0 if theta else 0.0)
        assert kl == (math.inf if theta else 0.0)
    assert data["numbers"]["discriminator_grad_max_far"] >= 0


def _saturation(result, data):
    numbers = result.findings.numbers
    assert numbers["minimax_records"] == numbers["non-saturating_records"] == 6.0  # every step logged
    assert 0 < numbers["minimax_min_d_fake"] < 1


def _clipping(result, data):
    numbers = result.findings.numbers
    for name in ("clip 0.1", "clip 0.01", "clip 0.001", "wgan-gp"):  # the four critics of Figure 1b
        assert numbers[f"first_layer[{name}]"] > 0 and numbers[f"last_layer[{name}]"] > 0
        assert numbers[f"spread[{name}]"] == pytest.approx(
            math.log10(numbers[f"first_layer[{name}]"] / numbers[f"last_layer[{name}]"]))
    assert set(data["figures"]) == {"layer_gradients", "value_surfaces"}


def _one_sided(result, data):
    numbers = result.findings.numbers
    assert 0 <= numbers["p_holm[gaussians8/w1]"] <= 1 and numbers["mean[gaussians8/w1][wgan-lp]"] > 0
    assert (result.findings.tables[0].rows[0][3]) == 2  # two seeds per loss
    assert (result.out / "compare-gaussians8-w1" / "report.md").exists()


def _zoo(result, data):
    numbers = result.findings.numbers
    for loss in ("minimax", "wgan-gp"):
        assert 0 <= numbers[f"mean[gaussians8][modes][{loss}]"] <= 8
        assert 0 <= numbers[f"mean[gaussians8][hq_percent][{loss}]"] <= 100
        assert numbers[f"mean[gaussians8][w1][{loss}]"] > 0
    assert sorted(numbers[f"rank[gaussians8][modes][{loss}]"] for loss in ("minimax", "wgan-gp")) in ([1, 2], [1, 1])


def _w_tracks(result, data):
    (table,) = result.findings.tables
    assert {row[1] for row in table.rows} == {"wgan", "wgan-gp", "minimax", "non-saturating"}
    assert all(row[3] == 3 and row[4] == "w1" for row in table.rows)  # evaluated at steps 2, 4 and 6
    assert all(-1 <= row[5] <= 1 for row in table.rows if row[5] is not None)


def _no_batch_norm(result, data):
    numbers = result.findings.numbers
    for loss in ("minimax", "wgan"):
        assert numbers[f"fid[{loss}][dcgan]"] > 0 and numbers[f"fid[{loss}][dcgan-nobn]"] > 0
        assert numbers[f"ratio[{loss}]"] == pytest.approx(numbers[f"fid[{loss}][dcgan-nobn]"]
                                                          / numbers[f"fid[{loss}][dcgan]"])


CHECKS = {"distances": _distances, "saturation": _saturation, "clipping": _clipping, "one-sided": _one_sided,
          "zoo": _zoo, "w-tracks": _w_tracks, "no-batch-norm": _no_batch_norm}
