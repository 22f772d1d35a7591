"""The `ganzoo` command as a user runs it (a real subprocess for the error path and a short training run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ganzoo.cli import app

runner = CliRunner()


def ganzoo(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": ""}
    return subprocess.run([sys.executable, "-m", "ganzoo.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_list_json_shows_every_entry_with_aliases_defaults_and_provider():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    gp = by_name[("loss", "wgan-gp")]
    assert gp["defaults"]["lr"] == 1e-4 and gp["defaults"]["betas"] == [0.0, 0.9] and gp["defaults"]["lambda"] == 10
    assert gp["provider"]["distribution"] == "ganzoo" and gp["provider"]["version"]
    assert by_name[("loss", "wgan-lp")]["aliases"] == ["one-sided"]
    assert {("arch", "mlp"), ("arch", "dcgan"), ("arch", "dcgan-nobn"), ("dataset", "fashion-mnist"),
            ("metric", "modes")} <= set(by_name)


def test_list_filters_by_kind_and_pattern():
    result = runner.invoke(app, ["list", "--kind", "loss", "wgan*"])
    assert result.exit_code == 0
    assert "wgan-gp" in result.output and "minimax" not in result.output and "[ganzoo " in result.output


def test_plugins_lists_distributions_with_versions():
    result = runner.invoke(app, ["plugins", "--json"])
    data = json.loads(result.output)
    names = {p["name"] for p in data["plugins"]}
    experiments = {n for n in names if n.startswith("experiments-")}  # one built-in plugin per experiment
    assert names - experiments == {"losses", "architectures", "datasets", "metrics", "executors", "extractors"}
    assert experiments >= {"experiments-distances", "experiments-saturation"}
    assert all(p["distribution"] == "ganzoo" for p in data["plugins"]) and data["failed"] == []


def test_train_help_shows_the_paper_defaults_of_every_loss():
    out = ganzoo("train", "--help").stdout
    assert "wgan-gp: optimizer=adam, lr=0.0001, betas=[0.0, 0.9], n_critic=5" in " ".join(out.split())
    assert "--n-critic" in out and "--set" in out


@pytest.mark.parametrize(("args", "words"), [
    (["train", "dcgan", "wgan-pg"], ["unknown loss 'wgan-pg'", "did you mean", "'wgan-gp'", "ganzoo list --kind loss"]),
    (["train", "dcgn", "wgan-gp"], ["unknown architecture 'dcgn'", "'dcgan'"]),
    (["train", "dcgan", "wgan-gp", "--set", "lambda=-3"], ["lambda must be >= 0"]),
    (["train", "mlp", "wgan", "-d", "gaussians8", "--lr", "5"], ["lr must be a number in (0, 1)"]),
    (["list", "--kind", "losses"], ["unknown kind 'losses'"]),
])
def test_bad_input_is_a_clear_message_not_a_traceback(args, words):
    result = ganzoo(*args)
    assert result.returncode == 2, result.stderr
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.stderr


def test_a_short_training_run_from_the_command_line(tmp_path):
    result = ganzoo("train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "3", "--set", "hidden=16",
                    "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "done at step 3" in result.stdout and "samples:" in result.stdout and "curves:" in result.stdout
    assert (tmp_path / "run" / "curves.png").exists()
    log = (tmp_path / "run" / "metrics.jsonl").read_bytes()

    again = ganzoo("train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "3", "--set", "hidden=16",
                   "--out", str(tmp_path / "run"), "--quiet")
    assert again.returncode == 2 and "already holds a ganzoo run" in again.stderr and "--resume" in again.stderr
    assert (tmp_path / "run" / "metrics.jsonl").read_bytes() == log  # the first run is untouched
