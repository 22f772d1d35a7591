"""A sweep's state: ``state.sqlite`` in the sweep folder, written by the driver alone (workers only report).

Tables: ``meta`` (the sweep id, its spec, schema version) and ``trials`` (one row per trial: names, seed, settings,
status, error, model reference, run folder, steps, wall time, metrics, attempts). Every change is one transaction
(WAL journal, full fsync), so a driver killed at any moment leaves a state that the next run reads: trials it had
marked running go back to pending (they resume from their checkpoints), finished ones stay finished.

Only one driver runs a sweep at a time: :func:`lock_sweep` holds an exclusive lock on the folder's ``.lock`` (the
operating system drops it when the driver dies, even by SIGKILL).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError, StorageError
from ganzoo.runs import sqlite
from ganzoo.sweep.spec import SweepSpec, Trial

#: The states a trial can be in.
FINISHED, FAILED, RUNNING, PENDING = "finished", "failed", "running", "pending"
STATUSES = (FINISHED, FAILED, RUNNING, PENDING)
STATE_FILE = "state.sqlite"
LOCK_FILE = ".lock"
TRIALS_DIR = "trials"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial_id TEXT PRIMARY KEY, position INTEGER NOT NULL, loss TEXT NOT NULL, arch TEXT NOT NULL,
    dataset TEXT NOT NULL, seed INTEGER NOT NULL, settings TEXT NOT NULL, draw INTEGER NOT NULL,
    status TEXT NOT NULL, error TEXT, model_ref TEXT, run_dir TEXT NOT NULL, steps INTEGER NOT NULL DEFAULT 0,
    wall_time_s REAL, metrics TEXT NOT NULL DEFAULT '{}', attempts INTEGER NOT NULL DEFAULT 0,
    resumed_from INTEGER, worker TEXT, started TEXT, finished TEXT)
"""
COLUMNS = ("trial_id, position, loss, arch, dataset, seed, settings, draw, status, error, model_ref, run_dir, steps, "
           "wall_time_s, metrics, attempts, resumed_from, worker, started, finished")


