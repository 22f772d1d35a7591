"""The model store's folders: staging folders named after the process that owns them, moving things out of sight,
the trash, each version's manifest, and refusing links. Nothing here reads the index.

A name made by :func:`owned_name` starts with the writer's pid (``<pid>-<id>[-label]``), so that a later process can
tell a leftover of a dead writer (:func:`dead_writer`) from work in progress.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError, storage_error
from ganzoo.runs.files import atomic_write_json, copy_regular_file, symlinks_in
from ganzoo.store.records import MANIFEST_FILE, NAME_RE, stamp

MANIFEST_FORMAT = "ganzoo-store-entry"


def fsync(path: Path) -> None:
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


def owned_name(label: str = "") -> str:
    """A fresh file name that starts with this process's pid (``<pid>-<id>[-label]``)."""
    return f"{os.getpid()}-{uuid.uuid4().hex}" + (f"-{label}" if label else "")


def owned_label(filename: str) -> str:
    """The label of an :func:`owned_name` (empty for a staging folder)."""
    parts = filename.split("-", 2)
    return parts[2] if len(parts) == 3 else ""


def dead_writer(filename: str) -> bool:
    """Whether the process whose pid starts ``filename`` (``<pid>-...``) is gone (or the name has no pid)."""
    pid = filename.split("-", 1)[0]
    return not pid.isdigit() or not _pid_alive(int(pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staging(tmp_dir: Path) -> Path:
    """A new, empty staging folder in ``tmp_dir`` owned by this process."""
    path = tmp_dir / owned_name()
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise storage_error(exc, f"writing into the model store {tmp_dir.parent}", hint="the store is unchanged") \
            from exc
    return path


def discard(path: Path, tmp_dir: Path) -> None:
    """Delete ``path``, whose index rows are already gone: moved out of sight at once (renamed into ``tmp_dir``),
    then deleted. Only for folders the store itself has dropped from its index."""
    trash = tmp_dir / owned_name("trash")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def to_trash(path: Path, trash_dir: Path, label: str) -> Path:
    """Move ``path`` into ``trash_dir`` (emptied only by ``ganzoo models trash --empty``); returns where it went."""
    trash_dir.mkdir(parents=True, exist_ok=True)
    target = trash_dir / f"{stamp()}-{label}"
    os.rename(path, target)
    return target


def version_folders(models_dir: Path) -> set[tuple[str, str]]:
    """(name, version) of every folder shaped like a stored version: models/<valid name>/<digits>."""
    return {(d.parent.name, d.name) for d in models_dir.glob("*/*")
            if d.is_dir() and d.name.isdigit() and NAME_RE.match(d.parent.name)}


def refuse_symlinks(directory: Path, source: str) -> None:
    """A folder handed to the store must hold no symlink: a link could carry any file of this machine into it."""
    links = symlinks_in(directory)
    if links:
        shown = ", ".join(f"{link.relative_to(directory) if link != directory else link} -> {os.readlink(link)}"
                          for link in links[:5])
        raise GanzooError(f"{source} holds symlinks ({shown}); the store never follows links, nothing was written",
                          hint="replace each link by the file it points to (cp -L) after checking that you mean to "
                               "share it, or pass the folder itself rather than a link to it")


def copier(source: Path) -> Callable[[Path], None]:
    """A writer that copies ``source`` (never through a symlink)."""
    return lambda target: copy_regular_file(source, target)


# --- the manifest: a version's index rows, mirrored into its folder ------------------------------------------------


def make_manifest(name: str, version: int, created: str, source: str | None, run_id: str | None,
                  hashes: Mapping[str, tuple[str, int]], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"format": MANIFEST_FORMAT, "format_version": 1, "name": name, "version": version, "created": created,
            "source": source, "run_id": run_id, "results": list(results),
            "files": {f: {"sha256": sha, "size": size} for f, (sha, size) in sorted(hashes.items())
                      if f != MANIFEST_FILE}}


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> Path:
    return atomic_write_json(folder / MANIFEST_FILE, dict(manifest))


def read_manifest(folder: Path) -> dict[str, Any] | None:
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
