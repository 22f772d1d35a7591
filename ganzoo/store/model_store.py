"""The model store: every trained model, one folder per version, indexed in SQLite. No server needed.

Layout under ``GANZOO_HOME`` (default ``~/.ganzoo``)::

    index.sqlite                      the index (ganzoo.store.index)
    models/<name>/<version>/          generator.safetensors, critic.safetensors, config.json, README.md (the card),
                                      samples.png, curves.png, metrics.jsonl (the training log), manifest.json
    tmp/                              staging folders of registrations in progress (and trash being deleted)
    trash/                            what the store moved aside instead of deleting (``ganzoo models trash``)

:class:`ModelStore` publishes what :mod:`ganzoo.store.intake` checked, hands out its files after checking them, and
records evaluation results; :mod:`ganzoo.store.recovery` says what happens after a crash or a lost index.

What the store guarantees:

- **It never deletes a model folder the index does not list** (see :mod:`ganzoo.store.recovery`).
- **Crash safety**: a version's files are written into a staging folder inside ``GANZOO_HOME`` and fsynced; then,
  holding SQLite's write lock (``BEGIN IMMEDIATE``), the version number is taken, the folder renamed into place and
  the rows inserted in one transaction. A model is visible only through its index row, so a crash at any point leaves
  no half model visible. Several processes registering at once wait for the lock in turn (busy timeout) and get
  distinct versions. ``rm`` records the versions it removes in the same transaction that drops their rows.
- **A run is stored once**: a run's id (``run_id`` in its config.json) is indexed; registering the same run at the
  same number of steps again returns the version that holds it (an extended run is a new model).
- **Evaluation results rewrite the card**: the new card is written beside the old one as ``.README.md.pending-*``,
  its sha256 committed with the results, the manifest rewritten, then the card renamed into place; a crash between
  commit and rename is rolled forward by the next reader or store.
- **No links out of the store**: a folder holding a symlink is refused by import (before anything is written), and
  every read of a stored file refuses a symlink or a path that resolves outside the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any

from ganzoo.errors import GanzooError, UnknownNameError, is_storage_failure, storage_error
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.runs.files import copy_regular_file, is_within, sha256_file
from ganzoo.runs.results import merged_results
from ganzoo.store.cards import render_card
from ganzoo.store.folders import discard, fsync, owned_name, refuse_symlinks, staging, version_folders
from ganzoo.store.index import INDEX, SQLITE_SIDECARS, IndexDamagedError, ModelIndex
from ganzoo.store.intake import Intake, check_result, from_model_folder, from_run_folder
from ganzoo.store.records import (
    CARD_FILE,
    CONFIG_FILE,
    EXPORT_WEIGHTS,
    GENERATOR_FILE,
    MANIFEST_FILE,
    PENDING_CARD_PREFIX,
    RESULTS_FILE,
    IntegrityError,
    Layout,
    ModelRecord,
    default_home,
    now,
    parse_ref,
    stamp,
    validate_name,
)
from ganzoo.store.recovery import (
    RepairReport,
    adopt_orphans,
    finish_card,
    finish_pending_cards,
    recover,
    refresh_manifest,
)

#: The key of a stored config.json that holds a model's labels (``register(..., labels=...)``).
LABELS_KEY = "labels"


def _notify_stderr(message: str) -> None:
    print(f"ganzoo: {message}", file=sys.stderr)


class ModelStore:
    """The models under ``home`` (default :func:`default_home`). Cheap to create; safe to use from many processes.

    ``notify`` receives one line for each thing the store did on its own when it opened (re-indexing folders the
    index did not list, moving crash leftovers to ``trash/``) or declined to do (storing a run twice); by default
    the line goes to stderr.
    """

    def __init__(self, home: str | Path | None = None, *, notify: Callable[[str], None] | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.layout = Layout(self.home)
        self.models_dir, self.tmp_dir, self.trash_dir = (self.layout.models_dir, self.layout.tmp_dir,
                                                         self.layout.trash_dir)
        self.index_path = self.home / INDEX
        self.notify = notify or _notify_stderr
        #: What this store did on its own when it opened (see :mod:`ganzoo.store.recovery`).
        self.recovered = RepairReport(self.home)
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GanzooError(f"cannot create the model store at {self.home}: {exc}",
                              hint="set GANZOO_HOME to a writable folder") from exc
        self.index = ModelIndex(self.home, self.tmp_dir)
        if self.index.migrated:  # folders stored before manifests existed get theirs
            with self.index.connect() as conn:
                for record in self.index.records(conn):
                    if record.path.is_dir():
                        refresh_manifest(conn, self.layout, self.index, record.name, record.version)
        recover(self.layout, self.index, self.recovered)
        for line in self.recovered.open_lines():
            self.notify(line)

    # --- reading --------------------------------------------------------------------------------------------

    def list(self, *, sweep: str | None = None) -> list[ModelRecord]:
        """Every stored version, ordered by name then version; with ``sweep``, only the trials of that sweep (the
        versions registered with ``labels={"sweep": ...}``)."""
        with self.index.connect() as conn:
            records = self.index.records(conn)
        if sweep is None:
            return records
        return [r for r in records if (r.config.get(LABELS_KEY) or {}).get("sweep") == sweep]

    def newest(self) -> ModelRecord:
        """The version stored last (trained or imported), whatever its name; a clear error for an empty store."""
        with self.index.connect() as conn:
            record = self.index.newest(conn)
        if record is None:
            raise UnknownNameError(f"the model store at {self.home} holds no model yet",
                                   hint="`ganzoo train ARCH LOSS` stores one when it finishes; "
                                        "`ganzoo models import DIR` adds an exported one")
        return record

    def get(self, ref: str) -> ModelRecord:
        """``"name"`` (its newest version) or ``"name:version"``; unknown names suggest close matches."""
        name, version = parse_ref(ref)
        with self.index.connect() as conn:
            return self.index.get(conn, name, version)

    def find_run(self, run_id: str | None, steps: int, source: str | None = None) -> ModelRecord | None:
        """The version that stores run ``run_id`` trained to ``steps`` (a run is stored once at each length); a run
        folder made before runs had ids is recognised by its ``source`` path."""
        with self.index.connect() as conn:
            return self.index.by_run(conn, run_id, steps, source)

    def files(self, record: ModelRecord) -> dict[str, dict[str, Any]]:
        """filename -> {sha256, size} as recorded in the index."""
        with self.index.connect() as conn:
            return self.index.files(conn, record.name, record.version)

    def file(self, record: ModelRecord, filename: str) -> Path:
        """The path of ``filename`` of ``record`` after checking its size and sha256 against the index.

        A symlink, or a path that resolves outside the store, is refused: the store hands out only its own files.
        """
        if filename == CARD_FILE and any(record.path.glob(f"{PENDING_CARD_PREFIX}*")):
            finish_pending_cards(self.layout, self.index)  # another process may have died between commit and rename
        recorded = self.files(record).get(filename)
        if recorded is None:
            raise GanzooError(f"model {record.ref} has no file {filename!r}",
                              hint=f"its files: {', '.join(self.files(record))}")
        path = record.path / filename
        fix = (f"re-import the model (`ganzoo models import DIR`) or re-train it; `ganzoo models rm {record.ref}` "
               "removes the damaged copy")
        if path.is_symlink() or record.path.is_symlink() or not is_within(path, self.models_dir):
            raise IntegrityError(f"model {record.ref}: {filename} is a symlink or lies outside the store ({path}); "
                                 "the store never follows links out of its folders", hint=fix)
        if not path.is_file():
            raise IntegrityError(f"model {record.ref}: {filename} is missing ({path})", hint=fix)
        actual_size = path.stat().st_size
        if actual_size != recorded["size"]:
            raise IntegrityError(f"model {record.ref}: {filename} has {actual_size} bytes, the index recorded "
                                 f"{recorded['size']} (truncated or changed after it was stored)", hint=fix)
        if sha256_file(path) != recorded["sha256"]:
            raise IntegrityError(f"model {record.ref}: {filename} does not match its recorded sha256 (changed after "
                                 "it was stored)", hint=fix)
        return path

    # --- writing --------------------------------------------------------------------------------------------

    def register(self, run_dir: str | Path, name: str | None = None, *, registry: Registry | None = None,
                 labels: Mapping[str, Any] | None = None) -> ModelRecord:
        """Store the model of a finished ``ganzoo train`` run directory as ``name`` (default arch-loss-dataset).

        ``labels`` (JSON values) are kept in the stored config.json under ``"labels"``: e.g. the sweep and trial a
        model belongs to (``list(sweep=...)`` finds them). A run already in the store (same run id, same steps) is
        not stored again: its version is returned, with a message.
        """
        intake = from_run_folder(Path(run_dir), name, registry or get_registry())
        if labels:
            intake.config = {**intake.config, LABELS_KEY: json.loads(json.dumps(dict(labels)))}
        stored = self.find_run(intake.config.get("run_id"), intake.steps, intake.source)
        if stored is not None:
            self.notify(f"run {run_dir} is already stored as {stored.ref}; a run is stored once")
            return stored
        return self.publish(intake)

    def import_(self, directory: str | Path, name: str | None = None, *, registry: Registry | None = None
                ) -> ModelRecord:
        """Store a folder made by :meth:`export` (or laid out the same way) after validating it completely (see
        :func:`ganzoo.store.intake.from_model_folder`); a ``ganzoo train`` run directory is registered instead."""
        directory = Path(directory)
        if name is not None:
            validate_name(name)
        if not directory.is_dir():
            raise GanzooError(f"{directory} is not a folder", hint="pass the folder `ganzoo models export` wrote")
        refuse_symlinks(directory, f"model folder {directory}")
        if (directory / "checkpoints").is_dir() and not (directory / EXPORT_WEIGHTS).exists():
            return self.register(directory, name, registry=registry)
        return self.publish(from_model_folder(directory, name, registry or get_registry()))

    def publish(self, intake: Intake) -> ModelRecord:
        """Write a new version of ``intake.name`` atomically (see the module docstring)."""
        name, source = intake.name, intake.source
        config = {**intake.config, "name": name}
        folder = staging(self.tmp_dir)
        published: Path | None = None
        try:
            for filename, write in intake.writers.items():
                write(folder / filename)
            (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            hashes = {}
            for path in sorted(folder.iterdir()):  # hashed and flushed before taking the lock: keep it short
                fsync(path)
                hashes[path.name] = (sha256_file(path), path.stat().st_size)
            with self.index.write() as conn:
                while True:
                    already = self.index.by_run(conn, config.get("run_id"), intake.steps, source) if intake.once \
                        else None
                    if already is not None:  # stored meanwhile, e.g. a crashed registration re-indexed on open
                        shutil.rmtree(folder, ignore_errors=True)
                        self.notify(f"run {source} is already stored as {already.ref}; a run is stored once")
                        return already
                    version = self.index.next_version(conn, name)
                    target = self.layout.version_dir(name, version)
                    if not target.exists():
                        break
                    # a folder without a row at the next version: left by a registration that crashed after its
                    # rename. It is a complete model: index it (or leave it, damaged), never delete it, and go on.
                    adopt_orphans(conn, self.layout, self.index, [(name, str(version))], self.recovered)
                created = now()
                card = render_card(config, intake.results, f"{name}:{version}",
                                   files=[*intake.writers, CONFIG_FILE])
                (folder / CARD_FILE).write_text(card, encoding="utf-8")  # the card names the version
                fsync(folder / CARD_FILE)
                hashes[CARD_FILE] = (sha256_file(folder / CARD_FILE), (folder / CARD_FILE).stat().st_size)
                fsync(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(folder, target)
                published = target
                fsync(target.parent)
                self.index.insert(conn, name, version, target, created, config, hashes, intake.results, source)
                refresh_manifest(conn, self.layout, self.index, name, version)
            published = None
        except BaseException as exc:
            if published is not None:
                shutil.rmtree(published, ignore_errors=True)
            shutil.rmtree(folder, ignore_errors=True)
            if is_storage_failure(exc) and not isinstance(exc, GanzooError):
                raise storage_error(exc, f"storing model {name} in {self.home}",
                                    hint="the store is unchanged; try again when there is room") from exc
            raise
        return self.get(f"{name}:{version}")

    def add_metrics(self, ref: str, results: list[dict[str, Any]]) -> ModelRecord:
        """Record evaluation results for ``ref`` and rewrite its model card.

        A result replaces an earlier one with the same label and reference split (a re-measurement); others are
        appended. Each result needs ``metric``, ``label`` and a finite numeric ``value``; ``ganzoo_version`` and
        ``measured_at`` are filled in when absent.
        """
        checked = [check_result(r) for r in results]
        name, version = parse_ref(ref)
        with self.index.write() as conn:
            record = self.index.get(conn, name, version)
            merged = merged_results(record.metrics, checked)
            card = render_card(record.config, merged, record.ref,
                               files=list(self.index.files(conn, record.name, record.version)))
            pending = record.path / (PENDING_CARD_PREFIX + owned_name())
            try:
                pending.write_text(card, encoding="utf-8")
                fsync(pending)
                self.index.write_metrics(conn, record.name, record.version, merged)
                self.index.set_file(conn, record.name, record.version, CARD_FILE, sha256_file(pending),
                                    pending.stat().st_size)
            except BaseException as exc:
                pending.unlink(missing_ok=True)
                if is_storage_failure(exc) and not isinstance(exc, GanzooError):
                    raise storage_error(exc, f"writing the model card of {record.ref}",
                                        hint="the store is unchanged (results and card as before)") from exc
                raise
        # Committed: the index now names the new card, which waits in ``pending``. A crash before this rename is
        # rolled forward by the next store that opens, which also rewrites the manifest.
        finish_card(self.layout, self.index, record.name, record.version, pending)
        return self.get(record.ref)

    def covered(self, ref: str) -> list[ModelRecord]:
        """What :meth:`remove` would remove: ``name:N`` or ``name:latest`` one version, ``name`` every version."""
        with self.index.connect() as conn:
            return self.index.covered(conn, ref)

    def remove(self, ref: str) -> list[ModelRecord]:
        """Remove ``name:version`` (``name:latest``: the newest), or every version of ``name``; returns them.

        The rows go and the versions are recorded as removed in one transaction; then the folders are deleted. A
        crash in between is finished by the next open (the folders are not brought back).
        """
        with self.index.write() as conn:
            removed = self.index.covered(conn, ref)
            for record in removed:
                self.index.drop(conn, record.name, record.version)
        self._finish_removals([(r.name, r.version) for r in removed])
        with contextlib.suppress(OSError):  # the name's folder, once its last version is gone
            (self.models_dir / removed[0].name).rmdir()
        return removed

    def _finish_removals(self, versions: list[tuple[str, int]]) -> None:
        for name, version in versions:
            discard(self.layout.version_dir(name, version), self.tmp_dir)
        with self.index.write() as conn:
            self.index.forget_removed(conn, versions)

    def export(self, ref: str, directory: str | Path) -> Path:
        """Write ``ref`` as a self-contained folder in the Hugging Face model-repository layout.

        ``model.safetensors`` (generator), ``critic.safetensors``, ``config.json``, ``README.md`` (the card),
        ``samples.png``, ``curves.png``, ``metrics.jsonl`` and ``results.json`` (evaluation results). Every file
        is checked against its recorded sha256 first. ``directory`` must not exist or be empty. An export is meant for
        sharing: its config.json names the run folder it came from (``source_run``) by its name only, never by its
        path on this machine.
        """
        record = self.get(ref)
        directory = Path(directory)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise GanzooError(f"{directory} already exists and is not an empty folder",
                              hint="choose a new folder; export never overwrites")
        sources = {filename: self.file(record, filename) for filename in self.files(record)}
        target = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}.tmp")
        try:
            target.mkdir(parents=True)
            for filename, path in sources.items():
                if filename == CONFIG_FILE:
                    write_shareable_config(path, target / CONFIG_FILE)
                    continue
                copy_regular_file(path, target / (EXPORT_WEIGHTS if filename == GENERATOR_FILE else filename))
            (target / RESULTS_FILE).write_text(json.dumps(list(record.metrics), indent=2, sort_keys=True) + "\n",
                                               encoding="utf-8")
            if directory.exists():
                directory.rmdir()
            os.rename(target, directory)
        except BaseException as exc:
            shutil.rmtree(target, ignore_errors=True)
            if is_storage_failure(exc):
                raise storage_error(exc, f"exporting {record.ref} to {directory}",
                                    hint="nothing was written; the store is unchanged") from exc
            raise
        return directory

    # --- the trash ------------------------------------------------------------------------------------------

    def trash(self) -> list[Path]:
        """What the store moved aside instead of deleting, oldest first."""
        return sorted(self.trash_dir.iterdir()) if self.trash_dir.is_dir() else []

    def empty_trash(self) -> list[Path]:
        """Delete everything in ``trash/``; returns what was deleted."""
        emptied = self.trash()
        for path in emptied:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        return emptied


def repair_store(home: str | Path | None = None, *, notify: Callable[[str], None] | None = None) -> RepairReport:
    """``ganzoo models repair``: rebuild what the index lost from the model folders, and check every stored file.

    An index that cannot be read is moved aside (``index.sqlite.damaged-<time>``, with its journal) and a new one is
    built; folders without a row are re-indexed from their manifests; every indexed file is checked against its
    sha256. Nothing is deleted: problems are reported.
    """
    home = Path(home).expanduser() if home is not None else default_home()
    moved: Path | None = None
    silent: list[str] = []  # the open's own messages: the report below says all of it
    try:
        store = ModelStore(home, notify=silent.append)
    except IndexDamagedError:
        index = home / INDEX
        moved = index.with_name(f"{INDEX}.damaged-{stamp()}")
        for end in ("", *SQLITE_SIDECARS):
            if index.with_name(INDEX + end).exists():
                os.rename(index.with_name(INDEX + end), moved.with_name(moved.name + end))
        store = ModelStore(home, notify=silent.append)
    report = store.recovered
    report.index_moved_to = moved
    with store.index.write() as conn:  # folders that appeared since the open (e.g. another process crashed meanwhile)
        adopt_orphans(conn, store.layout, store.index,
                      sorted(version_folders(store.models_dir) - store.index.known(conn)), report)
    shaped = version_folders(store.models_dir)
    report.ignored = sorted(str(d) for d in store.models_dir.glob("*/*") if (d.parent.name, d.name) not in shaped)
    records = store.list()
    for record in records:
        for filename in store.files(record):
            try:
                store.file(record, filename)
            except GanzooError as exc:
                report.missing.append(exc.message)
    report.checked = len(records)
    for line in report.lines():
        (notify or _notify_stderr)(line)
    return report


__all__ = ["MANIFEST_FILE", "ModelStore", "repair_store"]


def write_shareable_config(path: Path, target: Path) -> None:
    """Copy a stored config.json to ``target`` with ``source_run`` cut to the run folder's name (no local path)."""
    config = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(config.get("source_run"), str):
        config["source_run"] = PurePath(config["source_run"]).name
    target.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
