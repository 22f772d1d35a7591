"""`ganzoo models ...`, `ganzoo sample` and `ganzoo train --name/--no-register` as a user runs them."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open
from typer.testing import CliRunner

from ganzoo.api import train
from ganzoo.cli import app, main
from ganzoo.errors import StorageError
from ganzoo.store import ModelStore

runner = CliRunner()


def ok(*args: str, **kwargs) -> str:
    result = runner.invoke(app, list(args), **kwargs)
    assert result.exit_code == 0, result.output
    return result.output


def fails(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """Run the real entry point on bad input: exit status 2 and a message (GanzooError), never a traceback."""
    monkeypatch.setattr(sys, "argv", ["ganzoo", *args])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def stored(tiny_points_run, tiny_image_run):
    store = ModelStore()
    points = store.register(tiny_points_run.run_dir, name="ring")
    images = store.register(tiny_image_run.run_dir, name="digits")
    return store, points, images


def test_train_registers_its_model_and_prints_the_ref(tmp_path):
    args = ["train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "2", "-b", "16", "--set", "hidden=8",
            "--set", "layers=2", "--device", "cpu", "--quiet"]
    output = ok(*args, "--out", str(tmp_path / "a"), "--name", "mine")
    assert "registered: mine:1" in output
    output = ok(*args, "--out", str(tmp_path / "b"))
    assert "registered: mlp-wgan-gp-gaussians8:1" in output
    output = ok(*args, "--out", str(tmp_path / "c"), "--no-register")
    assert "registered" not in output
    assert [r.ref for r in ModelStore().list()] == ["mine:1", "mlp-wgan-gp-gaussians8:1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "d"), "--name", "../escape"])
    assert result.exit_code != 0 and not (tmp_path / "d").exists()  # checked before training


def test_api_train_returns_the_record(tmp_path):
    result = train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "run", sets={"hidden": 8, "layers": 2}, steps=2,
                   batch_size=16, device="cpu", progress=False, echo=lambda _: None, name="api-made")
    assert result.record.ref == "api-made:1"
    assert ModelStore().get("api-made") == result.record


def test_models_list_show_and_card(stored):
    store, points, images = stored
    store.add_metrics("digits", [{"metric": "fid", "label": "FID[fashion-cnn]", "value": 41.2,
                                  "extractor": "fashion-cnn", "n_samples": 2000, "reference": "fashion-mnist/test"}])
    listing = ok("models", "list")
    assert "digits:1" in listing and "ring:1" in listing and "FID[fashion-cnn] 41.2" in listing
    rows = json.loads(ok("models", "list", "--json"))
    assert [r["ref"] for r in rows] == ["digits:1", "ring:1"]
    assert rows[0]["headline"] == "FID[fashion-cnn] 41.2" and rows[1]["metrics"] == []
    shown = ok("models", "show", "ring")
    assert "ring:1" in shown and "mlp" in shown and "generator.safetensors" in shown and "not evaluated" in shown
    assert json.loads(ok("models", "show", "digits:1", "--json"))["files"]["README.md"]["size"] > 0
    card = ok("models", "card", "digits")
    assert card.startswith("---\nlibrary_name: ganzoo") and "41.2" in card


def test_models_rm_asks_unless_yes(stored):
    result = runner.invoke(app, ["models", "rm", "ring"], input="n\n")
    assert result.exit_code == 1 and "nothing removed" in result.output
    assert ModelStore().get("ring")
    result = runner.invoke(app, ["models", "rm", "ring:latest"], input="n\n")
    assert "remove ring:1?" in result.output  # the prompt lists exactly what would go
    result = runner.invoke(app, ["models", "rm", "ring:1"], input="y\n")
    assert result.exit_code == 0 and "removed: ring:1" in result.output
    assert "removed: digits:1" in ok("models", "rm", "digits", "--yes")
    assert ModelStore().list() == []


def test_models_export_and_import(stored, tmp_path):
    out = tmp_path / "hub-folder"
    assert str(out) in ok("models", "export", "digits", str(out))
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    assert "imported: digits:2" in ok("models", "import", str(out))
    assert "imported: copy:1" in ok("models", "import", str(out), "--name", "copy")


def test_sample_writes_grids_scatters_and_reproducible_arrays(stored, tmp_path):
    ok("sample", "digits", "--n", "16", "--seed", "5", "--out", str(tmp_path / "grid.png"))
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (4 * 30 + 2, 4 * 30 + 2)  # 4x4 grid of 28x28 images with 2-pixel padding
    ok("sample", "ring", "--n", "200", "--out", str(tmp_path / "points.png"))
    with Image.open(tmp_path / "points.png") as scatter:
        assert scatter.size == (500, 500)
    ok("sample", "digits:1", "--n", "6", "--seed", "3", "--out", str(tmp_path / "a.npz"))
    ok("sample", "digits:1", "--n", "6", "--seed", "3", "--out", str(tmp_path / "b.npz"))
    ok("sample", "digits:1", "--n", "6", "--seed", "4", "--out", str(tmp_path / "c.npz"))
    a, b, c = (np.load(tmp_path / f"{x}.npz") for x in "abc")
    assert a["samples"].shape == (6, 1, 28, 28) and str(a["ref"]) == "digits:1" and int(a["seed"]) == 3
    assert np.array_equal(a["samples"], b["samples"]) and not np.array_equal(a["samples"], c["samples"])
    assert a["samples"].min() >= -1 and a["samples"].max() <= 1
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()  # same seed, same bytes
    ok("sample", "digits:1", "--n", "6", "--seed", "3", "--out", str(tmp_path / "a.safetensors"))
    with safe_open(tmp_path / "a.safetensors", "np") as tensors:
        assert np.array_equal(tensors.get_tensor("samples"), a["samples"])
        assert json.loads(tensors.metadata()["ganzoo"]) == {"data_kind": "images", "ref": "digits:1", "seed": 3}


@pytest.mark.parametrize("args", [
    ["models", "show", "nope"],
    ["models", "show", "ring:9"],
    ["models", "card", "../etc"],
    ["models", "import", "/nonexistent-folder"],
    ["sample", "ring", "--out", "x.jpg"],
    ["sample", "ring", "--n", "0", "--out", "x.npz"],
])
def test_bad_input_exits_2_with_a_message(stored, args, capsys, monkeypatch):
    err = fails(capsys, monkeypatch, *args)
    assert err.startswith("error: ") and "Traceback" not in err


def test_a_store_that_cannot_open_stops_train_before_any_training(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where GANZOO_HOME should be")
    monkeypatch.setenv("GANZOO_HOME", str(blocker))
    err = fails(capsys, monkeypatch, "train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "2", "-b", "16",
                "--set", "hidden=8", "--set", "layers=2", "--quiet", "--out", str(tmp_path / "run"))
    assert "cannot create the model store" in err and "GANZOO_HOME" in err
    assert not (tmp_path / "run" / "checkpoints").exists(), "nothing was trained"


def test_a_registration_that_fails_after_training_is_an_error_and_keeps_the_run(tmp_path, monkeypatch, capsys):
    def full(self, *args, **kwargs):
        raise StorageError("storing model m failed: the disk is full", hint="free some disk space")

    monkeypatch.setattr(ModelStore, "register", full)
    err = fails(capsys, monkeypatch, "train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "2", "-b", "16",
                "--set", "hidden=8", "--set", "layers=2", "--quiet", "--out", str(tmp_path / "run"))
    assert "finished, but its model was not stored: storing model m failed: the disk is full" in err
    assert f"ganzoo models import {tmp_path / 'run'}" in err
    monkeypatch.undo()
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    assert "imported: mlp-wgan-gp-gaussians8:1" in ok("models", "import", str(tmp_path / "run"))
