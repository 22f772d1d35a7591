"""A catalogue of bad inputs and faults against the `ganzoo` command: every one ends in a message that names the
problem and the fix, exit status 2, never a traceback, and nothing of the user's is lost.

In-process cases run the real entry point (``ganzoo.cli.main``); faults that need the operating system's help (a
file-size limit standing in for a full disk) run the command in a subprocess with that limit set.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo.cli import main
from ganzoo.runs.checkpoint import latest_checkpoint_step
from ganzoo.store import ModelStore

BIG = str(2**64)
TINY_MLP = ["--set", "hidden=8", "--set", "layers=2", "-b", "16", "--quiet", "--device", "cpu"]


@pytest.fixture
def world(tiny_points_run, tiny_image_run, tmp_path, monkeypatch):
    """A store with a points model `ring` and an image model `digits`, a finished run folder, and cwd in tmp."""
    store = ModelStore()
    store.register(tiny_points_run.run_dir, name="ring")
    store.register(tiny_image_run.run_dir, name="digits")
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "empty-run").mkdir()
    (tmp_path / "empty-run" / "config.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    return {"run": str(tiny_points_run.run_dir), "tmp": tmp_path}


def run_main(capsys, monkeypatch, args: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ganzoo", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.err + captured.out


CATALOGUE = [
    # unknown names
    (["train", "dcgan", "wgan-pg"], ["unknown loss 'wgan-pg'", "did you mean", "'wgan-gp'"]),
    (["train", "mpl", "wgan-gp"], ["unknown architecture 'mpl'", "'mlp'"]),
    (["train", "mlp", "wgan-gp", "-d", "gausians8"], ["unknown data set 'gausians8'", "'gaussians8'"]),
    (["eval", "ring", "-m", "w2"], ["unknown metric 'w2'", "ganzoo list --kind metric"]),
    (["sample", "rign"], ["no model called 'rign'", "did you mean 'ring'"]),
    (["models", "show", "ring:7"], ["model 'ring' has no version 7", "its versions: 1"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--set", "lamda=5"], ["unknown setting 'lamda'"]),
    # wrong types and malformed values
    (["train", "mlp", "wgan-gp", "--set", "lr"], ["--set expects key=value"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--set", "betas=5"], ["Adam betas must be two numbers"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--set", "lr=fast"], ["lr must be a number in (0, 1)"]),
    (["models", "show", "ring:x"], ["invalid version 'x'"]),
    # out-of-range numbers
    (["train", "mlp", "wgan", "-d", "gaussians8", "--lr", "5"], ["lr must be a number in (0, 1)"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "0"], ["steps must be a whole number >= 1"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--seed", BIG], ["seed must be a whole number from 0 to"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--set", "lambda=-3"], ["lambda must be >= 0"]),
    (["train", "mlp", "wgan-gp", "-d", "digits", "-b", "5000", "--quiet"],
     ["batch size 5000 is larger than data set 'digits' (1797 samples)", "--batch-size 1797 or less"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "-b", str(2**40), "--steps", "1", "--quiet", "--no-register",
      "--out", "oom-run"], ["out of memory in training step 1 (batch size 1099511627776)", "it asked for",
                            "lower --batch-size"]),
    (["sample", "digits", "--n", "10000000", "--out", "big.npz"], ["--n must be a whole number from 1 to",
                                                                   "several files with different --seed"]),
    (["sample", "digits", "--n", "5000", "--out", "big.png"], ["--n must be a whole number from 1 to 1024",
                                                               "--out NAME.npz"]),
    (["sample", "ring", "--n", "0", "--out", "x.npz"], ["--n must be a whole number from 1"]),
    (["sample", "ring", "--seed", BIG], ["seed must be a whole number from 0 to 4294967295"]),
    (["sample", "ring", "--seed", "-1"], ["seed must be a whole number from 0 to 4294967295"]),
    (["eval", "ring", "--seed", BIG], ["seed must be a whole number from 0 to 4294967295"]),
    (["eval", "ring", "--n", "1"], ["--n must be a whole number >= 2"]),
    # paths that cannot be written
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "1", "--out", "a-file", *TINY_MLP],
     ["--out a-file is a file, not a folder"]),
    (["train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "1", "--out", "/proc/ganzoo-run", *TINY_MLP],
     ["creating the run folder /proc/ganzoo-run failed", "pass --out a folder you can write to"]),
    (["sample", "ring", "--out", "/proc/ganzoo/x.png"], ["writing samples to /proc/ganzoo/x.png failed",
                                                         "choose an --out you can write to"]),
    (["sample", "ring", "--out", "a-folder"], ["cannot write samples to 'a-folder'"]),
    (["sample", "ring", "--out", "x.jpg"], ["cannot write samples to 'x.jpg'", "--out NAME.png"]),
    (["models", "export", "ring", "a-file"], ["a-file already exists and is not an empty folder"]),
    # corrupt and missing files
    (["train", "--resume", "empty-run"], ["empty-run is not a readable ganzoo run"]),
    (["train", "--resume", "no-such-run"], ["no-such-run is not a readable ganzoo run"]),
    (["eval", "--run", "no-such-run"], ["no-such-run is not a readable ganzoo run"]),
    (["models", "import", "/nonexistent-folder"], ["is not a folder"]),
    (["models", "import", "a-folder"], ["has no readable config.json"]),
    # path traversal
    (["models", "card", "../etc"], ["invalid model name '../etc'"]),
    (["sample", "/etc/passwd"], ["invalid model name '/etc/passwd'"]),
    (["models", "import", "a-folder", "--name", "../escape"], ["invalid model name '../escape'"]),
    # what a command needs
    (["train"], ["ganzoo train needs ARCH and LOSS (or --resume RUN_DIR)"]),
    (["train", "mlp"], ["ganzoo train needs ARCH and LOSS"]),
]


@pytest.mark.parametrize(("args", "words"), CATALOGUE, ids=[" ".join(a)[:60] for a, _ in CATALOGUE])
def test_bad_input_is_a_message_naming_the_problem_and_the_fix(world, capsys, monkeypatch, args, words):
    before = {r.ref for r in ModelStore().list()}
    code, output = run_main(capsys, monkeypatch, args)
    assert code == 2, output
    assert output.startswith("error: "), output
    assert "Traceback" not in output
    for word in words:
        assert word in output, output
    assert {r.ref for r in ModelStore().list()} == before, "a failed command stores nothing and removes nothing"


def test_a_damaged_checkpoint_to_resume_from_is_named(world, capsys, monkeypatch):
    run = world["tmp"] / "damaged"
    shutil.copytree(world["run"], run)
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    (run / "checkpoints" / f"{latest['stem']}.safetensors").write_bytes(b"torn")
    config = json.loads((run / "config.json").read_text())
    config["config"]["steps"] = 5  # an unfinished run, so resuming reads the checkpoint
    (run / "config.json").write_text(json.dumps(config))
    code, output = run_main(capsys, monkeypatch, ["train", "--resume", str(run), "--quiet"])
    assert code == 2 and "checkpoint in" in output and "is unreadable" in output and "Traceback" not in output


# --- a full disk, through the operating system (a file-size limit makes writes past it fail with EFBIG) ---------


def ganzoo_limited(args: list[str], limit_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**os.environ, "GANZOO_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "ganzoo.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, preexec_fn=limit, timeout=600)


def test_a_full_disk_during_training_keeps_the_last_good_checkpoint_and_resumes(tmp_path):
    run = tmp_path / "run"
    args = ["train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "400", "--checkpoint-every", "50",
            "--sample-every", "1000", "--no-register", "--out", str(run), *TINY_MLP]
    # 24 kB: config.json and the 23 kB checkpoints fit; metrics.jsonl, ~150 bytes a step, outgrows it near step 160
    done = ganzoo_limited(args, 24_000, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "writing the run folder" in done.stderr and "larger than this process may write" in done.stderr
    assert "Traceback" not in done.stderr
    kept = latest_checkpoint_step(run / "checkpoints")
    assert kept is not None and 50 <= kept < 400 and f"the last good checkpoint (step {kept}) is kept" in done.stderr
    resumed = subprocess.run([sys.executable, "-m", "ganzoo.cli", "train", "--resume", str(run), "--quiet"],
                             capture_output=True, text=True, env={**os.environ, "GANZOO_LOAD_PLUGINS": ""},
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert latest_checkpoint_step(run / "checkpoints") == 400
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 401)), "the log holds every step once"


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_during_import_leaves_the_store_unchanged(world, capsys, monkeypatch):
    exported = ModelStore().export("digits", world["tmp"] / "exported")
    home = Path(os.environ["GANZOO_HOME"])
    before = all_store_files(home)
    monkeypatch.setattr("ganzoo.store.folders.copy_regular_file", no_space)  # the disk fills during the copy
    code, output = run_main(capsys, monkeypatch, ["models", "import", str(exported), "--name", "copy"])
    assert code == 2, output
    assert "storing model copy" in output and "the disk is full" in output and "the store is unchanged" in output
    assert "Traceback" not in output
    assert all_store_files(home) == before and list((home / "tmp").iterdir()) == []


def test_a_full_disk_while_writing_the_card_after_an_evaluation_leaves_the_store_unchanged(world, capsys,
                                                                                             monkeypatch):
    store = ModelStore()
    home = Path(os.environ["GANZOO_HOME"])
    before = all_store_files(home)
    real_write_text = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.startswith(".README.md.pending-"):
            no_space()
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    code, output = run_main(capsys, monkeypatch, ["eval", "ring", "-m", "w1", "--n", "100"])
    assert code == 2, output
    assert "writing the model card of ring:1 failed: the disk is full" in output and "unchanged" in output
    assert store.get("ring").metrics == () and all_store_files(home) == before


def all_store_files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted((home / "models").rglob("*")) if p.is_file()}


@pytest.fixture
def full_disk(tmp_path):
    """A real file system with no space left: a 512 kB tmpfs (needs root and mount rights; most CI machines of
    this project have both), filled up after the test's set-up by :func:`fill`."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}); the in-process full-disk tests "
                    "above cover the same code paths")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(mount_point: Path) -> Path:
    filler = mount_point / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_store_on_a_really_full_disk_answers_with_a_message_and_keeps_every_model(world, full_disk):
    home = full_disk / "home"
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": "", "GANZOO_HOME": str(home)}
    exported = ModelStore().export("ring", world["tmp"] / "exported")
    ganzoo = [sys.executable, "-m", "ganzoo.cli"]
    assert subprocess.run([*ganzoo, "models", "import", str(exported)], env=env, timeout=300).returncode == 0
    before = all_store_files(home)
    filler = fill(full_disk)
    for args in (["eval", "ring", "-m", "w1", "--n", "100"], ["models", "import", str(exported), "--name", "two"]):
        done = subprocess.run([*ganzoo, *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and ("disk" in done.stderr or "space" in done.stderr), done.stderr
    filler.unlink()
    assert all_store_files(home) == before
    listed = subprocess.run([*ganzoo, "models", "list"], env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0 and "ring:1" in listed.stdout and "two" not in listed.stdout
