"""What the store never does (delete a model folder it has no row for, follow a symlink) and how it recovers: a lost,
emptied, truncated or garbled index; crashes between a removal's commit and its folders; a store written by an
older ganzoo."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ganzoo
from ganzoo.cli import app
from ganzoo.errors import GanzooError
from ganzoo.store import IndexDamagedError, IntegrityError, ModelStore, repair_store

FIXTURE = Path(__file__).parent / "fixtures" / "store-v1"
runner = CliRunner()


def all_files(home: Path) -> dict[str, bytes]:
    """Every file under models/, relative path -> bytes: what must survive whatever happens to the index."""
    models = home / "models"
    return {str(p.relative_to(models)): p.read_bytes() for p in sorted(models.rglob("*")) if p.is_file()}


def model_files(home: Path) -> dict[str, bytes]:
    """As :func:`all_files` without the manifests (which the store rewrites from its rows)."""
    return {k: v for k, v in all_files(home).items() if not k.endswith("manifest.json")}


def w1(value: float) -> dict:
    return {"metric": "w1", "label": "W1", "value": value, "reference": "gaussians8", "n_samples": 100}


@pytest.fixture
def filled(tiny_points_run, tiny_image_run, tmp_path) -> Path:
    """A store holding three versions, two of them evaluated."""
    home = tmp_path / "home"
    store = ModelStore(home)
    store.register(tiny_points_run.run_dir, name="ring")
    store.add_metrics("ring:1", [w1(0.5)])
    store.import_(store.export("ring:1", tmp_path / "export"), name="ring")  # ring:2, its results travel along
    store.add_metrics(store.register(tiny_image_run.run_dir, name="digits").ref, [w1(7.25)])
    return home


def _remove(index: Path) -> None:
    for path in index.parent.glob("index.sqlite*"):
        path.unlink()


def _empty(index: Path) -> None:
    _remove(index)
    index.touch()


def _truncate(index: Path) -> None:
    data = index.read_bytes()
    index.write_bytes(data[: len(data) // 3])


def _garble(index: Path) -> None:
    index.write_bytes(b"this is not an SQLite database " * 200)


@pytest.mark.parametrize("damage", [_remove, _empty, _truncate, _garble], ids=["removed", "emptied", "truncated",
                                                                               "garbage"])
def test_a_lost_or_damaged_index_loses_no_model_and_the_index_is_rebuilt(filled, damage):
    before = {r.ref: r.metrics for r in ModelStore(filled).list()}
    files = model_files(filled)
    with sqlite3.connect(filled / "index.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # what a damaged copy on disk holds
    damage(filled / "index.sqlite")
    messages: list[str] = []
    try:
        store = ModelStore(filled, notify=messages.append)
    except IndexDamagedError as exc:  # an unreadable index: the open stops and names the repair
        assert "ganzoo models repair" in exc.hint and "never deletes" in exc.hint
        assert model_files(filled) == files
        report = repair_store(filled, notify=messages.append)
        assert report.index_moved_to is not None and report.index_moved_to.exists(), "the damaged index is kept"
        store = ModelStore(filled)
    else:  # a missing or empty index: the next open rebuilds it and says so
        assert any("re-indexed 3 model folder(s)" in m for m in messages), messages
    assert model_files(filled) == files, "no model file was deleted or changed"
    assert {r.ref: r.metrics for r in store.list()} == before, "every version is back, with its results"
    for record in store.list():
        for filename in store.files(record):
            store.file(record, filename)  # every file verifies against the rebuilt index
    assert store.register  # still a working store: a new version gets the next number
    assert store.import_(store.export("ring:2", filled.parent / "again"), name="ring").ref == "ring:3"


def test_the_hint_of_a_damaged_index_is_safe_to_follow_by_hand(filled):
    """Moving the index away (what the old hint said) and opening the store loses nothing either."""
    files = model_files(filled)
    for path in filled.glob("index.sqlite*"):
        path.rename(filled.parent / path.name)
    result = runner.invoke(app, ["models", "list"], env={"GANZOO_HOME": str(filled)})
    assert result.exit_code == 0, result.output
    assert all(ref in result.output for ref in ("ring:1", "ring:2", "digits:1"))
    assert model_files(filled) == files


def test_a_folder_whose_files_do_not_match_its_manifest_is_left_in_place_and_reported(filled):
    store = ModelStore(filled)
    damaged = store.get("ring:2").path
    (damaged / "generator.safetensors").write_bytes(b"changed")
    _remove(filled / "index.sqlite")
    messages: list[str] = []
    reopened = ModelStore(filled, notify=messages.append)
    assert sorted(r.ref for r in reopened.list()) == ["digits:1", "ring:1"]
    assert (damaged / "generator.safetensors").read_bytes() == b"changed", "left exactly as it was"
    assert any("damaged" in m and "generator.safetensors does not match its manifest" in m for m in messages)
    report = repair_store(filled, notify=lambda _: None)
    assert any(str(damaged) in line for line in report.damaged)
    assert damaged.is_dir()


def test_folders_that_are_not_versions_are_never_touched(filled):
    notes = filled / "models" / "ring" / "notes"  # not a version number
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    stray = filled / "models" / "UPPER-case" / "1"  # not a model name
    stray.mkdir(parents=True)
    (stray / "x").write_text("mine too")
    ModelStore(filled).list()
    report = repair_store(filled, notify=lambda _: None)
    assert (notes / "todo.txt").read_text() == "mine" and (stray / "x").read_text() == "mine too"
    assert str(notes) in report.ignored and str(stray) in report.ignored


KILLED_REMOVE = textwrap.dedent("""
    import os, sys
    from ganzoo.store import ModelStore
    store = ModelStore(sys.argv[1])
    store._finish_removals = lambda versions: os._exit(9)  # like SIGKILL after the commit, before the folders go
    store.remove(sys.argv[2])
