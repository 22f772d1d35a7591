"""The model store: every trained model, one folder per version, indexed in SQLite. No server needed.

Layout under ``GANZOO_HOME`` (default ``~/.ganzoo``)::

    index.sqlite                      models(name, version, ...), files(..., sha256, size), metrics(...), names
    models/<name>/<version>/          generator.safetensors, critic.safetensors, config.json, README.md (the card),
                                      samples.png, curves.png, metrics.jsonl (the training log)
    tmp/                              staging folders of registrations in progress (and trash being deleted)

Crash safety: a version's files are written into a staging folder inside ``GANZOO_HOME`` and fsynced; then, holding
SQLite's write lock (``BEGIN IMMEDIATE``), the version number is taken, the folder renamed into place and the rows
inserted in one transaction. A model is visible only through its index row, so a crash at any point leaves no half
model visible; folders without a row and staging folders of dead processes are cleaned when a store is next opened.
Several processes registering at once wait for the lock in turn (busy timeout) and get distinct versions.
Evaluation results rewrite the card: the new card is written beside the old one as ``.README.md.pending-*``, its
sha256 committed with the results, then renamed into place; a crash between commit and rename is rolled forward
by the next reader or store, so the recorded sha256 and the card on disk never disagree for long.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import math
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo import __version__
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.files import sha256_file

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
INDEX = "index.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 120.0
#: Files of a stored version: the first two are required, the rest are stored when the source has them.
GENERATOR_FILE, CRITIC_FILE, CONFIG_FILE, CARD_FILE = ("generator.safetensors", "critic.safetensors", "config.json",
                                                       "README.md")
SAMPLES_FILE, CURVES_FILE, LOG_FILE, RESULTS_FILE = "samples.png", "curves.png", "metrics.jsonl", "results.json"
PENDING_CARD_PREFIX = f".{CARD_FILE}.pending-"  # a rewritten card between its index commit and its rename
EXPORT_WEIGHTS = "model.safetensors"  # the Hugging Face model-repository name for the generator weights
METRIC_KEYS = ("metric", "label", "value")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS names (name TEXT PRIMARY KEY, last_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL, version INTEGER NOT NULL, created TEXT NOT NULL, path TEXT NOT NULL,
    arch TEXT NOT NULL, loss TEXT NOT NULL, dataset TEXT NOT NULL, config TEXT NOT NULL, source TEXT,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS files (
    name TEXT NOT NULL, version INTEGER NOT NULL, filename TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (name, version, filename));
CREATE TABLE IF NOT EXISTS metrics (
    name TEXT NOT NULL, version INTEGER NOT NULL, position INTEGER NOT NULL, metric TEXT NOT NULL,
    label TEXT NOT NULL, value REAL NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (name, version, position));
"""


class IntegrityError(GanzooError):
    """A stored file that is missing, truncated or changed since it was stored."""


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


