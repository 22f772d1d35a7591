"""The model store: registering, versions, names, integrity, safe loading, export/import, crashes, concurrency."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.plugin.loading import build_registry
from ganzoo.runs.checkpoint import load_checkpoint
from ganzoo.store import IntegrityError, ModelStore, default_home, parse_ref
from ganzoo.store.artifact import REQUIRED_KEYS
from ganzoo.store.index import ModelIndex
from ganzoo.store.loading import LoadedGenerator, load_critic, load_generator

POINTS_NAME = "mlp-wgan-gp-gaussians8"


@pytest.fixture
def store(ganzoo_home) -> ModelStore:
    return ModelStore()


def visible_version_dirs(store: ModelStore) -> list[Path]:
    return sorted(p for p in store.models_dir.glob("*/*"))


@pytest.fixture
def copies(tiny_points_run, tmp_path):
    """``copies(n)``: n copies of the tiny points run, each with its own run id (n different runs to store)."""
    def make(n: int) -> list[Path]:
        made = []
        for _ in range(n):
            copy = tmp_path / f"run-copy-{len(list(tmp_path.glob('run-copy-*')))}"
            shutil.copytree(tiny_points_run.run_dir, copy)
            config = json.loads((copy / "config.json").read_text())
            config["run_id"] = os.urandom(16).hex()
            (copy / "config.json").write_text(json.dumps(config))
            made.append(copy)
        return made

    return make


# --- registration --------------------------------------------------------------------------------------------


def test_default_home_is_ganzoo_home_else_dot_ganzoo(monkeypatch, tmp_path):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    monkeypatch.delenv("GANZOO_HOME")
    assert default_home() == Path.home() / ".ganzoo"


def test_register_stores_every_file_and_a_complete_config(store, tiny_points_run):
    record = store.register(tiny_points_run.run_dir)
    assert (record.name, record.version, record.ref) == (POINTS_NAME, 1, f"{POINTS_NAME}:1")
    assert record.path == store.home / "models" / POINTS_NAME / "1"
    assert (record.arch, record.loss, record.dataset) == ("mlp", "wgan-gp", "gaussians8")
    assert record.headline is None and record.metrics == ()
    for filename in ("generator.safetensors", "critic.safetensors", "config.json", "README.md", "samples.png",
                     "curves.png", "metrics.jsonl"):
        assert (record.path / filename).is_file(), filename
    assert {*store.files(record), "manifest.json"} == {p.name for p in record.path.iterdir()}
    manifest = json.loads((record.path / "manifest.json").read_text())
    assert manifest["files"] == store.files(record) and (manifest["name"], manifest["version"]) == (POINTS_NAME, 1)

    config = json.loads((record.path / "config.json").read_text())
    assert config == record.config
    assert set(REQUIRED_KEYS) <= set(config)
    assert config["format_version"] == 1 and config["name"] == POINTS_NAME
    assert config["latent_dim"] == 2 and config["shape"] == [2] and config["data_kind"] == "points"
    assert config["train_config"]["arch_options"] == {"hidden": 8, "layers": 2, "critic_norm": "none"}
    assert config["train_config"]["lr"] == 1e-3 and config["train_config"]["n_critic"] == 5
    assert config["ganzoo_version"] == ganzoo.__version__ and config["torch_version"] == torch.__version__
    for kind in ("arch", "loss", "dataset"):
        assert config["plugins"][kind]["distribution"] == "ganzoo"
        assert config["plugins"][kind]["version"] == ganzoo.__version__
    assert config["plugins"]["loss"]["paper"].startswith("Gulrajani")
    training = config["training"]
    assert training["steps"] == 2 and training["device"] == "cpu" and training["wall_time_s"] > 0
    # the stored generator is the run's final generator
    _, state = load_checkpoint(tiny_points_run.run_dir / "checkpoints")
    stored = load_file(str(record.path / "generator.safetensors"))
    assert stored.keys() == state["generator"].keys()
    assert all(torch.equal(stored[k], state["generator"][k]) for k in stored)


def test_versions_count_up_and_refs_resolve(store, copies):
    runs = copies(3)
    first = store.register(runs[0])
    second = store.register(runs[1])
    other = store.register(runs[2], name="aaa")
    assert [r.ref for r in store.list()] == ["aaa:1", f"{POINTS_NAME}:1", f"{POINTS_NAME}:2"]
    assert store.get(POINTS_NAME) == second
    assert store.get(f"{POINTS_NAME}:1") == first
    assert store.get(f"{POINTS_NAME}:latest") == second
    assert store.get("aaa").ref == other.ref == "aaa:1"
    assert parse_ref("x.y_z-1:12") == ("x.y_z-1", 12)


def test_versions_are_never_reused_after_removal(store, copies):
    runs = copies(4)
    store.register(runs[0], name="m")
    store.register(runs[1], name="m")
    assert [r.ref for r in store.remove("m:2")] == ["m:2"]
    assert not (store.models_dir / "m" / "2").exists()
    assert store.register(runs[2], name="m").version == 3
    assert store.register(runs[3], name="m").version == 4
    assert [r.ref for r in store.covered("m:latest")] == ["m:4"]
    assert [r.ref for r in store.remove("m:latest")] == ["m:4"]  # the newest only, as everywhere else
    assert [r.ref for r in store.covered("m")] == ["m:1", "m:3"]
    removed = store.remove("m")
    assert [r.ref for r in removed] == ["m:1", "m:3"]
    assert store.list() == [] and not (store.models_dir / "m").exists()
    with pytest.raises(UnknownNameError):
        store.remove("m")


def test_a_run_is_stored_once_whatever_name_is_asked_for(store, tiny_points_run):
    messages: list[str] = []
    store.notify = messages.append
    first = store.register(tiny_points_run.run_dir)
    again = store.register(tiny_points_run.run_dir, name="other-name")
    assert again == first and [r.ref for r in store.list()] == [f"{POINTS_NAME}:1"]
    assert any(f"already stored as {POINTS_NAME}:1" in m for m in messages)


def test_unknown_names_and_versions_suggest_what_exists(store, tiny_points_run):
    store.register(tiny_points_run.run_dir)
    with pytest.raises(UnknownNameError, match="no model called") as info:
        store.get("mlp-wgan-gp-gaussian8")
    assert POINTS_NAME in info.value.hint
    with pytest.raises(UnknownNameError, match="no version 7") as info:
        store.get(f"{POINTS_NAME}:7")
    assert "1" in info.value.hint


@pytest.mark.parametrize("bad", ["../evil", "a/b", ".hidden", "Upper", "a..b", "", "x" * 101, "a b", "a:b:c"])
def test_bad_names_are_refused_before_anything_is_written(store, tiny_points_run, bad):
    with pytest.raises(GanzooError, match="invalid"):
        store.register(tiny_points_run.run_dir, name=bad)
    with pytest.raises(GanzooError, match="invalid"):
        store.get(bad)
    assert store.list() == [] and visible_version_dirs(store) == []
    assert list(store.tmp_dir.iterdir()) == []


def test_an_unfinished_run_is_refused_with_the_resume_command(store, tiny_points_run, tmp_path):
    run = tmp_path / "unfinished"
    shutil.copytree(tiny_points_run.run_dir, run)
    meta = json.loads((run / "config.json").read_text())
    meta["config"]["steps"] = 10
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(GanzooError, match="stopped at step 2 of 10") as info:
        store.register(run)
    assert "--resume" in info.value.hint
    with pytest.raises(GanzooError, match="not a readable ganzoo run"):
        store.register(tmp_path / "nowhere")


# --- loading -------------------------------------------------------------------------------------------------


def test_load_generator_samples_reproducibly_and_matches_the_trained_generator(store, tiny_points_run):
    record = store.register(tiny_points_run.run_dir)
    generator = ganzoo.load_generator(record.ref)  # the lazily exported name
    assert isinstance(generator, LoadedGenerator) and not generator.training
    assert (generator.latent_dim, generator.shape, generator.data_kind) == (2, (2,), "points")
    assert generator.record.ref == record.ref
    a, b = generator.sample(32, seed=3), generator.sample(32, seed=3)
    assert a.shape == (32, 2) and torch.equal(a, b)
    assert not torch.equal(a, generator.sample(32, seed=4))
    again = load_generator(POINTS_NAME).sample(32, seed=3)  # a fresh load: bit-identical too
    assert torch.equal(a, again)
    # same function as the run's generator
    from ganzoo.api import make_config
    from ganzoo.plugin.loading import get_registry
    from ganzoo.train.build import build_parts

    config = make_config("mlp", "wgan-gp", "gaussians8", sets={"hidden": 8, "layers": 2}, steps=2, device="cpu")
    original = build_parts(config, get_registry()).generator
    original.load_state_dict(load_checkpoint(tiny_points_run.run_dir / "checkpoints")[1]["generator"])
    z = torch.randn(5, 2)
    assert torch.equal(original.eval()(z), generator(z))
    critic = load_critic(record.ref)
    assert critic is not None and critic(a).shape == (32,)


def test_loading_does_not_move_the_callers_random_stream(store, tiny_points_run):
    record = store.register(tiny_points_run.run_dir)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_generator(record.ref).sample(4, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_import_ganzoo_stays_cheap():
    code = "import sys, ganzoo; assert 'torch' not in sys.modules, 'import ganzoo pulled in torch'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_tampered_or_truncated_file_is_refused_naming_the_file(store, tiny_points_run, damage):
    record = store.register(tiny_points_run.run_dir)
    path = record.path / "generator.safetensors"
    data = path.read_bytes()
    if damage == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    with pytest.raises(IntegrityError, match="generator.safetensors") as info:
        load_generator(record.ref)
    assert "re-import" in info.value.hint and "re-train" in info.value.hint
    with pytest.raises(IntegrityError):
        store.export(record.ref, store.home.parent / "export")


def test_a_missing_architecture_plugin_names_the_distribution_to_install(store, tiny_points_run):
    import ganzoo_plugins.datasets
    import ganzoo_plugins.losses

    record = store.register(tiny_points_run.run_dir)
    without_archs = build_registry([("losses", ganzoo_plugins.losses, "ganzoo", ganzoo.__version__),
                                    ("datasets", ganzoo_plugins.datasets, "ganzoo", ganzoo.__version__)])
    with pytest.raises(GanzooError, match="architecture 'mlp'.*distribution ganzoo") as info:
        load_generator(record.ref, registry=without_archs)
    assert "pip install ganzoo" in info.value.hint


# --- export / import -----------------------------------------------------------------------------------------


def test_export_writes_a_hugging_face_style_folder_and_import_round_trips(store, tiny_points_run, tmp_path):
    record = store.register(tiny_points_run.run_dir, name="ring")
    store.add_metrics("ring", [{"metric": "modes", "label": "modes", "value": 6, "higher_is_better": True,
                                "n_samples": 1000, "reference": "gaussians8", "extractor": None}])
    out = store.export("ring", tmp_path / "exported")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.safetensors", "critic.safetensors", "config.json", "README.md", "samples.png", "curves.png",
         "metrics.jsonl", "results.json"])
    assert (out / "model.safetensors").read_bytes() == (record.path / "generator.safetensors").read_bytes()
    assert json.loads((out / "config.json").read_text())["arch"] == "mlp"
    with pytest.raises(GanzooError, match="not an empty folder"):
        store.export("ring", out)

    again = store.import_(out)  # the exported config names the model: a new version of it
    assert again.ref == "ring:2" and [m["value"] for m in again.metrics] == [6.0]
    renamed = store.import_(out, name="ring-copy")
    assert renamed.ref == "ring-copy:1"
    z = torch.randn(4, 2)
    assert torch.equal(load_generator("ring:1")(z), load_generator("ring-copy")(z))


def _exported(store: ModelStore, run_dir: Path, tmp_path: Path) -> Path:
    store.register(run_dir, name="src")
    out = store.export("src", tmp_path / "exported")
    store.remove("src")
    return out


def _edit_config(folder: Path, change) -> None:
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(("breakage", "message"), [
    (lambda d: (d / "config.json").unlink(), "no readable config.json"),
    (lambda d: (d / "config.json").write_text("{not json"), "not valid JSON"),
    (lambda d: _edit_config(d, lambda c: c.pop("latent_dim")), "lacks required keys: latent_dim"),
    (lambda d: _edit_config(d, lambda c: c.update(shape=[0])), "shape must be"),
    (lambda d: _edit_config(d, lambda c: c.update(format_version=99)), "format_version 99"),
    (lambda d: _edit_config(d, lambda c: c["train_config"]["arch_options"].update(hidden=16)),
     "wrong shape"),
    (lambda d: _edit_config(d, lambda c: c.update(arch="fancy-net", plugins={
        "arch": {"distribution": "ganzoo-fancy", "version": "1.2"}})), "pip install ganzoo-fancy"),
    (lambda d: (d / "model.safetensors").write_bytes(b"\x80\x04pickle?"), "not a readable safetensors"),
    (lambda d: (d / "model.safetensors").unlink(), "no model.safetensors"),
    (lambda d: save_file({"x": torch.zeros(2)}, str(d / "critic.safetensors")), "critic weights do not fit"),
    (lambda d: (d / "results.json").write_text("[{\"label\": \"x\"}]"), "lacks metric, value"),
])
def test_import_validates_everything_before_writing_anything(store, tiny_points_run, tmp_path, breakage, message):
    folder = _exported(store, tiny_points_run.run_dir, tmp_path)
    breakage(folder)
    with pytest.raises(GanzooError) as info:
        store.import_(folder, name="broken")
    assert message in str(info.value)
    assert store.list() == [] and visible_version_dirs(store) == [] and list(store.tmp_dir.iterdir()) == []


# --- metrics -------------------------------------------------------------------------------------------------


def fid(value: float, n: int = 2000) -> dict:
    return {"metric": "fid", "label": "FID[fashion-cnn]", "value": value, "extractor": "fashion-cnn",
            "n_samples": n, "reference": "fashion-mnist/test", "torch_fidelity_version": "0.4.0",
            "ganzoo_version": ganzoo.__version__, "measured_at": "2026-01-01T00:00:00+00:00",
            "higher_is_better": False}


def test_add_metrics_stores_results_replaces_remeasurements_and_rewrites_the_card(store, tiny_image_run):
    record = store.register(tiny_image_run.run_dir)
    card_before = (record.path / "README.md").read_text()
    updated = store.add_metrics(record.ref, [fid(41.23)])
    assert updated.metrics == (fid(41.23),) and updated.headline == "FID[fashion-cnn] 41.23"
    card = store.file(updated, "README.md").read_text()  # sha256 in the index follows the rewrite
    assert card != card_before and "41.23" in card
    modes = {"metric": "kid", "label": "KID[fashion-cnn]", "value": 0.01, "reference": "fashion-mnist/test"}
    updated = store.add_metrics(record.name, [fid(30.5, 5000), modes])
    assert [m["label"] for m in updated.metrics] == ["FID[fashion-cnn]", "KID[fashion-cnn]"]
    assert updated.metrics[0]["value"] == 30.5 and updated.headline == "FID[fashion-cnn] 30.5"
    assert updated.metrics[1]["ganzoo_version"] == ganzoo.__version__ and "measured_at" in updated.metrics[1]
    assert store.get(record.ref).metrics == updated.metrics


@pytest.mark.parametrize(("result", "message"), [
    ({"metric": "fid", "label": "FID"}, "lacks value"),
    ({"metric": "fid", "label": "FID", "value": float("nan")}, "finite number"),
    ({"metric": "fid", "label": "FID", "value": "12"}, "finite number"),
    ("fid=3", "must be a dict"),
])
def test_bad_metric_results_are_refused(store, tiny_points_run, result, message):
    record = store.register(tiny_points_run.run_dir)
    with pytest.raises(GanzooError, match=message):
        store.add_metrics(record.ref, [result])
    assert store.get(record.ref).metrics == ()


# --- crashes -------------------------------------------------------------------------------------------------


def test_a_failure_between_copy_and_commit_leaves_nothing_visible(store, tiny_points_run, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the folder was renamed, before the commit")

    monkeypatch.setattr(ModelIndex, "insert", crash)
    with pytest.raises(RuntimeError, match="simulated"):
        store.register(tiny_points_run.run_dir)
    assert store.list() == [] and visible_version_dirs(store) == [] and list(store.tmp_dir.iterdir()) == []
    monkeypatch.undo()
    assert store.register(tiny_points_run.run_dir).version == 1


CRASHER = textwrap.dedent("""
    import os, sys
    from ganzoo.store import ModelStore
    from ganzoo.store.index import ModelIndex
    store = ModelStore(sys.argv[1])
    def die(*args, **kwargs):
        os._exit(9)  # like SIGKILL: no cleanup, no rollback
    setattr(ModelIndex, sys.argv[3], die)
    store.register(sys.argv[2])
