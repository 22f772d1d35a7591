"""Resume: a run SIGKILLed after a checkpoint past N/2 and resumed ends bit-identical to an uninterrupted run; a
SIGKILL during a checkpoint write never leaves the newest readable checkpoint unreadable."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from ganzoo.api import resume, train
from ganzoo.cli import app, main
from ganzoo.errors import GanzooError
from ganzoo.runs.checkpoint import LATEST, load_checkpoint, save_checkpoint
from ganzoo.store import ModelStore
from ganzoo.train.trainer import read_metrics

STEPS, EVERY = 40, 10

# Run the real CLI in a subprocess; after the checkpoint at step 30 every step sleeps a little, so the kill lands
# while training continues past the checkpoint (those steps are lost and must be trained again on resume).
KILLABLE = textwrap.dedent("""
    import sys, time
    import torch
    torch.set_num_threads(1)
    from ganzoo.train import trainer
    from ganzoo.cli import main
    step = trainer.Trainer.train_step
    def slow_after_half(self):
        if self.step >= self.config.steps // 2:
            time.sleep(0.1)
        return step(self)
    trainer.Trainer.train_step = slow_after_half
    sys.argv = ["ganzoo", "train", *sys.argv[1:]]
    main()
""")


def cli_args(arch: str, dataset: str, out: Path, sets: dict, store_as: str | None = None) -> list[str]:
    args = [arch, "wgan-gp", "--dataset", dataset, "--steps", str(STEPS), "--checkpoint-every", str(EVERY),
            "--sample-every", "1000", "--device", "cpu", "--quiet", "--out", str(out)]
    args += ["--name", store_as] if store_as else ["--no-register"]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    return args


def kill_past_half(run: Path, args: list[str]) -> int:
    """Start ``ganzoo train ARGS`` (training ``run``), SIGKILL it a few steps past its checkpoint after half the
    steps; returns the step of the newest checkpoint it left."""
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while latest_step_of(run / "checkpoints") <= STEPS // 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(0).uniform(0.1, 0.3))  # a few steps past the checkpoint
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    killed_at = latest_step_of(run / "checkpoints")
    assert STEPS // 2 < killed_at < STEPS
    return killed_at


def kill_past_half_then_resume(tmp_path: Path, arch: str, dataset: str, sets: dict, batch_size: int,
                               eval_every: int = 0) -> None:
    # one torch thread here (tests/conftest.py) as in the killed subprocess: float reductions match bit for bit
    reference = train(arch, "wgan-gp", dataset, out=tmp_path / "reference", sets=sets, steps=STEPS,
                      checkpoint_every=EVERY, sample_every=1000, device="cpu", batch_size=batch_size,
                      progress=False, echo=lambda _: None, register=False, eval_every=eval_every, eval_n=200)
    run = tmp_path / "killed"
    args = cli_args(arch, dataset, run, sets) + ["--batch-size", str(batch_size)]
    args += ["--eval-every", str(eval_every), "--set", "eval_n=200"] if eval_every else []
    killed_at = kill_past_half(run, args)
    result = resume(run, progress=False, echo=lambda _: None)  # started with --no-register: stores nothing
    assert result.step == STEPS and not result.interrupted
    _, expected = load_checkpoint(reference.run_dir / "checkpoints")
    _, actual = load_checkpoint(run / "checkpoints")
    for part in ("generator", "critic"):
        assert expected[part].keys() == actual[part].keys()
        different = [k for k in expected[part] if not torch.equal(expected[part][k], actual[part][k])]
        assert not different, f"{part} differs after resume from step {killed_at}: {different}"
    # the log holds every step once, with the same losses as the uninterrupted run
    log, reference_log = read_metrics(run / "metrics.jsonl"), read_metrics(reference.run_dir / "metrics.jsonl")
    training_log = [r for r in log if r["step"] > 0]  # step 0: the untrained baseline of --eval-every
    assert [r["step"] for r in training_log] == list(range(1, STEPS + 1))
    assert [r["generator_loss"] for r in training_log] == [r["generator_loss"] for r in reference_log
                                                            if r["step"] > 0]
    if eval_every:  # the measurements during training are the same too, and the resumed run kept measuring
        def evaluations(records: list[dict]) -> dict[int, dict]:
            return {r["step"]: {k: v for k, v in r.items() if k.startswith("eval/")} for r in records
                    if any(k.startswith("eval/") for k in r)}

        assert sorted(evaluations(log)) == list(range(0, STEPS + 1, eval_every))
        assert evaluations(log) == evaluations(reference_log)


def test_killed_and_resumed_mlp_run_is_bit_identical(tmp_path):
    kill_past_half_then_resume(tmp_path, "mlp", "gaussians8", {"hidden": 16, "layers": 2}, batch_size=64)


def test_killed_and_resumed_run_with_evaluation_during_training_is_bit_identical(tmp_path):
    # --eval-every draws its own fixed noise and scores with exact W1: it must not move the training streams
    kill_past_half_then_resume(tmp_path, "mlp", "gaussians8", {"hidden": 16, "layers": 2}, batch_size=64,
                               eval_every=EVERY)


@pytest.mark.slow
def test_killed_and_resumed_dcgan_run_is_bit_identical(tmp_path):
    # batch norm in the generator (running statistics), layer norm in the critic, real images in a shuffled order
    kill_past_half_then_resume(tmp_path, "dcgan", "digits", {"width": 8}, batch_size=16)


# --- torn checkpoint writes ----------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from ganzoo.runs.checkpoint import save_checkpoint
    step = int(sys.argv[2])
    while True:
        step += 1
        state = {"weights": torch.full((64, 1024), float(step)), "step_copy": step, "nested": [torch.arange(step)]}
        save_checkpoint(sys.argv[1], step, state, keep=2)
""")