""")


def test_a_removal_killed_after_its_commit_is_finished_not_undone(filled):
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": ""}
    folder = ModelStore(filled).get("ring:1").path
    done = subprocess.run([sys.executable, "-c", KILLED_REMOVE, str(filled), "ring:1"], env=env, timeout=300)
    assert done.returncode == 9 and folder.is_dir()
    store = ModelStore(filled)
    assert sorted(r.ref for r in store.list()) == ["digits:1", "ring:2"] and not folder.exists()
    with sqlite3.connect(filled / "index.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM removed").fetchone()[0] == 0


def test_trash_is_listed_and_emptied_only_on_request(filled, tiny_points_run):
    store = ModelStore(filled)
    staging = store.tmp_dir / "999999999-0123456789abcdef"  # a staging folder of a process that is gone
    staging.mkdir()
    (staging / "generator.safetensors").write_bytes(b"half a copy")
    messages: list[str] = []
    reopened = ModelStore(filled, notify=messages.append)
    [moved] = reopened.trash()
    assert (moved / "generator.safetensors").read_bytes() == b"half a copy"
    listed = runner.invoke(app, ["models", "trash"], env={"GANZOO_HOME": str(filled)})
    assert listed.exit_code == 0 and moved.name in listed.output and "--empty" in listed.output
    emptied = runner.invoke(app, ["models", "trash", "--empty", "--yes"], env={"GANZOO_HOME": str(filled)})
    assert emptied.exit_code == 0 and "deleted 1" in emptied.output and reopened.trash() == []


def test_models_repair_from_the_command_line(filled):
    _garble(filled / "index.sqlite")
    broken = runner.invoke(app, ["models", "list"], env={"GANZOO_HOME": str(filled)})
    assert isinstance(broken.exception, IndexDamagedError)  # `ganzoo` prints it as a message, exit status 2
    repaired = runner.invoke(app, ["models", "repair"], env={"GANZOO_HOME": str(filled)})
    assert repaired.exit_code == 0, repaired.output
    assert "moved aside" in repaired.output and "re-indexed" in repaired.output
    assert "checked every file of 3 stored version(s): all match" in repaired.output


# --- a store written by ganzoo 0.1.0 (index schema 1, no manifests) --------------------------------------------


@pytest.fixture
def legacy(tmp_path) -> Path:
    home = tmp_path / "legacy-home"
    shutil.copytree(FIXTURE, home, ignore=shutil.ignore_patterns("README.md", "*.npy"))
    return home


def test_a_store_from_an_older_ganzoo_opens_keeps_its_results_and_samples_identically(legacy):
    store = ModelStore(legacy)
    [record] = store.list()
    assert record.ref == "legacy-ring:1" and record.metrics[0]["value"] == pytest.approx(1.9239113715620213)
    expected = np.load(FIXTURE / "expected-samples-seed0-n16.npy")
    samples = ganzoo.load_generator("legacy-ring:1", store=store).sample(16, seed=0).numpy()
    assert np.array_equal(samples, expected)
    with sqlite3.connect(legacy / "index.sqlite") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    manifest = json.loads((record.path / "manifest.json").read_text())
    assert manifest["files"] == store.files(record) and manifest["results"] == list(record.metrics)


def test_an_old_folder_without_a_manifest_is_reindexed_from_its_config_and_files(legacy):
    files = model_files(legacy)
    _remove(legacy / "index.sqlite")  # the schema-1 index is lost before any new ganzoo opened the store
    messages: list[str] = []
    store = ModelStore(legacy, notify=messages.append)
    [record] = store.list()
    assert record.ref == "legacy-ring:1" and record.metrics == ()  # its results lived only in the lost index
    assert any("re-indexed 1 model folder(s)" in m for m in messages)
    assert model_files(legacy) == files
    expected = np.load(FIXTURE / "expected-samples-seed0-n16.npy")
    assert np.array_equal(ganzoo.load_generator("legacy-ring", store=store).sample(16, seed=0).numpy(), expected)


# --- symlinks ----------------------------------------------------------------------------------------------------


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("the user's private file")
    return path


def test_an_import_holding_a_symlink_is_refused_before_anything_is_written(filled, secret, tmp_path):
    store = ModelStore(filled)
    folder = store.export("ring:1", tmp_path / "shared")
    (folder / "curves.png").unlink()
    (folder / "curves.png").symlink_to(secret)
    before = all_files(filled)
    with pytest.raises(GanzooError, match="symlinks") as info:
        store.import_(folder, name="sneaky")
    assert "curves.png -> " in info.value.message and "cp -L" in info.value.hint
    assert all_files(filled) == before and list(store.tmp_dir.iterdir()) == []
    assert "sneaky" not in {r.name for r in store.list()}


def test_a_run_folder_holding_a_symlinked_folder_is_refused(filled, tiny_points_run, tmp_path, secret):
    run = tmp_path / "linked-run"
    shutil.copytree(tiny_points_run.run_dir, run)
    shutil.rmtree(run / "samples")
    (run / "samples").symlink_to(secret.parent)
    with pytest.raises(GanzooError, match="symlinks"):
        ModelStore(filled).import_(run, name="linked")


def test_a_symlink_planted_in_the_store_is_never_read_or_served(filled, secret):
    store = ModelStore(filled)
    record = store.get("ring:1")
    curves = record.path / "curves.png"
    curves.unlink()
    curves.symlink_to(secret)
    with pytest.raises(IntegrityError, match="symlink"):
        store.file(record, "curves.png")
    with pytest.raises(IntegrityError, match="symlink"):
        store.export("ring:1", filled.parent / "leak")
    assert not (filled.parent / "leak").exists()
