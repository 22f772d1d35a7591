"""How the store recovers from crashes and from a lost index, deleting nothing its index does not know.

- Staging folders of dead processes (registrations that never reached their rename) go to ``trash/``.
- A card rewrite interrupted between its index commit and its rename is rolled forward.
- A version folder without an index row is re-indexed: from its manifest when it has one (every file must match
  it; a card rewritten after the manifest is taken as found), else from its config.json and the files as found
  (folders stored before manifests existed). A folder ``rm`` recorded as removed is deleted instead (finishing a
  removal a crash interrupted). A folder that does not check out is left in place and reported.

These run when a store opens (:meth:`ganzoo.store.ModelStore.__init__`) and in ``ganzoo models repair``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.runs.files import sha256_file, symlinks_in
from ganzoo.store import artifact
from ganzoo.store.folders import (
    dead_writer,
    discard,
    fsync,
    make_manifest,
    owned_label,
    read_manifest,
    to_trash,
    version_folders,
    write_manifest,
)
from ganzoo.store.index import INDEX, ModelIndex
from ganzoo.store.intake import check_result
from ganzoo.store.records import (
    CARD_FILE,
    CONFIG_FILE,
    GENERATOR_FILE,
    MANIFEST_FILE,
    PENDING_CARD_PREFIX,
    Layout,
    now,
)


@dataclass
class RepairReport:
    """What ``ganzoo models repair``, or a store's open, found and did. Nothing was deleted."""

    home: Path
    index_moved_to: Path | None = None
    reindexed: list[str] = field(default_factory=list)
    trashed: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    checked: int = 0

    def lines(self) -> list[str]:
        """The whole report, for ``ganzoo models repair``."""
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

    def open_lines(self) -> list[str]:
        """What an ordinary open says about the folders it re-indexed or set aside."""
        lines = []
        if self.reindexed:
            lines.append(f"re-indexed {len(self.reindexed)} model folder(s) the index did not list: "
                         f"{', '.join(self.reindexed)}")
        lines += [f"moved to trash: {what}" for what in self.trashed]
        lines += [f"left a damaged model folder in place, not indexed: {what} (`ganzoo models repair` reports it)"
                  for what in self.damaged]
        return lines


def recover(layout: Layout, index: ModelIndex, report: RepairReport) -> None:
    """Everything an open does on its own (see the module docstring), recorded in ``report``.

    Version folders are only judged while holding the write lock: a live registration renames its folder into
    place and inserts its row inside one write transaction, so no live process can be between the two then.
    """
    for entry in sorted(layout.tmp_dir.iterdir()):
        if not dead_writer(entry.name):
            continue
        label = owned_label(entry.name)
        if label == "trash" or label.startswith(INDEX):  # our own deletions and index builds: no user data
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        else:
            moved = to_trash(entry, layout.trash_dir, "unfinished-registration")
            report.trashed.append(f"an unfinished registration left by a crashed process -> {moved}")
    finish_pending_cards(layout, index)
    on_disk = version_folders(layout.models_dir)
    with index.connect() as conn:
        known = index.known(conn)
    if not on_disk <= known:
        with index.write() as conn:
            adopt_orphans(conn, layout, index, sorted(on_disk - index.known(conn)), report)


def refresh_manifest(conn: sqlite3.Connection, layout: Layout, index: ModelIndex, name: str, version: int) -> None:
    """Mirror the index rows of ``name:version`` into its folder's manifest.json (what repair rebuilds from)."""
    rows = index.manifest_rows(conn, name, version)
    if rows is not None:
        write_manifest(layout.version_dir(name, version), make_manifest(name, version, **rows))


def finish_card(layout: Layout, index: ModelIndex, name: str, version: int, pending: Path) -> None:
    """After a card rewrite committed: manifest from the committed rows, then the pending card into place (both
    idempotent, so racing another process that finishes the same card is harmless)."""
    with index.connect() as conn:
        refresh_manifest(conn, layout, index, name, version)
    os.replace(pending, pending.parent / CARD_FILE)
    fsync(pending.parent)


def finish_pending_cards(layout: Layout, index: ModelIndex) -> None:
    """Complete card rewrites that a crash interrupted between the index commit and the rename.

    ``add_metrics`` writes the new card as ``.README.md.pending-<pid>-<id>``, commits its sha256 with the metrics,
    rewrites the manifest, then renames the card over ``README.md``. A pending card whose sha256 is the one the
    index records was committed: finished. Any other pending card belongs to a transaction that never committed:
    deleted once its process is gone.
    """
    pending_cards = list(layout.models_dir.glob(f"*/*/{PENDING_CARD_PREFIX}*"))
    if not pending_cards:
        return
    with index.connect() as conn:
        recorded = index.card_hashes(conn)
    for pending in pending_cards:
        folder = pending.parent
        with contextlib.suppress(FileNotFoundError):
            if sha256_file(pending) == recorded.get((folder.parent.name, folder.name)):
                finish_card(layout, index, folder.parent.name, int(folder.name), pending)
            elif dead_writer(pending.name.removeprefix(PENDING_CARD_PREFIX)):
                pending.unlink()


def adopt_orphans(conn: sqlite3.Connection, layout: Layout, index: ModelIndex, orphans: Sequence[tuple[str, str]],
                  report: RepairReport) -> None:
    """Folders without an index row (inside the caller's write transaction): removals recorded by ``rm`` are
    finished; complete models are re-indexed; damaged folders are left alone and reported."""
    removed = index.removed(conn)
    for name, version in orphans:
        folder = layout.version_dir(name, version)
        if (name, version) in removed:
            discard(folder, layout.tmp_dir)
            index.forget_removed(conn, [(name, int(version))])
            continue
        try:
            entry = read_orphan(folder)
        except GanzooError as exc:
            report.damaged.append(f"{folder}: {exc.message}")
            continue
        index.insert(conn, name, int(version), folder, entry["created"], entry["config"], entry["hashes"],
                     entry["results"], entry["source"])
        refresh_manifest(conn, layout, index, name, int(version))
        report.reindexed.append(f"{name}:{version}")


def read_orphan(folder: Path) -> dict[str, Any]:
    """Everything needed to index a version folder again, checked (see the module docstring)."""
    source = f"model folder {folder}"
    if symlinks_in(folder):
        raise GanzooError("it holds a symlink")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GanzooError(f"its config.json cannot be read: {exc}") from exc
    artifact.validate(config, source)
    present = {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
               and p.name != MANIFEST_FILE}
    if GENERATOR_FILE not in present:
        raise GanzooError(f"it has no {GENERATOR_FILE}")
    hashes = {filename: (sha256_file(path), path.stat().st_size) for filename, path in present.items()}
    manifest = read_manifest(folder)
    entry = {"config": config, "hashes": hashes, "results": [], "source": f"re-indexed from {folder}",
             "created": _mtime(folder / CONFIG_FILE)}
    if manifest is None:
        return entry
    for filename, info in manifest["files"].items():
        if filename == CARD_FILE:
            continue
        if hashes.get(filename) != (info["sha256"], info["size"]):
            raise GanzooError(f"{filename} does not match its manifest (missing, truncated or changed)")
    entry.update(results=[check_result(r) for r in manifest["results"]],
                 source=manifest.get("source") or entry["source"], created=manifest["created"])
    return entry


def _mtime(path: Path) -> str:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return now()
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).isoformat(timespec="seconds")
