"""The Python API behind every CLI command: the CLI parses and prints, these functions do the work.

This is the one module that composes the layers below it: it builds a run's parts and its evaluator, hands them to
the trainer, stores what the trainer made, and evaluates stored models (the model store and the evaluation engine
never import each other).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.errors import ConfigError, GanzooError, storage_error
from ganzoo.eval.during_training import TrainingEvaluator
from ganzoo.eval.engine import Evaluation, evaluate
from ganzoo.eval.subjects import Subject
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.runs.checkpoint import latest_checkpoint_step
from ganzoo.runs.config import FLAG_SOURCE, USER_SOURCES, TrainConfig, parse_sets
from ganzoo.runs.folder import LOG_FILE, read_run
from ganzoo.store import ModelStore, load_generator, validate_name
from ganzoo.train import distributed
from ganzoo.train.build import build_parts
from ganzoo.train.distributed import Ranks
from ganzoo.train.resolve import resolve_config
from ganzoo.train.trainer import RunResult, Trainer, finished_result

DEFAULT_DATASET = "fashion-mnist"


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{config.arch}-{config.loss}-{config.dataset}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def make_config(arch: str, loss: str, dataset: str = DEFAULT_DATASET, *, sets: Sequence[str] | Mapping[str, Any] = (),
                registry: Registry | None = None, **overrides: Any) -> TrainConfig:
    """Resolve a run's settings (see :func:`ganzoo.runs.config.resolve_config`); ``overrides`` are training/run keys."""
    parsed = dict(sets) if isinstance(sets, Mapping) else parse_sets(sets)
    return resolve_config(registry or get_registry(), arch, loss, dataset, overrides, parsed)


class RegistrationError(GanzooError):
    """A finished run whose model could not be stored. The run folder is complete; ``result`` describes it."""

    def __init__(self, message: str, hint: str | None, result: RunResult) -> None:
        super().__init__(message, hint)
        self.result = result


def train(arch: str, loss: str, dataset: str = DEFAULT_DATASET, *, out: str | Path | None = None,
          sets: Sequence[str] | Mapping[str, Any] = (), progress: bool = True,
          echo: Callable[[str], None] = print, registry: Registry | None = None, name: str | None = None,
          register: bool = True, store: ModelStore | None = None, **overrides: Any) -> RunResult:
    """Train ``arch`` with ``loss`` on ``dataset``; returns where everything was written.

    ``overrides``: steps, batch_size, lr, n_critic, seed, device, latent_dim, sample_every, checkpoint_every, ...
    A finished run is registered in the model store (``store``, default ``GANZOO_HOME``) as ``name`` (default
    ``{arch}-{loss}-{dataset}``) unless ``register`` is False; ``result.record`` is then its :class:`ModelRecord`.
    The name and the choice to register are recorded in the run's config.json, so a resumed run keeps them. A store
    that cannot take the model raises :class:`RegistrationError` (after the run folder is safely written).
    """
    if name is not None:
        validate_name(name)  # fail before training, not after
    registry = registry or get_registry()
    config = make_config(arch, loss, dataset, sets=sets, registry=registry, name=name,
                         register=None if register else False, **overrides)
    ranks = join_processes(config)
    try:
        if out is None and ranks.distributed and distributed.may_restart():
            raise GanzooError("torchrun --max-restarts reruns this same command after a failure, and it must find "
                              "its run folder again", hint="pass --out RUN_DIR (ganzoo train --nproc N does it)")
        run_dir = ranks.broadcast(Path(out) if out is not None else default_run_dir(config))  # rank 0's choice
        if (run_dir / "config.json").exists():
            if distributed.restart_count() and latest_checkpoint_step(run_dir / "checkpoints") is not None:
                ranks.barrier()  # torchrun restarted the group after a failure: continue from the last checkpoint
                return resume(run_dir, progress=progress, echo=echo, registry=registry, store=store, ranks=ranks)
            if not distributed.restart_count():  # never mix two runs' logs and checkpoints in one folder
                raise GanzooError(f"{run_dir} already holds a ganzoo run",
                                  hint=f"continue it with `ganzoo train --resume {run_dir}`, or pass another --out "
                                       "(or none: a new folder)")
        if config.register and ranks.is_main:
            store = store or ModelStore()  # a store that cannot even open fails now, before any training
        trainer = make_trainer(config, registry, run_dir, progress=progress, echo=echo, ranks=ranks)  # checks all
        ranks.barrier()  # every rank has checked the folder before rank 0 writes to it
        if ranks.is_main:
            prepare_run_dir(run_dir)
            if distributed.restart_count():  # restarted before its first checkpoint: the run starts over
                (run_dir / LOG_FILE).unlink(missing_ok=True)
        result = trainer.run()
        return _register(result, config, store, registry, echo) if ranks.is_main else result
    finally:
        ranks.close()