class ModelStore:
    """The models under ``home`` (default :func:`default_home`). Cheap to create; safe to use from many processes."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.models_dir = self.home / "models"
        self.tmp_dir = self.home / "tmp"
        self.index_path = self.home / INDEX
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GanzooError(f"cannot create the model store at {self.home}: {exc}",
                              hint="set GANZOO_HOME to a writable folder") from exc
        self._init_schema()
        self._clean()

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
            raise GanzooError(f"the model index {self.index_path} failed: {exc}",
                              hint="if it is corrupt, move it away; the model folders under models/ stay") from exc
        finally:
            conn.close()

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
        """Create the index once (WAL journal: readers never block the writer); refuse a newer store format.

        A new index is built whole in tmp/ and hard-linked into place, which fails if another process got there
        first: processes opening a fresh store at once never race on the schema or on the journal-mode switch
        (``PRAGMA journal_mode`` needs an exclusive lock and does not wait for it).
        """
        if not self.index_path.exists():
            self._create_index()
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
                with self._write() as writer:  # an empty index file, e.g. made by sqlite3 by hand: fill it in place
                    self._create_schema(writer)
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if version is not None and int(version[0]) > SCHEMA_VERSION:
            raise GanzooError(f"the model store {self.home} was made by a newer ganzoo (index schema {version[0]})",
                              hint="upgrade ganzoo (pip install -U ganzoo), or use another GANZOO_HOME")

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
            for leftover in (staged, *(staged.with_name(staged.name + end) for end in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        """The tables, inside the caller's transaction (not executescript: it would commit it)."""
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

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
        """The path of ``filename`` of ``record`` after checking its size and sha256 against the index."""
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
            rows = conn.execute("SELECT filename, sha256, size FROM files WHERE name = ? AND version = ? "
                                "ORDER BY filename", (record.name, record.version)).fetchall()
        return {filename: {"sha256": sha, "size": size} for filename, sha, size in rows}

    # --- writing --------------------------------------------------------------------------------------------

    def register(self, run_dir: str | Path, name: str | None = None, *, registry: Any = None) -> ModelRecord:
        """Store the model of a finished ``ganzoo train`` run directory as ``name`` (default arch-loss-dataset)."""
        from safetensors.torch import save_file

        from ganzoo import modelconfig
        from ganzoo.plugins import get_registry

        run_dir = Path(run_dir)
        config, generator, critic = modelconfig.from_run(run_dir, registry or get_registry())
        name = validate_name(name if name is not None else modelconfig.default_name(config))
        writers: dict[str, Callable[[Path], None]] = {
            GENERATOR_FILE: lambda p: save_file(_contiguous(generator), str(p), metadata={"format": "pt"}),
            CRITIC_FILE: lambda p: save_file(_contiguous(critic), str(p), metadata={"format": "pt"}),
        }
        samples = sorted((run_dir / "samples").glob("step_*.png"))
        for filename, source in ((SAMPLES_FILE, samples[-1] if samples else None),
                                 (CURVES_FILE, run_dir / CURVES_FILE), (LOG_FILE, run_dir / LOG_FILE)):
            if source is not None and source.is_file():
                writers[filename] = _copier(source)
        results = _read_results(run_dir / RESULTS_FILE, f"run {run_dir}")  # `ganzoo eval RUN_DIR` writes these
        return self._add(name, config, writers, results, source=str(run_dir.resolve()))

    def import_(self, directory: str | Path, name: str | None = None, *, registry: Any = None) -> ModelRecord:
        """Store a folder made by :meth:`export` (or laid out the same way) after validating it completely.

        Checked before anything is written: config.json parses and has every required key, its architecture is
        installed, the weights are safetensors whose every tensor fits the rebuilt generator (and critic).
        A ``ganzoo train`` run directory is accepted too (it is registered, as ``ganzoo train`` does).
        """
        from ganzoo import modelconfig
        from ganzoo.plugins import get_registry

        directory = Path(directory)
        source = f"model folder {directory}"
        if not directory.is_dir():
            raise GanzooError(f"{directory} is not a folder", hint="pass the folder `ganzoo models export` wrote")
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
             results: list[dict[str, Any]], source: str) -> ModelRecord:
        """Write a new version of ``name`` atomically; see the module docstring."""
        from ganzoo.cards import render_card

        config = {**config, "name": name}
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
                version = self._next_version(conn, name)
                created = _now()
                card = render_card(config, results, f"{name}:{version}", files=[*writers, CONFIG_FILE])
                (staging / CARD_FILE).write_text(card, encoding="utf-8")  # the card names the version
                _fsync(staging / CARD_FILE)
                hashes[CARD_FILE] = (sha256_file(staging / CARD_FILE), (staging / CARD_FILE).stat().st_size)
                _fsync(staging)
                target = self._version_dir(name, version)
                if target.exists():  # left by a process that crashed before its commit: it was never visible
                    self._discard(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging, target)
                published = target
                _fsync(target.parent)
                self._insert(conn, name, version, created, config, hashes, results, source)
            published = None
        except BaseException:
            if published is not None:
                shutil.rmtree(published, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.get(f"{name}:{version}")

    def _insert(self, conn: sqlite3.Connection, name: str, version: int, created: str, config: dict[str, Any],
                hashes: Mapping[str, tuple[str, int]], results: list[dict[str, Any]], source: str) -> None:
        """The index rows of a new version (inside the caller's transaction)."""
        conn.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (name, version, created, self._version_dir(name, version).relative_to(self.home).as_posix(),
                      config["arch"], config["loss"], config["dataset"], json.dumps(config, sort_keys=True), source))
        conn.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)",
                         [(name, version, f, sha, size) for f, (sha, size) in hashes.items()])
        self._write_metrics(conn, name, version, results)

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
            card = render_card(record.config, merged, record.ref, files=list(self.files(record)))
            pending = record.path / (PENDING_CARD_PREFIX + _owned_name())
            pending.write_text(card, encoding="utf-8")
            _fsync(pending)
            try:
                self._write_metrics(conn, record.name, record.version, merged)
                conn.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                             (record.name, record.version, CARD_FILE, sha256_file(pending), pending.stat().st_size))
            except BaseException:
                pending.unlink(missing_ok=True)
                raise
        # Committed: the index now names the new card, which waits in ``pending``. A crash before this rename is
        # rolled forward by the next store that opens (``_finish_pending_cards``).
        os.replace(pending, record.path / CARD_FILE)
        _fsync(record.path)
        return self.get(record.ref)

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
        """Remove ``name:version`` (``name:latest``: the newest), or every version of ``name``; returns them."""
        with self._write() as conn:
            removed = self._covered(conn, ref)
            for record in removed:
                for table in ("models", "files", "metrics"):
                    conn.execute(f"DELETE FROM {table} WHERE name = ? AND version = ?", (record.name, record.version))
        for record in removed:  # rows are gone, so the folders are invisible; a crash here is cleaned on next open
            self._discard(record.path)
        with contextlib.suppress(OSError):
            (self.models_dir / removed[0].name).rmdir()
        return removed

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
        staging.mkdir(parents=True)
        try:
            for filename, path in sources.items():
                shutil.copyfile(path, staging / (EXPORT_WEIGHTS if filename == GENERATOR_FILE else filename))
            (staging / RESULTS_FILE).write_text(json.dumps(list(record.metrics), indent=2, sort_keys=True) + "\n",
                                                encoding="utf-8")
            if directory.exists():
                directory.rmdir()
            os.rename(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return directory

    # --- folders --------------------------------------------------------------------------------------------

    def _version_dir(self, name: str, version: int) -> Path:
        return self.models_dir / name / str(version)

    def _staging(self) -> Path:
        path = self.tmp_dir / _owned_name()
        path.mkdir(parents=True)
        return path

    def _discard(self, path: Path) -> None:
        """Move ``path`` out of sight at once (rename into tmp/), then delete it."""
        trash = self.tmp_dir / _owned_name("trash")
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _finish_pending_cards(self) -> None:
        """Complete card rewrites that a crash interrupted between the index commit and the rename.

        ``add_metrics`` writes the new card as ``.README.md.pending-<pid>-<id>``, commits its sha256 with the
        metrics, then renames it over ``README.md``. A pending card whose sha256 is the one the index records was
        committed: it is renamed into place (idempotent, so racing a live writer is harmless). Any other pending
        card belongs to a transaction that never committed: deleted once its process is gone.
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
                    os.replace(pending, folder / CARD_FILE)
                    _fsync(folder)
                elif _dead_writer(pending.name.removeprefix(PENDING_CARD_PREFIX)):
                    pending.unlink()

    def _clean(self) -> None:
        """Delete leftovers of crashed processes: staging/trash folders of dead pids, version folders without a row.

        Version folders are only judged while holding the write lock: a live registration renames its folder into
        place and inserts its row inside one write transaction, so no live process can be between the two then.
        """
        for entry in self.tmp_dir.iterdir():
            if _dead_writer(entry.name):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        self._finish_pending_cards()
        on_disk = {(d.parent.name, d.name) for d in self.models_dir.glob("*/*") if d.is_dir()}
        if not on_disk:
            return
        with self._connect() as conn:
            known = {(n, str(v)) for n, v in conn.execute("SELECT name, version FROM models")}
        if on_disk <= known:
            return
        with self._write() as conn:
            known = {(n, str(v)) for n, v in conn.execute("SELECT name, version FROM models")}
            for name, version in sorted(on_disk - known):
                self._discard(self.models_dir / name / version)


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


def _dead_writer(filename: str) -> bool:
    """Whether the process whose pid starts ``filename`` (``<pid>-...``) is gone (or the name has no pid)."""
    pid = filename.split("-", 1)[0]
    return not pid.isdigit() or not _pid_alive(int(pid))


def _contiguous(tensors: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def _copier(source: Path) -> Callable[[Path], None]:
    return lambda target: shutil.copyfile(source, target)


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


__all__ = ["IntegrityError", "ModelRecord", "ModelStore", "default_home", "parse_ref", "validate_name"]
