"""The model store's SQLite index: its schema and migrations, transactions, what an SQLite failure means for a user,
and the queries on its rows. It knows rows, not folders (:mod:`ganzoo.store.folders`) or plugins.

Tables: ``models`` (one row per stored version, with its config.json and run id), ``files`` (each stored file's
sha256 and size), ``metrics`` (evaluation results in order), ``names`` (the last version of each name: versions are
never reused) and ``removed`` (versions ``rm`` dropped whose folders may still be on disk after a crash).
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError, StorageError, UnknownNameError, storage_error
from ganzoo.runs import sqlite
from ganzoo.store.folders import owned_name
from ganzoo.store.records import ModelRecord, parse_ref, stamp

INDEX = "index.sqlite"
SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 120.0
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


class IndexDamagedError(GanzooError):
    """The SQLite index cannot be read (not a database, truncated, malformed): ``ganzoo models repair`` rebuilds it."""


class ModelIndex:
    """The index file ``home/index.sqlite``, created (in ``tmp_dir``, then linked into place) or migrated on open."""

    def __init__(self, home: Path, tmp_dir: Path) -> None:
        self.home = home
        self.path = home / INDEX
        self.tmp_dir = tmp_dir
        #: True when this open brought an older index up to date (the store then writes the folders' manifests).
        self.migrated = False
        self._open()

    # --- connections and transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit) with a long busy timeout."""
        def on_open(exc: sqlite3.Error) -> GanzooError:
            return GanzooError(f"cannot open the model index {self.path}: {exc}",
                               hint="check that GANZOO_HOME is writable")

        with sqlite.connect(self.path, timeout=BUSY_TIMEOUT_S, on_open=on_open, on_error=self._error) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding SQLite's write lock from the start (BEGIN IMMEDIATE); rolled back on error."""
        with self.connect() as conn, sqlite.write(conn):
            yield conn

    def _error(self, exc: sqlite3.DatabaseError) -> GanzooError:
        """What an SQLite failure means for a user: a full disk, no permission, a lock held too long, or damage."""
        kind = sqlite.failure_kind(exc)
        if kind == sqlite.FULL:
            return storage_error(OSError(errno.ENOSPC, str(exc)), f"writing the model index {self.path}",
                                 hint="the store is unchanged")
        if kind == sqlite.NOT_WRITABLE:
            return storage_error(OSError(errno.EACCES, str(exc)), f"writing the model index {self.path}",
                                 hint="set GANZOO_HOME to a folder you can write to; the store is unchanged")
        if kind == sqlite.IO_ERROR:
            return StorageError(f"reading or writing the model index {self.path} failed: {exc} (a full disk or a "
                                "failing drive)", hint="free some disk space and try again; the store is unchanged")
        if kind == sqlite.BUSY:
            return GanzooError(f"the model index {self.path} stayed locked by another process for "
                               f"{BUSY_TIMEOUT_S:.0f} s",
                               hint="wait for the other ganzoo command to finish, then try again")
        return IndexDamagedError(f"the model index {self.path} cannot be read: {exc}", hint=REPAIR_HINT)

    # --- creation and migration ------------------------------------------------------------------------------

    def _open(self) -> None:
        """Create the index once (WAL journal: readers never block the writer), bring an older one up to date,
        refuse a newer one.

        A new index is built whole in tmp/ and hard-linked into place, which fails if another process got there
        first: processes opening a fresh store at once never race on the schema or on the journal-mode switch
        (``PRAGMA journal_mode`` needs an exclusive lock and does not wait for it).
        """
        if not self.path.exists():
            self._set_aside_sidecars()
            self._create()
        with self.connect() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
                with self.write() as writer:  # an empty index file, e.g. made by sqlite3 by hand: fill it in place
                    _create_schema(writer)
            version = _schema_version(conn)
        if version > SCHEMA_VERSION:
            raise GanzooError(f"the model store {self.home} was made by a newer ganzoo (index schema {version})",
                              hint="upgrade ganzoo (pip install -U ganzoo), or use another GANZOO_HOME")
        if version < SCHEMA_VERSION:
            self._migrate()

    def _set_aside_sidecars(self) -> None:
        """A journal left beside an index that is gone belongs to that index; SQLite would replay it into a new one."""
        for end in SQLITE_SIDECARS:
            stale = self.path.with_name(INDEX + end)
            if stale.exists():
                with contextlib.suppress(OSError):
                    os.rename(stale, stale.with_name(f"{stale.name}.stale-{stamp()}"))

    def _create(self) -> None:
        staged = self.tmp_dir / owned_name(INDEX)
        try:
            conn = sqlite3.connect(staged, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")  # recorded in the file: every later connection uses it
                conn.execute("BEGIN IMMEDIATE")
                _create_schema(conn)
                conn.execute("COMMIT")
            finally:
                conn.close()
            with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                os.link(staged, self.path)
        except (OSError, sqlite3.Error) as exc:
            raise GanzooError(f"cannot create the model index {self.path}: {exc}",
                              hint="check that GANZOO_HOME is writable") from exc
        finally:
            for leftover in (staged, *(staged.with_name(staged.name + end) for end in SQLITE_SIDECARS)):
                leftover.unlink(missing_ok=True)

    def _migrate(self) -> None:
        """Schema 1 -> 2: the run_id column and the removed table."""
        with self.write() as conn:
            if _schema_version(conn) >= SCHEMA_VERSION:  # another process migrated it while we waited for the lock
                return
            columns = {row[1] for row in conn.execute("PRAGMA table_info(models)")}
            if "run_id" not in columns:
                conn.execute("ALTER TABLE models ADD COLUMN run_id TEXT")
            _create_schema(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self.migrated = True

    # --- reading rows ----------------------------------------------------------------------------------------

    def records(self, conn: sqlite3.Connection, where: str = "", args: Sequence[Any] = ()) -> list[ModelRecord]:
        rows = conn.execute(f"SELECT name, version, created, path, config FROM models {where} "
                            "ORDER BY name, version", tuple(args)).fetchall()
        results: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for name, version, result in conn.execute(
                f"SELECT name, version, result FROM metrics {where} ORDER BY name, version, position", tuple(args)):
            results.setdefault((name, version), []).append(json.loads(result))
        return [ModelRecord(name, version, created, self.home / path, json.loads(config),
                            tuple(results.get((name, version), ())))
                for name, version, created, path, config in rows]

    def get(self, conn: sqlite3.Connection, name: str, version: int | None) -> ModelRecord:
        """``name:version`` (newest when None); an unknown name suggests close matches."""
        records = self.records(conn, "WHERE name = ?", (name,))
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

    def covered(self, conn: sqlite3.Connection, ref: str) -> list[ModelRecord]:
        """``name:N`` or ``name:latest``: one version; ``name``: every version (an unknown name raises)."""
        name, version = parse_ref(ref)
        if ":" in ref:
            return [self.get(conn, name, version)]
        return self.records(conn, "WHERE name = ?", (name,)) or [self.get(conn, name, None)]

    def newest(self, conn: sqlite3.Connection) -> ModelRecord | None:
        """The version stored last, whatever its name."""
        row = conn.execute("SELECT name, version FROM models ORDER BY rowid DESC LIMIT 1").fetchone()
        return self.get(conn, *row) if row else None

    def by_run(self, conn: sqlite3.Connection, run_id: str | None, steps: Any,
               source: str | None = None) -> ModelRecord | None:
        """The version that stores run ``run_id`` at ``steps``; a run folder made before runs had ids is recognised
        by its ``source`` path."""
        if run_id:
            rows = conn.execute("SELECT name, version, config FROM models WHERE run_id = ? ORDER BY rowid", (run_id,))
        elif source:
            rows = conn.execute("SELECT name, version, config FROM models WHERE run_id IS NULL AND source = ? "
                                "ORDER BY rowid", (source,))
        else:
            return None
        for name, version, config in rows.fetchall():
            if (json.loads(config).get("training") or {}).get("steps") == steps:
                return self.get(conn, name, version)
        return None

    @staticmethod
    def files(conn: sqlite3.Connection, name: str, version: int) -> dict[str, dict[str, Any]]:
        """filename -> {sha256, size} of one version."""
        rows = conn.execute("SELECT filename, sha256, size FROM files WHERE name = ? AND version = ? "
                            "ORDER BY filename", (name, version)).fetchall()
        return {filename: {"sha256": sha, "size": size} for filename, sha, size in rows}

    @staticmethod
    def known(conn: sqlite3.Connection) -> set[tuple[str, str]]:
        """(name, version as text) of every indexed version: what folders are compared with."""
        return {(n, str(v)) for n, v in conn.execute("SELECT name, version FROM models")}

    @staticmethod
    def card_hashes(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
        return {(n, str(v)): sha for n, v, sha in conn.execute(
            "SELECT name, version, sha256 FROM files WHERE filename = 'README.md'")}

    @staticmethod
    def removed(conn: sqlite3.Connection) -> set[tuple[str, str]]:
        return {(n, str(v)) for n, v in conn.execute("SELECT name, version FROM removed")}

    def manifest_rows(self, conn: sqlite3.Connection, name: str, version: int) -> dict[str, Any] | None:
        """Everything of one version's rows that its folder's manifest mirrors, or None if it has no row."""
        row = conn.execute("SELECT created, source, run_id FROM models WHERE name = ? AND version = ?",
                           (name, version)).fetchone()
        if row is None:
            return None
        created, source, run_id = row
        results = [json.loads(r) for (r,) in conn.execute(
            "SELECT result FROM metrics WHERE name = ? AND version = ? ORDER BY position", (name, version))]
        return {"created": created, "source": source, "run_id": run_id, "results": results,
                "hashes": {f: (i["sha256"], i["size"]) for f, i in self.files(conn, name, version).items()}}

    # --- writing rows (inside the caller's transaction) ------------------------------------------------------

    @staticmethod
    def next_version(conn: sqlite3.Connection, name: str) -> int:
        """The next version of ``name``: versions are never reused, even after ``rm``."""
        row = conn.execute("SELECT last_version FROM names WHERE name = ?", (name,)).fetchone()
        top = conn.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()[0]
        version = max(row[0] if row else 0, top or 0) + 1
        conn.execute("INSERT OR REPLACE INTO names VALUES (?, ?)", (name, version))
        return version

    def insert(self, conn: sqlite3.Connection, name: str, version: int, path: Path, created: str,
               config: Mapping[str, Any], hashes: Mapping[str, tuple[str, int]], results: list[dict[str, Any]],
               source: str) -> None:
        """The rows of a new version."""
        conn.execute(f"INSERT INTO models ({MODEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (name, version, created, path.relative_to(self.home).as_posix(), config["arch"], config["loss"],
                      config["dataset"], json.dumps(config, sort_keys=True), source, config.get("run_id")))
        conn.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)",
                         [(name, version, f, sha, size) for f, (sha, size) in hashes.items()])
        self.write_metrics(conn, name, version, results)
        row = conn.execute("SELECT last_version FROM names WHERE name = ?", (name,)).fetchone()
        if row is None or row[0] < version:
            conn.execute("INSERT OR REPLACE INTO names VALUES (?, ?)", (name, version))

    @staticmethod
    def write_metrics(conn: sqlite3.Connection, name: str, version: int, results: list[dict[str, Any]]) -> None:
        conn.execute("DELETE FROM metrics WHERE name = ? AND version = ?", (name, version))
        conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (name, version, i, r["metric"], r["label"], float(r["value"]), json.dumps(r, sort_keys=True))
            for i, r in enumerate(results)])

    @staticmethod
    def set_file(conn: sqlite3.Connection, name: str, version: int, filename: str, sha256: str, size: int) -> None:
        conn.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", (name, version, filename, sha256, size))

    @staticmethod
    def drop(conn: sqlite3.Connection, name: str, version: int) -> None:
        """Drop a version's rows and record it as removed (its folder goes next; a crash in between is finished on
        the next open)."""
        for table in ("models", "files", "metrics"):
            conn.execute(f"DELETE FROM {table} WHERE name = ? AND version = ?", (name, version))
        conn.execute("INSERT OR IGNORE INTO removed VALUES (?, ?)", (name, version))

    @staticmethod
    def forget_removed(conn: sqlite3.Connection, versions: Sequence[tuple[str, int]]) -> None:
        conn.executemany("DELETE FROM removed WHERE name = ? AND version = ?", versions)


def _create_schema(conn: sqlite3.Connection) -> None:
    """The tables, inside the caller's transaction (not executescript: it would commit it)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
