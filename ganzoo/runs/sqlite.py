"""SQLite as ganzoo uses it (the model store's index, a sweep's state): connections in autocommit mode with explicit
transactions that take the write lock at once, full fsync, a long busy timeout, and what a failure means."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from ganzoo.errors import GanzooError

#: What an SQLite failure is: :func:`failure_kind`'s answers.
FULL, NOT_WRITABLE, IO_ERROR, BUSY, DAMAGED = "full", "not writable", "io error", "busy", "damaged"


@contextlib.contextmanager
def connect(path: Path, *, timeout: float, on_open: Callable[[sqlite3.Error], GanzooError],
            on_error: Callable[[sqlite3.DatabaseError], GanzooError]) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode (transactions are explicit, see :func:`write`) with ``PRAGMA
    synchronous=FULL``; ``on_open`` / ``on_error`` turn a failure to open / a database error into the caller's
    :class:`GanzooError`."""
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise on_open(exc) from exc
    try:
        conn.execute("PRAGMA synchronous=FULL")
        yield conn
    except sqlite3.DatabaseError as exc:
        raise on_error(exc) from exc
    finally:
        conn.close()


@contextlib.contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on ``conn`` holding SQLite's write lock from the start (BEGIN IMMEDIATE); rolled back
    on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def failure_kind(exc: sqlite3.DatabaseError) -> str:
    """What went wrong, in the terms a message to a user needs: a full disk, no permission, a failing read or
    write, a lock held too long, or a damaged file."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return FULL
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return NOT_WRITABLE
    if code is not None and code & 0xFF == sqlite3.SQLITE_IOERR:  # SQLite's own code for a failed read or write
        return IO_ERROR
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return BUSY
    return DAMAGED