""")


@pytest.mark.parametrize("where", ["insert", "next_version"])
def test_a_killed_registration_is_invisible_then_recovered_on_next_open_and_nothing_is_deleted(
        tiny_points_run, tmp_path, where):
    home = tmp_path / "home"
    observer = ModelStore(home)
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": ""}
    done = subprocess.run([sys.executable, "-c", CRASHER, str(home), str(tiny_points_run.run_dir), where],
                          env=env, timeout=300)
    assert done.returncode == 9
    leftovers = [*observer.tmp_dir.iterdir(), *visible_version_dirs(observer)]
    assert leftovers, "the crash should have left a staging or an unindexed folder behind"
    assert observer.list() == []
    with pytest.raises(UnknownNameError):
        observer.get(POINTS_NAME)
    messages: list[str] = []
    reopened = ModelStore(home, notify=messages.append)
    assert list(reopened.tmp_dir.iterdir()) == []
    if where == "insert":  # killed after the complete folder was renamed into place: it is the model, re-indexed
        assert [r.ref for r in reopened.list()] == [f"{POINTS_NAME}:1"]
        assert any(f"re-indexed 1 model folder(s) the index did not list: {POINTS_NAME}:1" in m for m in messages)
        for filename in reopened.files(reopened.get(POINTS_NAME)):
            reopened.file(reopened.get(POINTS_NAME), filename)
    else:  # killed while staging: the half copy goes to trash/, never deleted, and the run can be stored
        assert reopened.list() == [] and len(reopened.trash()) == 1
        assert any("unfinished registration" in m and "trash" in m for m in messages)
        assert reopened.register(tiny_points_run.run_dir).ref == f"{POINTS_NAME}:1"


CARD_CRASHER = textwrap.dedent("""
    import os, sys
    from ganzoo.store import ModelStore
    store = ModelStore(sys.argv[1])
    real_replace = os.replace
    def die_before_the_card_rename(source, target, *args, **kwargs):
        if str(target).endswith("README.md"):
            os._exit(9)  # like SIGKILL: the index has committed, the new card is not in place
        return real_replace(source, target, *args, **kwargs)
    os.replace = die_before_the_card_rename
    store.add_metrics(sys.argv[2], [{"metric": "fid", "label": "FID[fashion-cnn]", "value": 12.75,
                                     "reference": "fashion-mnist/test"}])
