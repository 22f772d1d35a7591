"""Errors that name the problem and the fix.

Every error ganzoo raises for bad input is a :class:`GanzooError`; the CLI prints its message (never a traceback) and
exits with status 2.
"""

from __future__ import annotations


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