def join_processes(config: TrainConfig, ranks: Ranks | None = None) -> Ranks:
    """Join torchrun's process group when torchrun started this process (else: a world of one), recording in
    ``config`` the number of processes and this rank's device (GPU LOCAL_RANK on CUDA)."""
    if ranks is None:
        ranks, device = distributed.start(config.device)
        if device != config.device:
            config.device, config.sources["device"] = device, f"torchrun: rank {ranks.rank}'s device"
    if ranks.distributed:
        config.world_size, config.sources["world_size"] = ranks.world_size, "torchrun (WORLD_SIZE)"
        config.validate()
    return ranks


def make_trainer(config: TrainConfig, registry: Registry, run_dir: Path, *, progress: bool = True,
                 echo: Callable[[str], None] = print, ranks: Ranks | None = None) -> Trainer:
    """A :class:`Trainer` for ``config`` with its parts built through ``registry`` and, for ``--eval-every``, its
    evaluator (every part is checked here, before anything is trained). ``ranks``: the processes training it
    together (:func:`join_processes`); only rank 0 evaluates, prints and shows progress."""
    ranks = ranks or Ranks()
    parts = build_parts(config, registry, ranks)
    main = ranks.is_main
    evaluator = TrainingEvaluator(config, registry, parts.data, parts.device) if config.eval_every and main else None
    return Trainer(config, parts, run_dir, evaluator=evaluator, progress=progress and main,
                   echo=echo if main else _silent)


def _silent(_: str) -> None:
    """What a rank other than 0 prints."""


