"""What a sweep is: the grid (losses x architectures x data sets x seeds), the settings every trial or one loss's
trials share, and a search space per loss (grid or seeded ``random`` search with an equal trial budget per loss,
the protocol of Lucic et al. 2018). :func:`sweep_spec` reads one from a sweep file's (TOML) or the command line's
values; :meth:`SweepSpec.trials` lists its trials, the same ones every time for the same spec.

A sweep file::

    name = "toy-losses"
    loss = "all"                 # a name, a list, "all", or a pattern such as "wgan*"
    arch = "mlp"
    dataset = "gaussians8"
    seeds = "0-2"                # or [0, 1, 2]
    steps = 300
    metrics = ["w1"]             # default: the data set's default metrics

    [set]                        # every trial (as --set)
    hidden = 64

    [loss_set.wgan]              # the trials of one loss
    clip = 0.02

    [search]
    method = "random"            # "grid" (default) or "random"
    trials = 4                   # random: settings drawn per loss (each run with every seed)
    seed = 0

    [space]                      # every loss
    lr = { log_uniform = [1e-5, 1e-3] }

    [loss_space.wgan-gp]         # one loss
    lambda = { choice = [1.0, 10.0, 100.0] }

Distributions: ``choice = [...]``, ``uniform = [a, b]``, ``log_uniform = [a, b]``, ``int_uniform = [a, b]``
(inclusive). Grid search takes only ``choice`` (the product of the lists); random search draws every dimension.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import random
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.errors import ConfigError
from ganzoo.plugin.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GRID, RANDOM = "grid", "random"
DISTRIBUTIONS = ("choice", "uniform", "log_uniform", "int_uniform")
#: The keys of a sweep file (and of the values the command line gives).
KEYS = ("name", "loss", "arch", "dataset", "seeds", "steps", "metrics", "set", "loss_set", "search", "space",
        "loss_space")
SEARCH_KEYS = ("method", "trials", "seed")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
DEFAULT_NAME = "sweep"


class SweepError(ConfigError):
    """A sweep that cannot run as given (refused before any trial starts)."""


@dataclass(frozen=True)
class Dimension:
    """One searched setting: ``kind`` is one of :data:`DISTRIBUTIONS`, ``values`` its list or bounds."""

    key: str
    kind: str
    values: tuple[Any, ...]

    def draw(self, rng: random.Random) -> Any:
        if self.kind == "choice":
            return rng.choice(self.values)
        low, high = self.values
        if self.kind == "uniform":
            return rng.uniform(low, high)
        if self.kind == "log_uniform":
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return rng.randint(low, high)

    def to_json(self) -> dict[str, Any]:
        return {self.kind: list(self.values)}


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: its id (stable for the same spec), place in the sweep, names, seed and own settings
    (the ``--set`` values it trains with, beyond loss, arch, data set, seed and steps)."""

    trial_id: str
    position: int
    loss: str
    arch: str
    dataset: str
    seed: int
    settings: dict[str, Any]
    draw: int  # which of the loss's hyper-parameter settings (0 .. budget-1)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: canonical names (aliases resolved), seeds, steps and search."""

    name: str
    losses: tuple[str, ...]
    archs: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    metrics: tuple[str, ...] = ()
    sets: dict[str, Any] = field(default_factory=dict)
    loss_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    method: str = GRID
    budget: int = 1  # random search: settings drawn per loss
    search_seed: int = 0
    space: tuple[Dimension, ...] = ()
    loss_spaces: dict[str, tuple[Dimension, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Everything that decides the trials, in a canonical form (the sweep id hashes it)."""
        return {
            "name": self.name, "loss": list(self.losses), "arch": list(self.archs), "dataset": list(self.datasets),
            "seeds": list(self.seeds), "steps": self.steps, "metrics": list(self.metrics), "set": self.sets,
            "loss_set": self.loss_sets, "search": {"method": self.method, "trials": self.budget,
                                                   "seed": self.search_seed},
            "space": {d.key: d.to_json() for d in self.space},
            "loss_space": {loss: {d.key: d.to_json() for d in dims} for loss, dims in self.loss_spaces.items()},
        }

    @property
    def sweep_id(self) -> str:
        """``NAME-HASH``: the same spec always has the same id (and so the same folder: running it again resumes)."""
        digest = hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.name}-{digest}"

    def dimensions(self, loss: str) -> tuple[Dimension, ...]:
        """The searched settings of ``loss``: the common space, then its own (which wins on the same key)."""
        own = self.loss_spaces.get(loss, ())
        mine = {d.key for d in own}
        return tuple(d for d in self.space if d.key not in mine) + own

    def draws(self, loss: str) -> list[dict[str, Any]]:
        """The hyper-parameter settings ``loss`` is trained with: the product of the choices (grid), or ``budget``
        draws seeded by the search seed and the loss's name (random; the same every time)."""
        dims = self.dimensions(loss)
        if self.method == GRID:
            return [dict(zip([d.key for d in dims], combo, strict=True))
                    for combo in itertools.product(*(d.values for d in dims))]
        rng = random.Random(f"{self.search_seed}:{loss}")
        return [{d.key: d.draw(rng) for d in dims} for _ in range(self.budget)]

    def trials(self) -> list[Trial]:
        """Every trial, loss by loss; each drawn setting is run with every seed (so seeds compare like with like)."""
        out: list[Trial] = []
        many_data = len(self.datasets) > 1
        for loss in self.losses:
            draws = self.draws(loss)
            for arch, dataset in itertools.product(self.archs, self.datasets):
                for t, drawn in enumerate(draws):
                    for seed in self.seeds:
                        settings = {**self.sets, **self.loss_sets.get(loss, {}), **drawn}
                        parts = [loss, arch, *([dataset] if many_data else []), f"s{seed}", f"t{t}"]
                        out.append(Trial(".".join(parts), len(out), loss, arch, dataset, seed, settings, t))
        return out


# --- reading a spec ---------------------------------------------------------------------------------------------


def read_sweep_file(path: str | Path) -> dict[str, Any]:
    """The values of a sweep file (TOML); its name defaults to the file's stem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"sweep file {path} does not exist", hint="pass a TOML sweep file (docs/sweeps.md)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read sweep file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"sweep file {path} is not valid TOML: {exc}", hint="see docs/sweeps.md for the format") \
            from exc
    data.setdefault("name", _slug(path.stem))
    return data


def sweep_spec(values: Mapping[str, Any], registry: Registry) -> SweepSpec:
    """A :class:`SweepSpec` from a sweep file's or the command line's ``values`` (see the module docstring); every
    name is resolved through ``registry`` (unknown ones with close matches), an empty grid is refused."""
    _no_unknown(values, KEYS, "sweep")
    name = values.get("name") or DEFAULT_NAME
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SweepError(f"sweep name {name!r} must be lower-case letters, digits and '-' (at most 40)",
                         hint="e.g. name = \"toy-losses\"")
    losses = _names(registry, "loss", values.get("loss"))
    archs = _names(registry, "arch", values.get("arch"))
    datasets = _names(registry, "dataset", values.get("dataset", "fashion-mnist"))
    seeds = parse_seeds(values.get("seeds", [0]))
    steps = values.get("steps", 1000)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SweepError(f"steps must be a whole number >= 1, got {steps!r}")
    metrics = tuple(registry.metric(m).name for m in _listed(values.get("metrics", ()), "metrics"))
    sets = _table(values.get("set", {}), "set")
    loss_sets = {registry.loss(loss).name: _table(table, f"loss_set.{loss}")
                 for loss, table in _table(values.get("loss_set", {}), "loss_set").items()}
    search = _table(values.get("search", {}), "search")
    _no_unknown(search, SEARCH_KEYS, "[search]")
    method = search.get("method", GRID)
    if method not in (GRID, RANDOM):
        raise SweepError(f"search method {method!r} is not {GRID!r} or {RANDOM!r}")
    budget, search_seed = search.get("trials", 1), search.get("seed", 0)
    for key, value, low in (("trials", budget, 1), ("seed", search_seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SweepError(f"search {key} must be a whole number >= {low}, got {value!r}")
    if "trials" in search and method != RANDOM:
        raise SweepError("search trials is the budget of random search",
                         hint="set method = \"random\" in [search], or leave trials out")
    space = _space(values.get("space", {}), "space", method)
    loss_spaces = {registry.loss(loss).name: _space(table, f"loss_space.{loss}", method)
                   for loss, table in _table(values.get("loss_space", {}), "loss_space").items()}
    for key, dims in (("loss_set", loss_sets), ("loss_space", loss_spaces)):
        for loss in dims:
            if loss not in losses:
                raise SweepError(f"[{key}.{loss}] names a loss that is not in the sweep",
                                 hint=f"the sweep's losses: {', '.join(losses)}")
    spec = SweepSpec(name, losses, archs, datasets, seeds, steps, metrics, sets, loss_sets, method, budget,
                     search_seed, space, loss_spaces)
    if not spec.trials():
        raise SweepError("the sweep has no trials (empty grid)", hint="give at least one loss, architecture, "
                         "data set and seed, and choices that are not empty")
    return spec


def parse_seeds(value: Any) -> tuple[int, ...]:
    """``"0-4"``, ``"0,2,5"``, ``"0-2,7"``, ``3`` or ``[0, 1]`` -> the seeds, in order, each once."""
    items: list[Any]
    if isinstance(value, str):
        items = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            low, sep, high = part.partition("-")
            try:
                items += list(range(int(low), int(high) + 1)) if sep else [int(part)]
            except ValueError:
                raise SweepError(f"seeds {value!r}: {part!r} is not a seed or a range such as 0-4") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise SweepError(f"seeds must be a list or a range such as \"0-4\", got {value!r}")
    for seed in items:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SweepError(f"seed {seed!r} is not a whole number >= 0")
    seeds = tuple(dict.fromkeys(items))
    if not seeds:
        raise SweepError(f"seeds {value!r} name no seed (empty grid)", hint="e.g. --seeds 0-4")
    return seeds


def _names(registry: Registry, kind: str, value: Any) -> tuple[str, ...]:
    """Canonical names from a name, a comma-separated string, a list, ``"all"`` or shell patterns."""
    label = {"loss": "loss", "arch": "architecture", "dataset": "data set"}[kind]
    if value is None:
        raise SweepError(f"the sweep names no {label}", hint=f"give one or more (--{kind} NAME,NAME or \"all\")")
    found: list[str] = []
    for item in _listed(value, kind):
        if item == "all":
            found += [spec.name for spec in registry.entries(kind)]
        elif any(c in item for c in "*?["):
            matched = [spec.name for spec in registry.entries(kind, item)]
            if not matched:
                raise SweepError(f"{label} pattern {item!r} matches nothing",
                                 hint=f"`ganzoo list --kind {kind}` shows every {label} installed")
            found += matched
        else:
            found.append(registry.get(kind, item).name)
    names = tuple(dict.fromkeys(found))
    if not names:
        raise SweepError(f"the sweep names no {label} (empty grid)", hint=f"give one or more: --{kind} NAME")
    return names


def _listed(value: Any, key: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise SweepError(f"{key} must be a name or a list of names, got {value!r}")
    return [i.strip() for i in items if i.strip()]


def _table(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SweepError(f"[{key}] must be a table of key = value, got {value!r}")
    return dict(value)


def _space(value: Any, key: str, method: str) -> tuple[Dimension, ...]:
    dims = []
    for setting, dist in _table(value, key).items():
        where = f"[{key}] {setting}"
        if not isinstance(dist, Mapping) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
            raise SweepError(f"{where} must be one distribution, e.g. {{ choice = [1, 10] }}",
                             hint=f"one of: {', '.join(DISTRIBUTIONS)}")
        kind, values = next(iter(dist.items()))
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: {kind} needs a non-empty list")
        if kind != "choice":
            if method == GRID:
                raise SweepError(f"{where}: grid search takes only choice lists",
                                 hint="use { choice = [...] }, or method = \"random\" in [search]")
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            if len(values) != 2 or not numeric or not values[0] < values[1]:
                raise SweepError(f"{where}: {kind} needs two bounds [low, high] with low < high, got {values!r}")
            if kind == "log_uniform" and values[0] <= 0:
                raise SweepError(f"{where}: log_uniform needs bounds > 0, got {values!r}")
            if kind == "int_uniform" and not all(isinstance(v, int) for v in values):
                raise SweepError(f"{where}: int_uniform needs whole-number bounds, got {values!r}")
        dims.append(Dimension(setting, kind, tuple(values)))
    return tuple(dims)


def _no_unknown(values: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
            raise SweepError(f"{where} has no key {key!r}",
                             hint=(f"did you mean {close[0]!r}? " if close else "") + f"keys: {', '.join(known)}")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return slug or DEFAULT_NAME