""")


def pending_cards(store: ModelStore) -> list[Path]:
    return sorted(store.models_dir.glob("*/*/.README.md.pending-*"))


def test_a_crash_between_the_metrics_commit_and_the_card_rename_is_rolled_forward(tiny_image_run, tmp_path):
    home = tmp_path / "home"
    observer = ModelStore(home)  # a long-lived process (a server) that was open before the crash
    record = observer.register(tiny_image_run.run_dir)
    old_card = (record.path / "README.md").read_text()
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": ""}
    done = subprocess.run([sys.executable, "-c", CARD_CRASHER, str(home), record.ref], env=env, timeout=300)
    assert done.returncode == 9
    assert len(pending_cards(observer)) == 1 and (record.path / "README.md").read_text() == old_card
    card = observer.file(record, "README.md").read_text()  # the reader completes the rename, no IntegrityError
    assert "12.75" in card and pending_cards(observer) == []
    assert [m["value"] for m in observer.get(record.ref).metrics] == [12.75]


def test_a_store_opened_after_the_crash_finishes_the_card_and_drops_uncommitted_ones(tiny_image_run, tmp_path):
    home = tmp_path / "home"
    record = ModelStore(home).register(tiny_image_run.run_dir)
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": ""}
    assert subprocess.run([sys.executable, "-c", CARD_CRASHER, str(home), record.ref], env=env,
                          timeout=300).returncode == 9
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    uncommitted = record.path / f".README.md.pending-{dead}-0123abcd"  # a writer that died before its commit
    uncommitted.write_text("a card no index row names\n")
    in_flight = record.path / f".README.md.pending-{os.getpid()}-4567ef01"  # a live writer not yet committed
    in_flight.write_text("not committed yet\n")
    reopened = ModelStore(home)
    assert "12.75" in (record.path / "README.md").read_text()
    assert pending_cards(reopened) == [in_flight]
    assert "12.75" in reopened.file(record, "README.md").read_text()


def test_a_failure_before_the_metrics_commit_keeps_the_old_card_and_metrics(store, tiny_image_run, monkeypatch):
    record = store.add_metrics(store.register(tiny_image_run.run_dir).ref, [fid(41.23)])

    def crash(*args, **kwargs):
        raise RuntimeError("simulated failure inside the metrics transaction")

    monkeypatch.setattr(ModelIndex, "write_metrics", staticmethod(crash))
    with pytest.raises(RuntimeError, match="simulated"):
        store.add_metrics(record.ref, [fid(7.5)])
    assert pending_cards(store) == []
    assert [m["value"] for m in store.get(record.ref).metrics] == [41.23]
    assert "41.23" in store.file(record, "README.md").read_text()


# --- concurrency ---------------------------------------------------------------------------------------------


def test_an_empty_index_file_is_given_the_schema(tmp_path):
    (tmp_path / "index.sqlite").touch()  # e.g. made by `sqlite3 index.sqlite` by hand
    assert ModelStore(tmp_path).list() == []
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)


def test_an_index_from_a_newer_ganzoo_is_refused_with_the_fix(tmp_path):
    ModelStore(tmp_path)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(GanzooError, match="newer ganzoo") as info:
        ModelStore(tmp_path)
    assert "upgrade ganzoo" in info.value.hint


def _open_store_at_barrier(home: str, barrier, errors) -> None:
    barrier.wait()
    try:
        ModelStore(home).list()
    except Exception as exc:  # reported to the parent, which asserts there were none
        errors.put(str(exc))


def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path):
    # PRAGMA journal_mode does not wait for a lock: creating the index in place failed ~1 round in 4 with 6 processes
    fork = multiprocessing.get_context("fork")
    for round_ in range(8):
        barrier, errors = fork.Barrier(6), fork.Queue()
        procs = [fork.Process(target=_open_store_at_barrier, args=(str(tmp_path / f"home-{round_}"), barrier, errors))
                 for _ in range(6)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        assert [proc.exitcode for proc in procs] == [0] * 6
        assert errors.empty(), errors.get()
        assert list((tmp_path / f"home-{round_}" / "tmp").iterdir()) == []


REGISTERER = textwrap.dedent("""
    import pathlib, sys, time
    import ganzoo.store.artifact, ganzoo.store.cards  # heavy imports (torch) before the start line
    from ganzoo.plugin.loading import get_registry
    from ganzoo.store import ModelStore
    registry = get_registry()
    barrier = pathlib.Path(sys.argv[3])
    (barrier / f"ready-{sys.argv[4]}").touch()
    while not (barrier / "go").exists():  # every process starts registering at the same moment
        time.sleep(0.002)
    print(ModelStore(sys.argv[1]).register(sys.argv[2], name="race", registry=registry).version)