def check_newest(directory: Path) -> int:
    step, state = load_checkpoint(directory)
    assert state["step_copy"] == step
    assert torch.equal(state["weights"], torch.full((64, 1024), float(step)))
    assert torch.equal(state["nested"][0], torch.arange(step))
    return step


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_never_breaks_the_newest_readable_checkpoint(tmp_path):
    directory, rng, step = tmp_path / "checkpoints", random.Random(1), 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(directory), str(step)], env=env,
                                stderr=subprocess.PIPE, text=True)
        start, deadline = latest_step_of(directory), time.monotonic() + 300
        while latest_step_of(directory) <= start + 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))  # land somewhere inside a later write
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        newer = check_newest(directory)
        assert newer > step
        step = newer


def latest_step_of(directory: Path) -> int:
    try:
        return json.loads((directory / LATEST).read_text())["step"]
    except (OSError, ValueError, KeyError):
        return 0


def test_leftover_temp_files_and_torn_older_files_do_not_matter(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {"w": torch.full((4,), float(step)), "step_copy": step}, keep=3)
    # what a kill leaves: a half-written temp file of the next checkpoint, a torn older checkpoint
    (tmp_path / ".step_0000004.safetensors.x1.tmp").write_bytes(b"\x00" * 10)
    (tmp_path / "step_0000004.safetensors").write_bytes(b"torn")  # written, but latest.json not yet moved on
    older = tmp_path / "step_0000002.safetensors"
    older.write_bytes(older.read_bytes()[:7])
    step, state = load_checkpoint(tmp_path)
    assert step == 3 and torch.equal(state["w"], torch.full((4,), 3.0))
    # and the next save still works and becomes the newest
    save_checkpoint(tmp_path, 4, {"w": torch.full((4,), 4.0), "step_copy": 4}, keep=3)
    assert load_checkpoint(tmp_path)[0] == 4
    assert not list(tmp_path.glob(".*.tmp"))  # the next save clears what the kill left


def test_a_damaged_newest_checkpoint_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path, 1, {"w": torch.zeros(3)})
    path = tmp_path / "step_0000001.safetensors"
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(GanzooError, match="unreadable"):
        load_checkpoint(tmp_path)


# --- `ganzoo train --resume RUN_DIR` as a user runs it ------------------------------------------------------------

RING = {"hidden": 16, "layers": 2}


