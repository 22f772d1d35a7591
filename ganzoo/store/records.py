"""The names of the model store: where it lives, what a model reference looks like, the files of a stored version,
and :class:`ModelRecord`, one stored version as the index describes it."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
#: Files of a stored version: the first two are required, the rest are stored when the source has them.
GENERATOR_FILE, CRITIC_FILE, CONFIG_FILE, CARD_FILE = ("generator.safetensors", "critic.safetensors", "config.json",
                                                       "README.md")
SAMPLES_FILE, CURVES_FILE, LOG_FILE, RESULTS_FILE = "samples.png", "curves.png", "metrics.jsonl", "results.json"
#: The generator's moving average (``--set ema=DECAY``), beside the raw generator; sampled by default when present.
GENERATOR_EMA_FILE = "generator_ema.safetensors"
#: A version folder's own copy of its index rows (not a model file: not in the files table, never exported).
MANIFEST_FILE = "manifest.json"
PENDING_CARD_PREFIX = f".{CARD_FILE}.pending-"  # a rewritten card between its index commit and its rename
EXPORT_WEIGHTS = "model.safetensors"  # the Hugging Face model-repository name for the generator weights


@dataclass(frozen=True)
class Layout:
    """The folders of a store at ``home``."""

    home: Path

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def tmp_dir(self) -> Path:
        """Staging folders of registrations in progress, and trash being deleted."""
        return self.home / "tmp"

    @property
    def trash_dir(self) -> Path:
        """What the store moved aside instead of deleting."""
        return self.home / "trash"

    def version_dir(self, name: str, version: int | str) -> Path:
        return self.models_dir / name / str(version)


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


def now() -> str:
    """The time now, as the store records it (UTC, ISO 8601, seconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def stamp() -> str:
    """The time now as a file-name part (UTC, microseconds)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


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