""")


def register_at_once(home: Path, runs: list[Path], barrier: Path) -> list[int]:
    """Register ``runs`` from one process each, all starting at the same moment; the versions they printed."""
    barrier.mkdir()
    n = len(runs)
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", REGISTERER, str(home), str(run), str(barrier), str(i)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, run in enumerate(runs)]
    deadline = time.monotonic() + 300
    while len(list(barrier.glob("ready-*"))) < n and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)
    (barrier / "go").touch()
    outputs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outputs]
    return sorted(int(out) for out, _ in outputs)


@pytest.mark.slow
def test_parallel_registrations_all_land_with_distinct_versions(copies, tmp_path):
    home, n = tmp_path / "fresh-home", 5  # fresh: they also race to create the index
    assert register_at_once(home, copies(n), tmp_path / "barrier") == list(range(1, n + 1))
    store = ModelStore(home)
    assert [r.ref for r in store.list()] == [f"race:{v}" for v in range(1, n + 1)]
    with sqlite3.connect(store.index_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 7 * n
    for record in store.list():
        for filename in store.files(record):
            store.file(record, filename)  # every file verifies
    assert list(store.tmp_dir.iterdir()) == []


def test_the_same_run_registered_by_racing_processes_is_stored_once(tiny_points_run, tmp_path):
    home = tmp_path / "fresh-home"
    assert register_at_once(home, [tiny_points_run.run_dir] * 3, tmp_path / "barrier") == [1, 1, 1]
    assert [r.ref for r in ModelStore(home).list()] == ["race:1"]


def test_a_run_directory_can_be_imported_and_brings_its_evaluation_results(store, tiny_points_run, tmp_path):
    run = tmp_path / "evaluated-run"
    shutil.copytree(tiny_points_run.run_dir, run)
    result = {"metric": "modes", "label": "modes", "value": 5, "reference": "gaussians8", "n_samples": 500}
    (run / "results.json").write_text(json.dumps([result]))  # what `ganzoo eval RUN_DIR` leaves
    record = store.import_(run, name="from-run")
    assert record.ref == "from-run:1" and record.metrics[0]["value"] == 5.0
    assert "| modes |" in store.file(record, "README.md").read_text()
