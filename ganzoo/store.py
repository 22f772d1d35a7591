"""The model store: every trained model, one folder per version, indexed in SQLite. No server needed.

Layout under ``GANZOO_HOME`` (default ``~/.ganzoo``)::

    index.sqlite                      models(name, version, ..., run_id), files(..., sha256, size), metrics(...),
                                      names (the last version of each name), removed (versions being deleted)
    models/<name>/<version>/          generator.safetensors, critic.safetensors, config.json, README.md (the card),
                                      samples.png, curves.png, metrics.jsonl (the training log), manifest.json
    tmp/                              staging folders of registrations in progress (and trash being deleted)
    trash/                            what the store moved out of the way instead of deleting (``ganzoo models trash``)

What the store guarantees:

- **It never deletes a model folder the index does not list.** The index is rebuilt from the folders when it is
  lost: every version folder holds ``manifest.json`` (its index rows: files with sha256 and size, evaluation
  results, created, source, run id), rewritten whenever those rows change. A folder without a row is re-indexed from
  its manifest (files checked against it) on the next open, with a message; a folder made before manifests existed
  is re-indexed from its config.json with fresh checksums. ``ganzoo models repair`` does the same on demand, moves a
  damaged index aside (kept) before rebuilding it, and checks every stored file.
- **Crash safety**: a version's files are written into a staging folder inside ``GANZOO_HOME`` and fsynced; then,
  holding SQLite's write lock (``BEGIN IMMEDIATE``), the version number is taken, the folder renamed into place and
  the rows inserted in one transaction. A model is visible only through its index row, so a crash at any point leaves
  no half model visible: a staging folder of a dead process is moved to ``trash/``, and a complete folder renamed in
  just before the crash is re-indexed (its run is then stored, once). Several processes registering at once wait for
  the lock in turn (busy timeout) and get distinct versions. ``rm`` records the versions it removes in the same
  transaction that drops their rows, so a crash before their folders are gone is finished on the next open instead
  of bringing them back.
- **A run is stored once**: a run's id (``run_id`` in its config.json) is indexed; registering the same run at the
  same number of steps again returns the version that holds it (an extended run is a new model).
- Evaluation results rewrite the card: the new card is written beside the old one as ``.README.md.pending-*``, its
  sha256 committed with the results, the manifest rewritten, then the card renamed into place; a crash between
  commit and rename is rolled forward by the next reader or store, so the recorded sha256 and the card on disk never
  disagree for long.
- **No links out of the store**: a folder holding a symlink is refused by import (before anything is written), and
  every read of a stored file refuses a symlink or a path that resolves outside the store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import errno
import json
import math
import os
import re
import shutil
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo import __version__
from ganzoo.errors import GanzooError, StorageError, UnknownNameError, is_storage_failure, storage_error
from ganzoo.files import atomic_write_json, copy_regular_file, is_within, sha256_file, symlinks_in

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
INDEX = "index.sqlite"
SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 120.0
#: Files of a stored version: the first two are required, the rest are stored when the source has them.
GENERATOR_FILE, CRITIC_FILE, CONFIG_FILE, CARD_FILE = ("generator.safetensors", "critic.safetensors", "config.json",
                                                       "README.md")
SAMPLES_FILE, CURVES_FILE, LOG_FILE, RESULTS_FILE = "samples.png", "curves.png", "metrics.jsonl", "results.json"
#: A version folder's own copy of its index rows (not a model file: not in the files table, never exported).
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "ganzoo-store-entry"
PENDING_CARD_PREFIX = f".{CARD_FILE}.pending-"  # a rewritten card between its index commit and its rename
EXPORT_WEIGHTS = "model.safetensors"  # the Hugging Face model-repository name for the generator weights
METRIC_KEYS = ("metric", "label", "value")
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
REPAIR_HINT = ("run `ganzoo models repair`: it moves the damaged index aside (kept, never deleted) and rebuilds it "
               "from the model folders, which it never deletes")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS names (name TEXT PRIMARY KEY, last_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL, version INTEGER NOT NULL, created TEXT NOT NULL, path TEXT NOT NULL,
    arch TEXT NOT NULL, loss TEXT NOT NULL, dataset TEXT NOT NULL, config TEXT NOT NULL, source TEXT, run_id TEXT,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS files (
    name TEXT NOT NULL, version INTEGER NOT NULL, filename TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (name, version, filename));
CREATE TABLE IF NOT EXISTS metrics (
    name TEXT NOT NULL, version INTEGER NOT NULL, position INTEGER NOT NULL, metric TEXT NOT NULL,
    label TEXT NOT NULL, value REAL NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (name, version, position));
CREATE TABLE IF NOT EXISTS removed (name TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, version));
"""
MODEL_COLUMNS = "name, version, created, path, arch, loss, dataset, config, source, run_id"


class IntegrityError(GanzooError):
    """A stored file that is missing, truncated or changed since it was stored."""


class IndexDamagedError(GanzooError):
    """The SQLite index cannot be read (not a database, truncated, malformed): ``ganzoo models repair`` rebuilds it."""


