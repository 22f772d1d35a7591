"""Errors that name the problem and the fix.

Every error ganzoo raises for bad input is a :class:`GanzooError`; the CLI prints its message (never a traceback) and
exits with status 2.
"""

from __future__ import annotations

import errno
import re


class GanzooError(Exception):
    """A user-facing error: ``message`` says what is wrong, ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n  hint: {hint}" if hint else message)


class UnknownNameError(GanzooError, KeyError):
    """A loss, architecture, data set or metric name that no plugin registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return Exception.__str__(self)


class DuplicateNameError(GanzooError):
    """Two plugins registered the same name (or alias) for the same kind."""


class PluginError(GanzooError):
    """A plugin that is malformed, fails to import, or targets an incompatible hook API."""


class ConfigError(GanzooError, ValueError):
    """An out-of-range or malformed setting."""


class DataError(GanzooError):
    """A data set that is missing, corrupt or of the wrong shape."""


class StorageError(GanzooError):
    """A file or folder that cannot be written or read: a full disk, no permission, a file where a folder should be."""


#: errno -> (what it means for a user, how to fix it)
_OS_PROBLEMS = {
    errno.ENOSPC: ("the disk is full", "free some disk space"),
    errno.EDQUOT: ("the disk quota is used up", "free some space in your quota"),
    errno.EFBIG: ("the file is larger than this process may write (the disk or a file-size limit is full)",
                  "free disk space or raise the file-size limit (ulimit -f)"),
    errno.EACCES: ("permission denied", "choose a folder you can write to"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write to"),
    errno.EROFS: ("the file system is read-only", "choose a folder on a writable disk"),
    errno.ENOTDIR: ("a file stands where a folder is needed", "remove that file or choose another folder"),
    errno.EEXIST: ("a file or folder of that name already exists", "choose another name"),
    errno.EISDIR: ("a folder stands where a file is needed", "choose a file name, not a folder"),
}
_ERRNO_IN_TEXT = re.compile(r"(?:os error |code: )(\d+)")


def os_errno(exc: BaseException) -> int | None:
    """The errno behind ``exc``: an ``OSError``'s own, or the one a library quotes in its message (safetensors
    reports a full disk as ``SafetensorError('... Os { code: 28, ... }')``)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    found = _ERRNO_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


def storage_error(exc: BaseException, action: str, hint: str | None = None) -> StorageError:
    """A :class:`StorageError` for ``exc`` raised while ``action`` (e.g. "writing the checkpoint of runs/x"): says what
    the OS reported in words and how to fix it; ``hint`` is added after the OS-specific fix."""
    code = os_errno(exc)
    problem, fix = _OS_PROBLEMS.get(code, (None, None)) if code is not None else (None, None)
    filename = getattr(exc, "filename", None)
    detail = problem or (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
    where = f" ({filename})" if filename else ""
    hints = [h for h in (fix, hint) if h]
    return StorageError(f"{action} failed: {detail}{where}", hint="; ".join(hints) or None)


def is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure to read or write a file (an ``OSError``, or a library error quoting an errno)."""
    return isinstance(exc, OSError) or (os_errno(exc) is not None and type(exc).__name__ == "SafetensorError")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (torch's CPU allocator, a GPU out of memory, or Python's own)."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in str(exc) or "out of memory" in str(exc))


_ASKED = re.compile(r"(?:tried to allocate|Tried to allocate) ([\d.]+) ?(bytes|[KMGT]i?B)")
_UNITS = {"bytes": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30,
          "TiB": 2**40}


def memory_error(exc: BaseException, action: str, hint: str | None = None) -> GanzooError:
    """A :class:`GanzooError` for an allocation failure during ``action``, giving the size that was asked for."""
    found = _ASKED.search(str(exc))
    asked = ""
    if found:
        size = float(found.group(1)) * _UNITS.get(found.group(2), 1)
        shown = f"{size / 2**30:,.1f} GiB" if size >= 2**30 else f"{size / 2**20:,.1f} MiB"
        asked = f": it asked for {shown}"
    return GanzooError(f"out of memory in {action}{asked}", hint=hint)