@dataclass(frozen=True)
class TrialRow(Trial):
    """One trial as the state records it: the trial (its fields first, in the table's column order) and where it
    stands."""

    status: str
    error: str | None
    model_ref: str | None
    run_dir: Path
    steps: int
    wall_time_s: float | None
    metrics: dict[str, float]
    attempts: int
    resumed_from: int | None
    worker: str | None
    started: str | None
    finished: str | None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SweepState:
    """The state database of the sweep folder ``folder`` (created by :meth:`create`, read by :meth:`open`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / STATE_FILE

    # --- opening -------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | Path) -> SweepState:
        """The state of an existing sweep folder (a clear error if it holds none)."""
        state = cls(Path(folder))
        if not state.path.is_file():
            raise GanzooError(f"{folder} is not a sweep folder (it has no {STATE_FILE})",
                              hint="give the folder `ganzoo sweep` printed (its --out) or the sweep's id")
        return state

    @classmethod
    def create(cls, folder: str | Path, spec: SweepSpec) -> SweepState:
        """The state of ``spec`` in ``folder``: made on the first run, checked against ``spec`` on later ones (a
        folder holds one sweep), with every trial of the spec present."""
        state = cls(Path(folder))
        try:
            state.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the sweep folder {folder}: {exc}", hint="pass --out a writable folder") \
                from exc
        with state._write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            stored = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if stored and stored.get("sweep_id") != spec.sweep_id:
                raise GanzooError(f"{folder} holds sweep {stored.get('sweep_id')}, not {spec.sweep_id} (the grid, "
                                  "seeds, steps or search differ)",
                                  hint="pass another --out for a new sweep, or the same values to resume that one")
            if not stored:
                conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("sweep_id", spec.sweep_id), ("spec", json.dumps(spec.to_json(), sort_keys=True)),
                    ("schema_version", str(SCHEMA_VERSION)), ("created", _now())])
            known = {row[0] for row in conn.execute("SELECT trial_id FROM trials")}
            conn.executemany(f"INSERT INTO trials ({COLUMNS}) VALUES ({', '.join('?' * 20)})", [
                state._new_row(trial) for trial in spec.trials() if trial.trial_id not in known])
        return state

    def _new_row(self, trial: Trial) -> tuple[Any, ...]:
        run_dir = (Path(TRIALS_DIR) / trial.trial_id).as_posix()
        return (trial.trial_id, trial.position, trial.loss, trial.arch, trial.dataset, trial.seed,
                json.dumps(trial.settings, sort_keys=True), trial.draw, PENDING, None, None, run_dir, 0, None, "{}",
                0, None, None, None, None)

    # --- connections ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        def on_open(exc: sqlite3.Error) -> GanzooError:
            return StorageError(f"cannot open the sweep state {self.path}: {exc}",
                                hint="check that the sweep folder is writable")

        def on_error(exc: sqlite3.DatabaseError) -> GanzooError:
            kind = sqlite.failure_kind(exc)
            if kind == sqlite.DAMAGED:
                return GanzooError(f"the sweep state {self.path} cannot be read: {exc}",
                                   hint="the trials' run folders and the model store are intact; start the sweep "
                                        "in a new --out folder (finished trials are then trained again)")
            return StorageError(f"the sweep state {self.path} cannot be written ({kind}): {exc}",
                                hint="free disk space or fix the folder's permissions, then run the same command")

        with sqlite.connect(self.path, timeout=BUSY_TIMEOUT_S, on_open=on_open, on_error=on_error) as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn, sqlite.write(conn):
            yield conn

    # --- reading -------------------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        with self._connect() as conn:
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    @property
    def sweep_id(self) -> str:
        return self.meta()["sweep_id"]

    def rows(self) -> list[TrialRow]:
        """Every trial, in the sweep's order."""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM trials ORDER BY position").fetchall()
        return [self._row(r) for r in rows]

    def row(self, trial_id: str) -> TrialRow:
        with self._connect() as conn:
            found = conn.execute(f"SELECT {COLUMNS} FROM trials WHERE trial_id = ?", (trial_id,)).fetchone()
        if found is None:
            raise GanzooError(f"sweep {self.folder} has no trial {trial_id!r}")
        return self._row(found)

    def _row(self, r: tuple[Any, ...]) -> TrialRow:
        values = list(r)
        values[6] = json.loads(values[6])
        values[11] = self.folder / values[11]
        values[14] = json.loads(values[14])
        return TrialRow(*values)

    def counts(self) -> dict[str, int]:
        with self._connect() as conn:
            return dict(conn.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall())

    # --- writing -------------------------------------------------------------------------------------------

    def recover(self, *, retry_failed: bool = False) -> int:
        """After a driver stopped (or died): trials it had marked running are pending again; with
        ``retry_failed``, failed ones too. Returns how many changed."""
        statuses = (RUNNING, FAILED) if retry_failed else (RUNNING,)
        with self._write() as conn:
            return conn.execute(f"UPDATE trials SET status = ?, worker = NULL WHERE status IN "
                                f"({', '.join('?' * len(statuses))})", (PENDING, *statuses)).rowcount

    def started(self, trial_id: str, worker: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE trials SET status = ?, worker = ?, attempts = attempts + 1, started = ?, "
                         "error = NULL WHERE trial_id = ?", (RUNNING, worker, _now(), trial_id))

    def finished(self, trial_id: str, *, model_ref: str, steps: int, wall_time_s: float | None,
                 metrics: Mapping[str, float], resumed_from: int | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE trials SET status = ?, model_ref = ?, steps = ?, wall_time_s = ?, metrics = ?, "
                         "resumed_from = COALESCE(?, resumed_from), error = NULL, finished = ? WHERE trial_id = ?",
                         (FINISHED, model_ref, steps, wall_time_s, json.dumps(dict(metrics), sort_keys=True),
                          resumed_from, _now(), trial_id))

    def failed(self, trial_id: str, error: str, *, steps: int = 0) -> None:
        with self._write() as conn:
            conn.execute("UPDATE trials SET status = ?, error = ?, steps = MAX(steps, ?), finished = ? "
                         "WHERE trial_id = ?", (FAILED, error, steps, _now(), trial_id))

    def pending(self, trial_id: str, *, steps: int = 0, resumed_from: int | None = None) -> None:
        """Back to pending (an interrupted trial: it resumes from its checkpoint next time)."""
        with self._write() as conn:
            conn.execute("UPDATE trials SET status = ?, worker = NULL, steps = MAX(steps, ?), "
                         "resumed_from = COALESCE(?, resumed_from) WHERE trial_id = ?",
                         (PENDING, steps, resumed_from, trial_id))


@contextlib.contextmanager
def lock_sweep(folder: Path) -> Iterator[None]:
    """Hold the sweep folder's lock: a second driver of the same sweep is refused while the first one runs."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise GanzooError(f"sweep {folder} is being run by another process{f' (pid {other})' if other else ''}",
                              hint="wait for it to finish, or stop it (Ctrl-C) and run the command again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