def ganzoo_main(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """(exit status, stdout + stderr) of the real entry point."""
    monkeypatch.setattr(sys, "argv", ["ganzoo", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_sigkill_then_resume_with_the_run_folder_alone_stores_the_uninterrupted_weights_under_its_name(
        tmp_path, capsys, monkeypatch):
    reference = train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "reference", sets=RING, steps=STEPS,
                      checkpoint_every=EVERY, sample_every=1000, device="cpu", progress=False, echo=lambda _: None,
                      register=False)
    run = tmp_path / "cut"
    kill_past_half(run, cli_args("mlp", "gaussians8", run, RING, store_as="cut"))
    code, output = ganzoo_main(capsys, monkeypatch, "train", "--resume", str(run), "--quiet")
    assert code == 0, output
    assert "registered: cut:1" in output
    code, shown = ganzoo_main(capsys, monkeypatch, "models", "show", "cut", "--json")
    assert code == 0 and json.loads(shown)["ref"] == "cut:1"
    stored = load_file(str(ModelStore().file(ModelStore().get("cut"), "generator.safetensors")))
    _, expected = load_checkpoint(reference.run_dir / "checkpoints")
    assert stored.keys() == expected["generator"].keys()
    assert all(torch.equal(stored[k], expected["generator"][k]) for k in stored)


@pytest.fixture
def finished_cut(tmp_path) -> Path:
    """A finished mlp + wgan-gp run started with --name cut (so stored as cut:1)."""
    result = train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "cut", sets={**RING, "lr_schedule": "constant"},
                   steps=4, batch_size=16, device="cpu", progress=False, echo=lambda _: None, name="cut")
    assert result.record.ref == "cut:1"
    return result.run_dir


@pytest.mark.parametrize(("args", "words"), [
    (["dcgan", "minimax"], ["ARCH dcgan (the run has mlp)", "LOSS minimax (the run has wgan-gp)"]),
    (["mlp", "wgan-gp", "--lr", "0.5"], ["--lr 0.5 (the run has 0.001)"]),
    (["--set", "hidden=32"], ["--set arch.hidden 32 (the run has 16)"]),
    (["--dataset", "gaussians25"], ["--dataset gaussians25 (the run has gaussians8)"]),
    (["--name", "other"], ["--name 'other' (the run has 'cut')"]),
    (["--no-register"], ["--no-register (the run stores its model)"]),
    (["--out", "elsewhere"], ["--out and --resume both name a run folder"]),
])
def test_resume_refuses_what_would_change_the_run_naming_the_runs_own_value(finished_cut, capsys, monkeypatch,
                                                                              args, words):
    code, output = ganzoo_main(capsys, monkeypatch, "train", *args, "--resume", str(finished_cut), "--quiet")
    assert code == 2, output
    for word in words:
        assert word in output
    assert "Traceback" not in output
    assert [r.ref for r in ModelStore().list()] == ["cut:1"], "nothing was trained or stored"


def test_matching_names_and_values_are_accepted_on_resume(finished_cut, capsys, monkeypatch):
    code, output = ganzoo_main(capsys, monkeypatch, "train", "mlp", "wgan-gp", "-d", "gaussians8", "--set",
                               "hidden=16", "--name", "cut", "--resume", str(finished_cut), "--quiet")
    assert code == 0, output


def test_a_finished_run_is_finished_and_never_stored_twice(finished_cut, capsys, monkeypatch):
    for _ in range(2):
        code, output = ganzoo_main(capsys, monkeypatch, "train", "--resume", str(finished_cut), "--quiet")
        assert code == 0, output
        assert "is finished (4 of 4 steps): nothing to train" in output
        assert "already stored as cut:1" in output
    assert [r.ref for r in ModelStore().list()] == ["cut:1"]


def test_more_steps_extend_a_finished_run_into_a_new_version_of_its_name(finished_cut, capsys, monkeypatch):
    code, output = ganzoo_main(capsys, monkeypatch, "train", "--resume", str(finished_cut), "--steps", "6",
                               "--quiet")
    assert code == 0, output
    assert "done at step 6" in output and "registered: cut:2" in output
    assert ModelStore().get("cut:2").config["training"]["steps"] == 6
    assert json.loads((finished_cut / "config.json").read_text())["config"]["steps"] == 6
    code, output = ganzoo_main(capsys, monkeypatch, "train", "--resume", str(finished_cut), "--steps", "3",
                               "--quiet")
    assert code == 2 and "fewer than the 6 steps" in output


def test_a_run_whose_learning_rate_decays_to_zero_is_not_extended(tmp_path, capsys, monkeypatch):
    train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "decay", sets={**RING, "lr_schedule": "linear"}, steps=2,
          batch_size=16, device="cpu", progress=False, echo=lambda _: None, register=False)
    code, output = ganzoo_main(capsys, monkeypatch, "train", "--resume", str(tmp_path / "decay"), "--steps", "3")
    assert code == 2 and "decays its learning rate to 0 at step 2" in output and "start a new run" in output


def test_a_run_started_without_registering_keeps_that_on_resume(tmp_path, capsys, monkeypatch):
    train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "quiet", sets={**RING, "lr_schedule": "constant"}, steps=2,
          batch_size=16, device="cpu", progress=False, echo=lambda _: None, register=False)
    code, output = ganzoo_main(capsys, monkeypatch, "train", "--resume", str(tmp_path / "quiet"), "--steps", "3",
                               "--quiet")
    assert code == 0, output
    assert "registered" not in output and ModelStore().list() == []


def test_train_help_lists_what_may_change_on_resume():
    help_text = " ".join(CliRunner().invoke(app, ["train", "--help"]).output.split())
    assert "only --steps (more, to extend it), --device (same device type), --quiet may change" in help_text, \
        help_text