def default_home() -> Path:
    """``$GANZOO_HOME``, else ``~/.ganzoo``."""
    env = os.environ.get("GANZOO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".ganzoo"


def validate_name(name: str) -> str:
    """A model name: lowercase letters, digits, ``.``, ``_``, ``-``; starts with a letter or digit; no ``..``."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise GanzooError(f"invalid model name {name!r}",
                          hint="use 1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or "
                               "digit, without '..' or '/', e.g. dcgan-wgan-gp-fashion")
    return name


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"name"`` -> (name, None); ``"name:3"`` -> (name, 3); ``"name:latest"`` -> (name, None)."""
    if not isinstance(ref, str):
        raise GanzooError(f"a model reference must be a string, got {ref!r}", hint="e.g. mlp-wgan-gp-gaussians8:1")
    name, sep, version = ref.partition(":")
    validate_name(name)
    if not sep or version == "latest":
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise GanzooError(f"invalid version {version!r} in {ref!r}", hint=f"use {name} (newest) or {name}:N, N >= 1")
    return name, int(version)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's contents to disk (folders: their entries), where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _notify_stderr(message: str) -> None:
    print(f"ganzoo: {message}", file=sys.stderr)


@dataclass(frozen=True)
class ModelRecord:
    """One stored model version. ``config`` is its config.json; ``metrics`` its evaluation results, oldest first."""

    name: str
    version: int
    created: str
    path: Path = field(compare=False)
    config: dict[str, Any] = field(compare=False, repr=False)
    metrics: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def arch(self) -> str:
        return str(self.config["arch"])

    @property
    def loss(self) -> str:
        return str(self.config["loss"])

    @property
    def dataset(self) -> str:
        return str(self.config["dataset"])

    @property
    def headline(self) -> str | None:
        """The one-line quality figure: the newest FID if there is one, else the newest result, e.g. "FID[x] 41.2"."""
        if not self.metrics:
            return None
        fids = [m for m in self.metrics if m.get("metric") == "fid"]
        best = (fids or list(self.metrics))[-1]
        return f"{best['label']} {_format_value(best['value'])}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``ganzoo models list --json``)."""
        return {"name": self.name, "version": self.version, "ref": self.ref, "created": self.created,
                "path": str(self.path), "arch": self.arch, "loss": self.loss, "dataset": self.dataset,
                "headline": self.headline, "metrics": list(self.metrics), "config": self.config}


def _format_value(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclass
class RepairReport:
    """What :func:`repair_store` (``ganzoo models repair``), or a store's open, found and did. Nothing was deleted."""

    home: Path
    index_moved_to: Path | None = None
    reindexed: list[str] = field(default_factory=list)
    trashed: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    checked: int = 0

    def lines(self) -> list[str]:
        out = []
        if self.index_moved_to is not None:
            out.append(f"the index could not be read: moved aside to {self.index_moved_to} and rebuilt")
        out += [f"re-indexed {ref}" for ref in self.reindexed]
        out += [f"moved to trash: {what}" for what in self.trashed]
        out += [f"damaged, left in place and not indexed: {what}" for what in self.damaged]
        out += [f"not a model folder, left alone: {what}" for what in self.ignored]
        out += [f"indexed but damaged: {what}" for what in self.missing]
        out.append(f"checked every file of {self.checked} stored version(s)"
                   + ("" if self.missing else ": all match their sha256"))
        return out


class ModelStore:
    """The models under ``home`` (default :func:`default_home`). Cheap to create; safe to use from many processes.

    ``notify`` receives one line for each thing the store did on its own when it opened (re-indexing folders the
    index did not list, moving crash leftovers to ``trash/``); by default the line goes to stderr.
    """

    def __init__(self, home: str | Path | None = None, *, notify: Callable[[str], None] | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.models_dir = self.home / "models"
        self.tmp_dir = self.home / "tmp"
        self.trash_dir = self.home / "trash"
        self.index_path = self.home / INDEX
        self.notify = notify or _notify_stderr
        #: What this store did on its own when it opened (see :meth:`_recover`).
        self.recovered = RepairReport(self.home)
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GanzooError(f"cannot create the model store at {self.home}: {exc}",
                              hint="set GANZOO_HOME to a writable folder") from exc
        self._init_schema()
        self._recover()

    # --- SQLite ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit) with a long busy timeout."""
        try:
            conn = sqlite3.connect(self.index_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise GanzooError(f"cannot open the model index {self.index_path}: {exc}",
                              hint="check that GANZOO_HOME is writable") from exc
        try:
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        except sqlite3.DatabaseError as exc:
            raise self._index_error(exc) from exc
        finally:
            conn.close()

    def _index_error(self, exc: sqlite3.DatabaseError) -> GanzooError:
        """What an SQLite failure means for a user: a full disk, no permission, a lock held too long, or damage."""
        code = getattr(exc, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL:
            return storage_error(OSError(errno.ENOSPC, str(exc)), f"writing the model index {self.index_path}",
                                 hint="the store is unchanged")
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
            return storage_error(OSError(errno.EACCES, str(exc)), f"writing the model index {self.index_path}",
                                 hint="set GANZOO_HOME to a folder you can write to; the store is unchanged")
        if code is not None and code & 0xFF == sqlite3.SQLITE_IOERR:  # SQLite's own code for a failed read or write
            return StorageError(f"reading or writing the model index {self.index_path} failed: {exc} (a full disk "
                                "or a failing drive)", hint="free some disk space and try again; the store is "
                                                            "unchanged")
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return GanzooError(f"the model index {self.index_path} stayed locked by another process for "
                               f"{BUSY_TIMEOUT_S:.0f} s", hint="wait for the other ganzoo command to finish, then "
                                                               "try again")
        return IndexDamagedError(f"the model index {self.index_path} cannot be read: {exc}", hint=REPAIR_HINT)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding SQLite's write lock from the start (BEGIN IMMEDIATE); rolled back on error."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _init_schema(self) -> None:
        """Create the index once (WAL journal: readers never block the writer), bring an older one up to date, refuse
        a newer one.

        A new index is built whole in tmp/ and hard-linked into place, which fails if another process got there
        first: processes opening a fresh store at once never race on the schema or on the journal-mode switch
        (``PRAGMA journal_mode`` needs an exclusive lock and does not wait for it).
        """
        if not self.index_path.exists():
            self._set_aside_sidecars()
            self._create_index()
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
                with self._write() as writer:  # an empty index file, e.g. made by sqlite3 by hand: fill it in place
                    self._create_schema(writer)
            version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise GanzooError(f"the model store {self.home} was made by a newer ganzoo (index schema {version})",
                              hint="upgrade ganzoo (pip install -U ganzoo), or use another GANZOO_HOME")
        if version < SCHEMA_VERSION:
            self._migrate()

    def _set_aside_sidecars(self) -> None:
        """A journal left beside an index that is gone belongs to that index; SQLite would replay it into a new one."""
        for end in SQLITE_SIDECARS:
            stale = self.index_path.with_name(INDEX + end)
            if stale.exists():
                with contextlib.suppress(OSError):
                    os.rename(stale, stale.with_name(f"{stale.name}.stale-{_stamp()}"))

    def _create_index(self) -> None:
        staged = self.tmp_dir / _owned_name(INDEX)
        try:
            conn = sqlite3.connect(staged, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")  # recorded in the file: every later connection uses it
                conn.execute("BEGIN IMMEDIATE")
                self._create_schema(conn)
                conn.execute("COMMIT")
            finally:
                conn.close()
            with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                os.link(staged, self.index_path)
        except (OSError, sqlite3.Error) as exc:
            raise GanzooError(f"cannot create the model index {self.index_path}: {exc}",
                              hint="check that GANZOO_HOME is writable") from exc
        finally:
            for leftover in (staged, *(staged.with_name(staged.name + end) for end in SQLITE_SIDECARS)):
                leftover.unlink(missing_ok=True)

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        """The tables, inside the caller's transaction (not executescript: it would commit it)."""
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _migrate(self) -> None:
        """Schema 1 -> 2: the run_id column, the removed table, and a manifest in every version folder."""
        with self._write() as conn:
            version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
            if version >= SCHEMA_VERSION:  # another process migrated it while we waited for the lock
                return
            columns = {row[1] for row in conn.execute("PRAGMA table_info(models)")}
            if "run_id" not in columns:
                conn.execute("ALTER TABLE models ADD COLUMN run_id TEXT")
            self._create_schema(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            for record in self._records(conn):
                if record.path.is_dir():
                    self._write_manifest(conn, record.name, record.version)

    # --- reading --------------------------------------------------------------------------------------------

    def _records(self, conn: sqlite3.Connection, where: str = "", args: Sequence[Any] = ()) -> list[ModelRecord]:
        rows = conn.execute(f"SELECT name, version, created, path, config FROM models {where} "
                            "ORDER BY name, version", tuple(args)).fetchall()
        results: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for name, version, result in conn.execute(
                f"SELECT name, version, result FROM metrics {where} ORDER BY name, version, position", tuple(args)):
            results.setdefault((name, version), []).append(json.loads(result))
        return [ModelRecord(name, version, created, self.home / path, json.loads(config),
                            tuple(results.get((name, version), ())))
                for name, version, created, path, config in rows]

    def list(self) -> list[ModelRecord]:
        """Every stored version, ordered by name then version."""
        with self._connect() as conn:
            return self._records(conn)

    def newest(self) -> ModelRecord:
        """The version stored last (trained or imported), whatever its name; a clear error for an empty store."""
        with self._connect() as conn:
            row = conn.execute("SELECT name, version FROM models ORDER BY rowid DESC LIMIT 1").fetchone()
            if row is None:
                raise UnknownNameError(f"the model store at {self.home} holds no model yet",
                                       hint="`ganzoo train ARCH LOSS` stores one when it finishes; "
                                            "`ganzoo models import DIR` adds an exported one")
            return self._get(conn, *row)

    def get(self, ref: str) -> ModelRecord:
        """``"name"`` (its newest version) or ``"name:version"``; unknown names suggest close matches."""
        name, version = parse_ref(ref)
        with self._connect() as conn:
            return self._get(conn, name, version)

    def find_run(self, run_id: str | None, steps: int, source: str | None = None) -> ModelRecord | None:
        """The version that stores run ``run_id`` trained to ``steps`` (a run is stored once at each length); a run
        folder made before runs had ids is recognised by its ``source`` path."""
        with self._connect() as conn:
            return self._by_run(conn, run_id, steps, source)

    def _by_run(self, conn: sqlite3.Connection, run_id: str | None, steps: Any,
                source: str | None = None) -> ModelRecord | None:
        if run_id:
            rows = conn.execute("SELECT name, version, config FROM models WHERE run_id = ? ORDER BY rowid", (run_id,))
        elif source:
            rows = conn.execute("SELECT name, version, config FROM models WHERE run_id IS NULL AND source = ? "
                                "ORDER BY rowid", (source,))
        else:
            return None
        for name, version, config in rows.fetchall():
            if (json.loads(config).get("training") or {}).get("steps") == steps:
                return self._get(conn, name, version)
        return None

    def _get(self, conn: sqlite3.Connection, name: str, version: int | None) -> ModelRecord:
        records = self._records(conn, "WHERE name = ?", (name,))
        if not records:
            names = [row[0] for row in conn.execute("SELECT DISTINCT name FROM models")]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            suggestion = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise UnknownNameError(f"no model called {name!r} in the store {self.home}",
                                   hint=f"{suggestion}`ganzoo models list` shows every stored model")
        if version is None:
            return records[-1]
        for record in records:
            if record.version == version:
                return record
        raise UnknownNameError(f"model {name!r} has no version {version}",
                               hint=f"its versions: {', '.join(str(r.version) for r in records)}")

    def file(self, record: ModelRecord, filename: str) -> Path:
        """The path of ``filename`` of ``record`` after checking its size and sha256 against the index.

        A symlink, or a path that resolves outside the store, is refused: the store hands out only its own files.
        """
        if filename == CARD_FILE and any(record.path.glob(f"{PENDING_CARD_PREFIX}*")):
            self._finish_pending_cards()  # another process may have died between a card's commit and rename
        with self._connect() as conn:
            row = conn.execute("SELECT sha256, size FROM files WHERE name = ? AND version = ? AND filename = ?",
                               (record.name, record.version, filename)).fetchone()
        if row is None:
            raise GanzooError(f"model {record.ref} has no file {filename!r}",
                              hint=f"its files: {', '.join(self.files(record))}")
        sha, size = row
        path = record.path / filename
        fix = (f"re-import the model (`ganzoo models import DIR`) or re-train it; `ganzoo models rm {record.ref}` "
               "removes the damaged copy")
        if path.is_symlink() or record.path.is_symlink() or not is_within(path, self.models_dir):
            raise IntegrityError(f"model {record.ref}: {filename} is a symlink or lies outside the store ({path}); "
                                 "the store never follows links out of its folders", hint=fix)
        if not path.is_file():
            raise IntegrityError(f"model {record.ref}: {filename} is missing ({path})", hint=fix)
        actual_size = path.stat().st_size
        if actual_size != size:
            raise IntegrityError(f"model {record.ref}: {filename} has {actual_size} bytes, the index recorded {size} "
                                 "(truncated or changed after it was stored)", hint=fix)
        if sha256_file(path) != sha:
            raise IntegrityError(f"model {record.ref}: {filename} does not match its recorded sha256 (changed after "
                                 "it was stored)", hint=fix)
        return path

    def files(self, record: ModelRecord) -> dict[str, dict[str, Any]]:
        """filename -> {sha256, size} as recorded in the index."""
        with self._connect() as conn:
            return self._files(conn, record.name, record.version)

    @staticmethod
    def _files(conn: sqlite3.Connection, name: str, version: int) -> dict[str, dict[str, Any]]:
        rows = conn.execute("SELECT filename, sha256, size FROM files WHERE name = ? AND version = ? "
                            "ORDER BY filename", (name, version)).fetchall()
        return {filename: {"sha256": sha, "size": size} for filename, sha, size in rows}

    # --- writing --------------------------------------------------------------------------------------------

    def register(self, run_dir: str | Path, name: str | None = None, *, registry: Any = None) -> ModelRecord:
        """Store the model of a finished ``ganzoo train`` run directory as ``name`` (default arch-loss-dataset).

        A run already in the store (same run id, same steps) is not stored again: its version is returned, with a
        message.
        """
        from safetensors.torch import save_file

        from ganzoo import modelconfig
        from ganzoo.plugins import get_registry

        run_dir = Path(run_dir)
        source = f"run {run_dir}"
        _refuse_symlinks(run_dir, source)
        config, generator, critic = modelconfig.from_run(run_dir, registry or get_registry())
        name = validate_name(name if name is not None else modelconfig.default_name(config))
        stored = self.find_run(config.get("run_id"), config["training"]["steps"], str(run_dir.resolve()))
        if stored is not None:
            self.notify(f"{source} is already stored as {stored.ref}; a run is stored once")
            return stored
        writers: dict[str, Callable[[Path], None]] = {
            GENERATOR_FILE: lambda p: save_file(_contiguous(generator), str(p), metadata={"format": "pt"}),
            CRITIC_FILE: lambda p: save_file(_contiguous(critic), str(p), metadata={"format": "pt"}),
        }
        samples = sorted((run_dir / "samples").glob("step_*.png"))
        for filename, source_file in ((SAMPLES_FILE, samples[-1] if samples else None),
                                      (CURVES_FILE, run_dir / CURVES_FILE), (LOG_FILE, run_dir / LOG_FILE)):
            if source_file is not None and source_file.is_file():
                writers[filename] = _copier(source_file)
        results = _read_results(run_dir / RESULTS_FILE, source)  # `ganzoo eval --run RUN_DIR` writes these
        return self._add(name, config, writers, results, source=str(run_dir.resolve()), once=True)

    def import_(self, directory: str | Path, name: str | None = None, *, registry: Any = None) -> ModelRecord:
        """Store a folder made by :meth:`export` (or laid out the same way) after validating it completely.

        Checked before anything is written: the folder holds no symlink, config.json parses and has every required
        key, its architecture is installed, the weights are safetensors whose every tensor fits the rebuilt
        generator (and critic). A ``ganzoo train`` run directory is accepted too (it is registered, as
        ``ganzoo train`` does).
        """
        from ganzoo import modelconfig
        from ganzoo.plugins import get_registry

        directory = Path(directory)
        source = f"model folder {directory}"
        if name is not None:
            validate_name(name)
        if not directory.is_dir():
            raise GanzooError(f"{directory} is not a folder", hint="pass the folder `ganzoo models export` wrote")
        _refuse_symlinks(directory, source)
        if (directory / "checkpoints").is_dir() and not (directory / EXPORT_WEIGHTS).exists():
            return self.register(directory, name, registry=registry)
        try:
            config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        except OSError as exc:
            raise GanzooError(f"{source} has no readable config.json: {exc}",
                              hint="pass the folder `ganzoo models export` wrote") from exc
        except ValueError as exc:
            raise GanzooError(f"{source}: config.json is not valid JSON: {exc}",
                              hint="export the model again with `ganzoo models export`") from exc
        config = modelconfig.validate(config, source)
        registry = registry or get_registry()
        generator, critic = modelconfig.build_networks(config, registry, source)
        weights = next((directory / f for f in (EXPORT_WEIGHTS, GENERATOR_FILE) if (directory / f).is_file()), None)
        if weights is None:
            raise GanzooError(f"{source} has no {EXPORT_WEIGHTS} (the generator weights)",
                              hint="pass the folder `ganzoo models export` wrote")
        modelconfig.load_weights(generator, modelconfig.read_weights(weights, source), "generator", source)
        writers: dict[str, Callable[[Path], None]] = {GENERATOR_FILE: _copier(weights)}
        if (directory / CRITIC_FILE).is_file():
            modelconfig.load_weights(critic, modelconfig.read_weights(directory / CRITIC_FILE, source), "critic",
                                     source)
            writers[CRITIC_FILE] = _copier(directory / CRITIC_FILE)
        results = _read_results(directory / RESULTS_FILE, source)
        chosen = name if name is not None else config.get("name") or modelconfig.default_name(config)
        name = validate_name(chosen)
        for filename in (SAMPLES_FILE, CURVES_FILE, LOG_FILE):
            if (directory / filename).is_file():
                writers[filename] = _copier(directory / filename)
        return self._add(name, config, writers, results, source=str(directory.resolve()))

    def _add(self, name: str, config: dict[str, Any], writers: Mapping[str, Callable[[Path], None]],
             results: list[dict[str, Any]], source: str, once: bool = False) -> ModelRecord:
        """Write a new version of ``name`` atomically; see the module docstring. ``once``: a run's model, which is
        not stored again if another process stored the same run meanwhile."""
        from ganzoo.cards import render_card

        config = {**config, "name": name}
        run_id = config.get("run_id")
        steps = (config.get("training") or {}).get("steps")
        staging = self._staging()
        published: Path | None = None
        try:
            for filename, write in writers.items():
                write(staging / filename)
            (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            hashes = {}
            for path in sorted(staging.iterdir()):  # hashed and flushed before taking the lock: keep it short
                _fsync(path)
                hashes[path.name] = (sha256_file(path), path.stat().st_size)
            with self._write() as conn:
                while True:
                    already = self._by_run(conn, run_id, steps, source) if once else None
                    if already is not None:  # stored meanwhile, e.g. a crashed registration re-indexed on open
                        shutil.rmtree(staging, ignore_errors=True)
                        self.notify(f"run {source} is already stored as {already.ref}; a run is stored once")
                        return already
                    version = self._next_version(conn, name)
                    target = self._version_dir(name, version)
                    if not target.exists():
                        break
                    # a folder without a row at the next version: left by a registration that crashed after its
                    # rename. It is a complete model: index it (or set it aside), never delete it, and go on.
                    self._adopt_orphans(conn, [(name, str(version))])
                created = _now()
                card = render_card(config, results, f"{name}:{version}", files=[*writers, CONFIG_FILE])
                (staging / CARD_FILE).write_text(card, encoding="utf-8")  # the card names the version
                _fsync(staging / CARD_FILE)
                hashes[CARD_FILE] = (sha256_file(staging / CARD_FILE), (staging / CARD_FILE).stat().st_size)
                entry = _manifest(name, version, created, source, run_id, hashes, results)
                atomic_write_json(staging / MANIFEST_FILE, entry)
                _fsync(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging, target)
                published = target
                _fsync(target.parent)
                self._insert(conn, name, version, created, config, hashes, results, source)
            published = None
        except BaseException as exc:
            if published is not None:
                shutil.rmtree(published, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)
            if is_storage_failure(exc) and not isinstance(exc, GanzooError):
                raise storage_error(exc, f"storing model {name} in {self.home}",
                                    hint="the store is unchanged; try again when there is room") from exc
            raise
        return self.get(f"{name}:{version}")

    def _insert(self, conn: sqlite3.Connection, name: str, version: int, created: str, config: dict[str, Any],
                hashes: Mapping[str, tuple[str, int]], results: list[dict[str, Any]], source: str) -> None:
        """The index rows of a new version (inside the caller's transaction)."""
        conn.execute(f"INSERT INTO models ({MODEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (name, version, created, self._version_dir(name, version).relative_to(self.home).as_posix(),
                      config["arch"], config["loss"], config["dataset"], json.dumps(config, sort_keys=True), source,
                      config.get("run_id")))
        conn.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)",
                         [(name, version, f, sha, size) for f, (sha, size) in hashes.items() if f != MANIFEST_FILE])
        self._write_metrics(conn, name, version, results)
        row = conn.execute("SELECT last_version FROM names WHERE name = ?", (name,)).fetchone()
        if row is None or row[0] < version:
            conn.execute("INSERT OR REPLACE INTO names VALUES (?, ?)", (name, version))

    @staticmethod
    def _write_metrics(conn: sqlite3.Connection, name: str, version: int, results: list[dict[str, Any]]) -> None:
        conn.execute("DELETE FROM metrics WHERE name = ? AND version = ?", (name, version))
        conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (name, version, i, r["metric"], r["label"], float(r["value"]), json.dumps(r, sort_keys=True))
            for i, r in enumerate(results)])

    @staticmethod
    def _next_version(conn: sqlite3.Connection, name: str) -> int:
        """The next version of ``name``: versions are never reused, even after ``rm``."""
        row = conn.execute("SELECT last_version FROM names WHERE name = ?", (name,)).fetchone()
        top = conn.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()[0]
        version = max(row[0] if row else 0, top or 0) + 1
        conn.execute("INSERT OR REPLACE INTO names VALUES (?, ?)", (name, version))
        return version

    def _write_manifest(self, conn: sqlite3.Connection, name: str, version: int) -> None:
        """Mirror the index rows of ``name:version`` into its folder's manifest.json (what repair rebuilds from)."""
        row = conn.execute("SELECT created, source, run_id FROM models WHERE name = ? AND version = ?",
                           (name, version)).fetchone()
        if row is None:
            return
        created, source, run_id = row
        hashes = {f: (info["sha256"], info["size"]) for f, info in self._files(conn, name, version).items()}
        results = [json.loads(r) for (r,) in conn.execute(
            "SELECT result FROM metrics WHERE name = ? AND version = ? ORDER BY position", (name, version))]
        atomic_write_json(self._version_dir(name, version) / MANIFEST_FILE,
                          _manifest(name, version, created, source, run_id, hashes, results))

    def add_metrics(self, ref: str, results: list[dict[str, Any]]) -> ModelRecord:
        """Record evaluation results for ``ref`` and rewrite its model card.

        A result replaces an earlier one with the same label and reference split (a re-measurement); others are
        appended. Each result needs ``metric``, ``label`` and a finite numeric ``value``; ``ganzoo_version`` and
        ``measured_at`` are filled in when absent.
        """
        from ganzoo.cards import render_card

        checked = [_check_result(r) for r in results]
        name, version = parse_ref(ref)
        with self._write() as conn:
            record = self._get(conn, name, version)
            merged = merged_results(record.metrics, checked)
            card = render_card(record.config, merged, record.ref, files=list(self._files(conn, name, record.version)))
            pending = record.path / (PENDING_CARD_PREFIX + _owned_name())
            try:
                pending.write_text(card, encoding="utf-8")
                _fsync(pending)
                self._write_metrics(conn, record.name, record.version, merged)
                conn.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                             (record.name, record.version, CARD_FILE, sha256_file(pending), pending.stat().st_size))
            except BaseException as exc:
                pending.unlink(missing_ok=True)
                if is_storage_failure(exc) and not isinstance(exc, GanzooError):
                    raise storage_error(exc, f"writing the model card of {record.ref}",
                                        hint="the store is unchanged (results and card as before)") from exc
                raise
        # Committed: the index now names the new card, which waits in ``pending``. A crash before this rename is
        # rolled forward by the next store that opens (``_finish_pending_cards``), which also rewrites the manifest.
        self._finish_card(record.name, record.version, pending)
        return self.get(record.ref)

    def _finish_card(self, name: str, version: int, pending: Path) -> None:
        """Manifest from the committed rows, then the pending card into place (both idempotent)."""
        with self._connect() as conn:
            self._write_manifest(conn, name, version)
        os.replace(pending, pending.parent / CARD_FILE)
        _fsync(pending.parent)

    def covered(self, ref: str) -> list[ModelRecord]:
        """What :meth:`remove` would remove: ``name:N`` or ``name:latest`` one version, ``name`` every version."""
        with self._connect() as conn:
            return self._covered(conn, ref)

    def _covered(self, conn: sqlite3.Connection, ref: str) -> list[ModelRecord]:
        name, version = parse_ref(ref)
        if ":" in ref:  # name:N, or name:latest: the newest version only
            return [self._get(conn, name, version)]
        return self._records(conn, "WHERE name = ?", (name,)) or [self._get(conn, name, None)]  # unknown: raises

    def remove(self, ref: str) -> list[ModelRecord]:
        """Remove ``name:version`` (``name:latest``: the newest), or every version of ``name``; returns them.

        The rows go and the versions are recorded as removed in one transaction; then the folders are deleted. A
        crash in between is finished by the next open (the folders are not brought back).
        """
        with self._write() as conn:
            removed = self._covered(conn, ref)
            for record in removed:
                for table in ("models", "files", "metrics"):
                    conn.execute(f"DELETE FROM {table} WHERE name = ? AND version = ?", (record.name, record.version))
                conn.execute("INSERT OR IGNORE INTO removed VALUES (?, ?)", (record.name, record.version))
        self._finish_removals([(r.name, r.version) for r in removed])
        with contextlib.suppress(OSError):
            (self.models_dir / removed[0].name).rmdir()
        return removed

    def _finish_removals(self, versions: Sequence[tuple[str, int]]) -> None:
        for name, version in versions:
            self._discard(self._version_dir(name, version))
        with self._write() as conn:
            conn.executemany("DELETE FROM removed WHERE name = ? AND version = ?", versions)

    def export(self, ref: str, directory: str | Path) -> Path:
        """Write ``ref`` as a self-contained folder in the Hugging Face model-repository layout.

        ``model.safetensors`` (generator), ``critic.safetensors``, ``config.json``, ``README.md`` (the card),
        ``samples.png``, ``curves.png``, ``metrics.jsonl`` and ``results.json`` (evaluation results). Every file
        is checked against its recorded sha256 first. ``directory`` must not exist or be empty.
        """
        record = self.get(ref)
        directory = Path(directory)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise GanzooError(f"{directory} already exists and is not an empty folder",
                              hint="choose a new folder; export never overwrites")
        sources = {filename: self.file(record, filename) for filename in self.files(record)}
        staging = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}.tmp")
        try:
            staging.mkdir(parents=True)
            for filename, path in sources.items():
                copy_regular_file(path, staging / (EXPORT_WEIGHTS if filename == GENERATOR_FILE else filename))
            (staging / RESULTS_FILE).write_text(json.dumps(list(record.metrics), indent=2, sort_keys=True) + "\n",
                                                encoding="utf-8")
            if directory.exists():
                directory.rmdir()
            os.rename(staging, directory)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if is_storage_failure(exc):
                raise storage_error(exc, f"exporting {record.ref} to {directory}",
                                    hint="nothing was written; the store is unchanged") from exc
            raise
        return directory

    # --- folders --------------------------------------------------------------------------------------------

    def _version_dir(self, name: str, version: int) -> Path:
        return self.models_dir / name / str(version)

    def _staging(self) -> Path:
        path = self.tmp_dir / _owned_name()
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise storage_error(exc, f"writing into the model store {self.home}", hint="the store is unchanged") \
                from exc
        return path

    def _discard(self, path: Path) -> None:
        """Delete ``path``, which the index has already dropped: moved out of sight at once (renamed into tmp/), then
        deleted. Only for folders whose rows this store removed."""
        trash = self.tmp_dir / _owned_name("trash")
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _to_trash(self, path: Path, label: str) -> Path:
        """Move ``path`` into ``trash/`` (emptied only by ``ganzoo models trash --empty``); returns where it went."""
        self.trash_dir.mkdir(parents=True, exist_ok=True)
        target = self.trash_dir / f"{_stamp()}-{label}"
        os.rename(path, target)
        return target

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

    def _finish_pending_cards(self) -> None:
        """Complete card rewrites that a crash interrupted between the index commit and the rename.

        ``add_metrics`` writes the new card as ``.README.md.pending-<pid>-<id>``, commits its sha256 with the
        metrics, rewrites the manifest, then renames the card over ``README.md``. A pending card whose sha256 is the
        one the index records was committed: the manifest is rewritten and the card renamed into place (idempotent,
        so racing a live writer is harmless). Any other pending card belongs to a transaction that never committed:
        deleted once its process is gone.
        """
        pending_cards = list(self.models_dir.glob(f"*/*/{PENDING_CARD_PREFIX}*"))
        if not pending_cards:
            return
        with self._connect() as conn:
            recorded = {(n, str(v)): sha for n, v, sha in conn.execute(
                "SELECT name, version, sha256 FROM files WHERE filename = ?", (CARD_FILE,))}
        for pending in pending_cards:
            folder = pending.parent
            with contextlib.suppress(FileNotFoundError):
                if sha256_file(pending) == recorded.get((folder.parent.name, folder.name)):
                    self._finish_card(folder.parent.name, int(folder.name), pending)
                elif _dead_writer(pending.name.removeprefix(PENDING_CARD_PREFIX)):
                    pending.unlink()

    def _recover(self) -> None:
        """Deal with what crashed processes and lost index rows left behind, deleting nothing the index does not
        know: staging folders of dead processes go to trash/; pending cards are rolled forward; version folders
        without a row are re-indexed (or, if ``rm`` recorded them, their removal is finished).

        Version folders are only judged while holding the write lock: a live registration renames its folder into
        place and inserts its row inside one write transaction, so no live process can be between the two then.
        """
        for entry in sorted(self.tmp_dir.iterdir()):
            if not _dead_writer(entry.name):
                continue
            label = _owned_label(entry.name)
            if label == "trash" or label.startswith(INDEX):  # our own deletions and index builds: no user data
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            else:
                moved = self._to_trash(entry, "unfinished-registration")
                self.recovered.trashed.append(f"an unfinished registration left by a crashed process -> {moved}")
        self._finish_pending_cards()
        on_disk = self._version_folders()
        with self._connect() as conn:
            known = self._known(conn)
        if not on_disk <= known:
            with self._write() as conn:
                self._adopt_orphans(conn, sorted(on_disk - self._known(conn)), self.recovered)
        for line in _recovery_lines(self.recovered):
            self.notify(line)

    @staticmethod
    def _known(conn: sqlite3.Connection) -> set[tuple[str, str]]:
        return {(n, str(v)) for n, v in conn.execute("SELECT name, version FROM models")}

    def _version_folders(self) -> set[tuple[str, str]]:
        """(name, version) of every folder shaped like a stored version: models/<valid name>/<digits>."""
        return {(d.parent.name, d.name) for d in self.models_dir.glob("*/*")
                if d.is_dir() and d.name.isdigit() and NAME_RE.match(d.parent.name)}

    def _adopt_orphans(self, conn: sqlite3.Connection, orphans: Sequence[tuple[str, str]],
                       report: RepairReport | None = None) -> RepairReport:
        """Folders without an index row (inside the caller's write transaction): removals recorded by ``rm`` are
        finished; complete models are re-indexed; damaged folders are left alone and reported. Nothing is deleted
        that the index does not name."""
        report = report or RepairReport(self.home)
        removed = {(n, str(v)) for n, v in conn.execute("SELECT name, version FROM removed")}
        for name, version in orphans:
            folder = self.models_dir / name / version
            if (name, version) in removed:
                self._discard(folder)
                conn.execute("DELETE FROM removed WHERE name = ? AND version = ?", (name, int(version)))
                continue
            try:
                entry = self._read_orphan(folder)
            except GanzooError as exc:
                report.damaged.append(f"{folder}: {exc.message}")
                continue
            self._insert(conn, name, int(version), entry["created"], entry["config"], entry["hashes"],
                         entry["results"], entry["source"])
            self._write_manifest(conn, name, int(version))
            report.reindexed.append(f"{name}:{version}")
        return report

    def _read_orphan(self, folder: Path) -> dict[str, Any]:
        """Everything needed to index a version folder again, checked: from its manifest when it has one (every file
        must match its recorded sha256 and size; a card rewritten after the manifest is taken as found), else from
        config.json and the files as found (folders stored before manifests existed)."""
        from ganzoo import modelconfig

        source = f"model folder {folder}"
        if symlinks_in(folder):
            raise GanzooError("it holds a symlink")
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GanzooError(f"its config.json cannot be read: {exc}") from exc
        modelconfig.validate(config, source)
        present = {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name != MANIFEST_FILE}
        if GENERATOR_FILE not in present:
            raise GanzooError(f"it has no {GENERATOR_FILE}")
        hashes = {filename: (sha256_file(path), path.stat().st_size) for filename, path in present.items()}
        manifest = _read_manifest(folder)
        entry = {"config": config, "hashes": hashes, "results": [], "source": f"re-indexed from {folder}",
                 "created": _mtime(folder / CONFIG_FILE)}
        if manifest is None:
            return entry
        for filename, info in manifest["files"].items():
            if filename == CARD_FILE:
                continue
            if hashes.get(filename) != (info["sha256"], info["size"]):
                raise GanzooError(f"{filename} does not match its manifest (missing, truncated or changed)")
        entry.update(results=[_check_result(r) for r in manifest["results"]],
                     source=manifest.get("source") or entry["source"], created=manifest["created"])
        return entry


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
        moved = index.with_name(f"{INDEX}.damaged-{_stamp()}")
        for end in ("", *SQLITE_SIDECARS):
            if index.with_name(INDEX + end).exists():
                os.rename(index.with_name(INDEX + end), moved.with_name(moved.name + end))
        store = ModelStore(home, notify=silent.append)
    report = store.recovered
    report.index_moved_to = moved
    with store._write() as conn:  # folders that appeared since the open (e.g. another process crashed meanwhile)
        store._adopt_orphans(conn, sorted(store._version_folders() - store._known(conn)), report)
    report.ignored = sorted(str(d) for d in store.models_dir.glob("*/*")
                            if (d.parent.name, d.name) not in store._version_folders())
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


def _recovery_lines(report: RepairReport) -> list[str]:
    """What an ordinary open says about the folders it re-indexed or set aside."""
    lines = []
    if report.reindexed:
        lines.append(f"re-indexed {len(report.reindexed)} model folder(s) the index did not list: "
                     f"{', '.join(report.reindexed)}")
    lines += [f"moved to trash: {what}" for what in report.trashed]
    lines += [f"left a damaged model folder in place, not indexed: {what} (`ganzoo models repair` reports it)"
              for what in report.damaged]
    return lines


def _manifest(name: str, version: int, created: str, source: str | None, run_id: str | None,
              hashes: Mapping[str, tuple[str, int]], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"format": MANIFEST_FORMAT, "format_version": 1, "name": name, "version": version, "created": created,
            "source": source, "run_id": run_id, "results": list(results),
            "files": {f: {"sha256": sha, "size": size} for f, (sha, size) in sorted(hashes.items())
                      if f != MANIFEST_FILE}}


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """A version folder's manifest, or None when it has none (stored before manifests existed)."""
    path = folder / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("files"), dict):
            raise ValueError("not a ganzoo store manifest")
        for info in manifest["files"].values():
            if not isinstance(info.get("sha256"), str) or not isinstance(info.get("size"), int):
                raise ValueError("a file entry lacks its sha256 or size")
        if not isinstance(manifest.get("results", []), list) or not isinstance(manifest.get("created"), str):
            raise ValueError("results or created is malformed")
    except (OSError, ValueError, AttributeError) as exc:
        raise GanzooError(f"its {MANIFEST_FILE} cannot be read: {exc}") from exc
    return manifest