def prepare_run_dir(run_dir: Path) -> None:
    """Make the run folder, or say clearly why it cannot be made (a file in its place, no permission, a full disk)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise GanzooError(f"--out {run_dir} is a file, not a folder", hint="pass a new folder name to --out (or "
                          "none: runs/ARCH-LOSS-DATA-TIME)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=run_dir):
            pass
    except OSError as exc:
        raise storage_error(exc, f"creating the run folder {run_dir}", hint="pass --out a folder you can write to") \
            from exc


#: What ``ganzoo train --resume RUN_DIR`` may change; every other setting is the run's own.
RESUME_MAY_CHANGE = ("steps", "device")


def resume(run_dir: str | Path, *, steps: int | None = None, device: str | None = None, progress: bool = True,
           echo: Callable[[str], None] = print, registry: Registry | None = None, store: ModelStore | None = None,
           ranks: Ranks | None = None) -> RunResult:
    """Continue ``run_dir`` from its newest checkpoint to its number of steps (or ``steps``, to extend it), then
    store its model under the name it was started with (unless it was started with ``register=False``).

    A finished run without new steps trains nothing: it is stored if it was not yet (a run is stored once).
    Everything else is the run's own: see :func:`resume_conflicts` for checking what a caller asked for against it.
    """
    registry = registry or get_registry()
    run_dir = Path(run_dir)
    config, _ = read_run(run_dir)
    at = latest_checkpoint_step(run_dir / "checkpoints")
    if at is None:
        raise GanzooError(f"run {run_dir} has no checkpoint to resume from",
                          hint="it stopped before its first checkpoint: start it again with `ganzoo train`")
    if steps is not None:
        config = _extended(config, steps, at, run_dir)
    if device is not None:
        config.device, config.sources["device"] = device, FLAG_SOURCE
    trained_by, owned = config.world_size, ranks is None
    ranks = join_processes(config, ranks)
    try:
        if ranks.world_size != trained_by and at < config.steps:
            raise GanzooError(
                f"run {run_dir} was trained by {trained_by} process(es) (global batch {config.batch_size} = "
                f"{trained_by} x {config.batch_size // trained_by}); this is {ranks.world_size}: its data shards and "
                "random-number states are those of its own number of processes",
                hint=(f"resume it with {trained_by}: `ganzoo train --nproc {trained_by} --resume {run_dir}` (or "
                      f"torchrun --nproc-per-node {trained_by} -m ganzoo train --resume {run_dir})") if trained_by > 1
                else f"resume it in one process: `ganzoo train --resume {run_dir}`")
        if config.register and ranks.is_main:
            store = store or ModelStore()
        if at >= config.steps:
            (echo if ranks.is_main else _silent)(
                f"run {run_dir} is finished ({at} of {config.steps} steps): nothing to train"
                + (" (--steps N extends it)" if steps is None else ""))
            result = finished_result(run_dir)
        else:
            result = make_trainer(config, registry, run_dir, progress=progress, echo=echo, ranks=ranks).restore().run()
        return _register(result, config, store, registry, echo) if ranks.is_main else result
    finally:
        if owned:
            ranks.close()


def _extended(config: TrainConfig, steps: int, at: int, run_dir: Path) -> TrainConfig:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < at:
        raise ConfigError(f"--steps {steps!r} is fewer than the {at} steps run {run_dir} has already trained",
                          hint=f"pass --steps {config.steps} (its own) or more, or leave --steps out")
    if steps != config.steps and config.lr_schedule != "constant":
        raise ConfigError(f"run {run_dir} decays its learning rate to 0 at step {config.steps} "
                          f"(lr_schedule {config.lr_schedule}); extending it would restart the schedule",
                          hint="start a new run with more --steps")
    if steps != config.steps:
        config.steps, config.sources["steps"] = steps, FLAG_SOURCE
    return config


def resume_conflicts(run_dir: str | Path, *, arch: str | None = None, loss: str | None = None,
                     dataset: str | None = None, sets: Sequence[str] | Mapping[str, Any] = (),
                     registry: Registry | None = None, **overrides: Any) -> list[str]:
    """What a caller asked for that the run in ``run_dir`` does not have, as ``"--lr 0.001 (the run has 0.0001)"``.

    ``overrides`` and ``sets`` are what ``ganzoo train`` would take (None: not given); keys in
    :data:`RESUME_MAY_CHANGE` are not compared. An empty list means the request agrees with the run.
    """
    registry = registry or get_registry()
    run, _ = read_run(run_dir)
    conflicts = []
    for key, given, canonical in (("ARCH", arch, registry.arch), ("LOSS", loss, registry.loss),
                                  ("--dataset", dataset, registry.dataset)):
        recorded = getattr(run, {"ARCH": "arch", "LOSS": "loss", "--dataset": "dataset"}[key])
        if given is not None and canonical(given).name != recorded:
            conflicts.append(f"{key} {given} (the run has {recorded})")
    asked = {k: v for k, v in overrides.items() if v is not None and k not in RESUME_MAY_CHANGE}
    parsed = dict(sets) if isinstance(sets, Mapping) else parse_sets(sets)
    if not asked and not parsed:
        return conflicts
    wanted = resolve_config(registry, run.arch, run.loss, run.dataset, asked, parsed)
    for key, source in sorted(wanted.sources.items()):
        if source not in USER_SOURCES or _setting(wanted, key) == _setting(run, key):
            continue
        if key == "register":
            conflicts.append("--no-register (the run stores its model)" if run.register
                             else "--register (the run was started with --no-register)")
            continue
        flag = f"--{key.replace('_', '-')}" if key in asked else f"--set {key}"
        conflicts.append(f"{flag} {_setting(wanted, key)!r} (the run has {_setting(run, key)!r})")
    return conflicts


def _setting(config: TrainConfig, key: str) -> Any:
    group, _, name = key.rpartition(".")
    return getattr(config, f"{group}_options").get(name) if group else getattr(config, key)


def _register(result: RunResult, config: TrainConfig, store: ModelStore | None, registry: Registry,
              echo: Callable[[str], None]) -> RunResult:
    """Store a finished run's model as ``config.name`` when ``config.register``; an interrupted run is not stored
    (resume it, and it is stored then). A store that cannot take it raises :class:`RegistrationError`: the run
    folder is complete, and ``ganzoo models import RUN_DIR`` stores it later."""
    if not config.register or result.interrupted:
        return result
    try:
        result.record = (store or ModelStore()).register(result.run_dir, config.name, registry=registry)
    except GanzooError as exc:
        raise RegistrationError(f"run {result.run_dir} finished, but its model was not stored: {exc.message}",
                                hint=(f"{exc.hint}; then " if exc.hint else "")
                                + f"store it with `ganzoo models import {result.run_dir}`", result=result) from exc
    return result


def subject_from_store(ref: str, *, store: ModelStore | None = None, device: str = "cpu",
                       registry: Registry | None = None, raw: bool = False) -> Subject:
    """The generator of stored model ``ref`` ("name" or "name:version") as something to evaluate: its moving average
    when it has one, unless ``raw``."""
    generator = load_generator(ref, device=device, store=store, registry=registry, raw=raw)
    config = generator.record.config
    options = dict(config.get("train_config", {}).get("dataset_options", {}))
    return Subject(generator, generator.latent_dim, tuple(generator.shape), generator.data_kind, config["dataset"],
                   options, f"model {generator.record.ref} ({generator.description})", ref=generator.record.ref,
                   device=generator.device, weights=generator.weights,
                   plugins=dict(config.get("plugins") or {}))


def evaluate_model(ref: str, metrics: Sequence[str] | None = None, *, store: ModelStore | None = None,
                   save: bool = True, device: str = "cpu", registry: Registry | None = None, raw: bool = False,
                   **options: Any) -> Evaluation:
    """Evaluate stored model ``ref`` (its averaged generator when it has one, unless ``raw``) and record the results
    in the store (and so in its model card); ``options`` as :func:`ganzoo.eval.engine.evaluate` takes them."""
    store = store or ModelStore()
    subject = subject_from_store(ref, store=store, device=device, registry=registry, raw=raw)
    evaluation = evaluate(subject, metrics, registry=registry, **options)
    if save:
        record = store.add_metrics(subject.ref, evaluation.results)
        evaluation.saved_to = f"model store ({record.ref}, {record.path / 'README.md'})"
    return evaluation