def _mtime(path: Path) -> str:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return _now()
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).isoformat(timespec="seconds")


def _refuse_symlinks(directory: Path, source: str) -> None:
    """A folder handed to the store must hold no symlink: a link could carry any file of this machine into it."""
    links = symlinks_in(directory)
    if links:
        shown = ", ".join(f"{link.relative_to(directory) if link != directory else link} -> {os.readlink(link)}"
                          for link in links[:5])
        raise GanzooError(f"{source} holds symlinks ({shown}); the store never follows links, nothing was written",
                          hint="replace each link by the file it points to (cp -L) after checking that you mean to "
                               "share it, or pass the folder itself rather than a link to it")


def merged_results(existing: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[Any]:
    """``existing`` then ``new``, where a result replaces any earlier one with the same label and reference (a
    re-measurement)."""
    merged = list(existing)
    for result in new:
        key = (result.get("label"), result.get("reference"))
        merged = [m for m in merged if (m.get("label"), m.get("reference")) != key]
        merged.append(result)
    return merged


def _owned_name(label: str = "") -> str:
    """A fresh file name that starts with this process's pid (``<pid>-<id>[-label]``): what :func:`_dead_writer`
    reads to tell when the file was left behind by a process that died."""
    return f"{os.getpid()}-{uuid.uuid4().hex}" + (f"-{label}" if label else "")


def _owned_label(filename: str) -> str:
    """The label of an :func:`_owned_name` (empty for a staging folder)."""
    parts = filename.split("-", 2)
    return parts[2] if len(parts) == 3 else ""


def _dead_writer(filename: str) -> bool:
    """Whether the process whose pid starts ``filename`` (``<pid>-...``) is gone (or the name has no pid)."""
    pid = filename.split("-", 1)[0]
    return not pid.isdigit() or not _pid_alive(int(pid))


def _contiguous(tensors: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def _copier(source: Path) -> Callable[[Path], None]:
    return lambda target: copy_regular_file(source, target)


def _check_result(result: Any) -> dict[str, Any]:
    """A metric result dict with its required keys and a finite value; fills ganzoo_version and measured_at."""
    if not isinstance(result, Mapping):
        raise GanzooError(f"a metric result must be a dict, got {type(result).__name__}")
    missing = [k for k in METRIC_KEYS if k not in result]
    if missing:
        raise GanzooError(f"metric result {dict(result)!r} lacks {', '.join(missing)}",
                          hint="each result needs at least metric, label and value")
    value = result["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GanzooError(f"metric result {result['label']!r} has value {value!r}; a finite number is needed")
    checked = {"ganzoo_version": __version__, "measured_at": _now(), **dict(result)}
    checked["value"] = float(value)
    try:
        json.dumps(checked)
    except (TypeError, ValueError) as exc:
        raise GanzooError(f"metric result {result['label']!r} is not JSON-serialisable: {exc}",
                          hint="use plain numbers, strings, booleans, lists and dicts") from exc
    return checked


def _read_results(path: Path, source: str) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GanzooError(f"{source}: {path.name} is not valid JSON: {exc}",
                          hint=f"delete {path.name} to import the model without its results") from exc
    if not isinstance(results, list):
        raise GanzooError(f"{source}: {path.name} must hold a list of metric results")
    return [_check_result(r) for r in results]


__all__ = ["IntegrityError", "ModelRecord", "ModelStore", "RepairReport", "default_home", "parse_ref",
           "repair_store", "validate_name"]
