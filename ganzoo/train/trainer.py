"""The training loop: one loop for every loss (Algorithm 1 of the WGAN papers, generalised).

Per generator step: ``n_critic`` critic updates, each on a NEW real batch and NEW noise, each ONE backward of the
whole critic objective (objective + penalty) and ONE optimizer step followed by the loss's ``after_critic_step``
(e.g. weight clipping); then one generator update (on a NEW real batch too when the loss sets
``needs_real_in_generator_step``) and the generator's moving average when the run keeps one (``ema``). Everything
that differs between losses lives in the loss plugin.

A run directory holds ``config.json``, ``metrics.jsonl`` (one line per generator step, flushed as it goes),
``samples/step_NNNNNNN.png`` from fixed noise, ``curves.png`` and ``checkpoints/``.

Data-parallel (torchrun, :mod:`ganzoo.train.distributed`): every rank runs this loop on its rows of each global
batch, through DDP-wrapped networks; only rank 0 writes the run folder; the logged values are the means over the
ranks (so they are the global batch's); a stop request takes effect at the next flush, on every rank together.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo import __version__
from ganzoo.errors import GanzooError, is_out_of_memory, is_storage_failure, memory_error, storage_error
from ganzoo.runs.checkpoint import latest_checkpoint_step, load_checkpoint, save_checkpoint
from ganzoo.runs.config import TrainConfig
from ganzoo.runs.files import atomic_write_bytes
from ganzoo.runs.folder import LOG_FILE, read_metrics, read_run, write_run_config
from ganzoo.runs.plots import save_curves, save_samples
from ganzoo.train.build import Parts
from ganzoo.train.distributed import batchnorm_mode, fault_injection

LOGGED = ("critic_loss", "generator_loss", "w_estimate", "penalty", "grad_norm")
FLUSH_EVERY = 10  # steps between host syncs for logging


@dataclass
class RunResult:
    run_dir: Path
    step: int
    interrupted: bool
    last: dict[str, Any]
    samples: Path | None = None
    curves: Path | None = None
    checkpoint: Path | None = None
    notes: list[str] = field(default_factory=list)
    record: Any = None  # the ModelRecord when the finished run was registered in the model store
    rank: int = 0  # which of the processes training the run together returned this (0: the one that wrote it)


class _StopFlag:
    """First Ctrl-C asks the loop to stop at the end of the step (and checkpoint); a second one aborts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


#: Scores the generator during training (``--eval-every``): generator -> {"eval/<label>": value}.
Evaluator = Callable[[torch.nn.Module], dict[str, float]]


class Trainer:
    """Train ``config`` with ``parts`` already built (:func:`ganzoo.train.build.build_parts`), writing everything to
    ``run_dir``; ``evaluator``, when given, scores the generator every ``config.eval_every`` steps."""

    def __init__(self, config: TrainConfig, parts: Parts, run_dir: str | Path, *, evaluator: Evaluator | None = None,
                 progress: bool = True, echo: Callable[[str], None] = print) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.echo = echo
        self.device = parts.device
        self.loss, self.data = parts.loss, parts.data
        self.generator, self.critic = parts.generator, parts.critic
        self.opt_g, self.opt_d, self.schedulers = parts.opt_g, parts.opt_d, parts.schedulers
        # what the two players train through: DDP-wrapped when several processes train together, else themselves;
        # then in the run's arithmetic (--precision, --channels-last, --compile; float32 outputs)
        self.ranks, self.precision = parts.ranks, parts.precision
        self.train_generator = self.precision.wrap(self.ranks.wrap(self.generator, self.device), "generator")
        self.train_critic = self.precision.wrap(self.ranks.wrap(self.critic, self.device), "critic")
        # the fake batch of a critic step (no gradients) and the frozen critic of a generator step
        self.run_generator = self.precision.wrap(self.generator, "generator")
        self.run_critic = self.precision.wrap(self.critic, "critic")
        self._fault = fault_injection(self.ranks.rank)  # tests of restarts only (GANZOO_FAULT_EXIT)
        self.ema = parts.ema  # the generator's moving average (--set ema=DECAY), or None
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        picture_rng = torch.Generator(device=self.device).manual_seed(config.seed + 2)
        self.fixed_z = torch.randn(config.n_samples, config.latent_dim, generator=picture_rng, device=self.device)
        self.real_for_plots = self.data.sample(1000, picture_rng) if self.data.kind == "points" else None
        # Losses draw their own randomness (e.g. the penalty's eps) from torch's global RNG; the trainer keeps that
        # stream as its own state so that two trainers in one process do not disturb each other's results.
        self.global_rng = _GlobalRNG(self.device)
        if self.ranks.rank:  # every rank its own draws; rank 0 keeps the stream a single process has
            self.global_rng.seed(self.ranks.stream_seed(config.seed))
        self.step = 0
        self.elapsed = 0.0
        self.records: list[dict[str, Any]] = []
        #: Names this run folder for good (kept on resume): the model store stores a run's model once.
        self.run_id = uuid.uuid4().hex
        # --eval-every K: a metric plugin scores the generator every K steps; its values join that step's record
        self.evaluator = evaluator if config.eval_every and self.ranks.is_main else None  # rank 0 evaluates
        #: ``log_layer_grads``: this step's gradient norms (and D(G(z))), as tensors until the step is logged
        self.layer_grads: dict[str, Tensor] = {}

    # --- state ------------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(), "critic": self.critic.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "schedulers": [{"last_epoch": s.last_epoch} for s in self.schedulers],
            "rng_global": self.global_rng.state, "rng_train": self.rng.get_state(),
            **({"rng_global_ranks": self.ranks.gather_states(self.global_rng.state)} if self.ranks.distributed
               else {}),
            "data": self.data.state_dict(), "fixed_z": self.fixed_z, "elapsed": self.elapsed,
            **({"generator_ema": self.ema.state_dict()} if self.ema is not None else {}),
            "precision": self.precision.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for scheduler, saved in zip(self.schedulers, state["schedulers"], strict=True):
            scheduler.last_epoch = int(saved["last_epoch"])
        # a row of the stacked states is a view; torch.set_rng_state wants a tensor of its own
        self.global_rng.state = state["rng_global_ranks"][self.ranks.rank].clone() if self.ranks.distributed \
            else state["rng_global"]
        self.rng.set_state(state["rng_train"])
        self.data.load_state_dict(state["data"])
        self.fixed_z = state["fixed_z"].to(self.device)
        self.elapsed = float(state["elapsed"])
        if self.ema is not None:
            self.ema.load_state_dict(state["generator_ema"])
        self.precision.load_state_dict(state.get("precision", {}))

    def checkpoint(self) -> Path:
        """Write a checkpoint (rank 0; every rank takes part: buffers and random-number states are gathered)."""
        self.ranks.sync_buffers(self.generator, self.critic)
        state = self.state_dict()
        if not self.ranks.is_main:
            return self.run_dir / "checkpoints" / f"step_{self.step:07d}.safetensors"
        return save_checkpoint(self.run_dir / "checkpoints", self.step, state, keep=self.config.keep_checkpoints)

    def restore(self) -> Trainer:
        """Continue this run folder from its newest checkpoint (weights, optimizers, RNGs, data order, run id); the
        steps logged after that checkpoint are dropped, since they will be trained again."""
        recorded, run = read_run(self.run_dir)
        trained_on = torch.device(str(run.get("device") or "cpu")).type
        if self.device.type != trained_on:
            raise GanzooError(f"run {self.run_dir} was trained on {trained_on}; its random-number states are those "
                              f"of a {trained_on} device", hint=f"resume it on {trained_on} (--device {trained_on})")
        self.run_id = run.get("run_id") or self.run_id
        self.step, state = load_checkpoint(self.run_dir / "checkpoints")
        self.load_state_dict(state)
        self.records = read_metrics(self.run_dir / LOG_FILE, upto=self.step)
        if self.ranks.is_main:
            atomic_write_bytes(self.run_dir / LOG_FILE, "".join(json.dumps(r) + "\n" for r in self.records).encode())
        return self

    # --- the loop ---------------------------------------------------------------------------------------------

    def _critic_step(self) -> tuple[Tensor, ...]:
        cfg = self.config  # every rank draws the global batch and keeps its rows: one data order, disjoint shards
        real = self.ranks.local(self.data.batch(cfg.batch_size, self.rng))
        z = self.ranks.local(torch.randn(cfg.batch_size, cfg.latent_dim, generator=self.rng, device=self.device))
        with torch.no_grad():
            fake = self.run_generator(z)
        step = self.loss.critic_loss(self.train_critic, real, fake)
        self.opt_d.zero_grad(set_to_none=True)
        self.precision.backward(step.loss, self.opt_d, "critic")
        if cfg.log_layer_grads:  # overwritten by each critic step: the last one is logged
            self.layer_grads.update(gradient_norms(self.critic, "grad/critic/"))
        self.precision.step(self.opt_d, "critic")
        self.loss.after_critic_step(self.critic)
        nan = torch.full((), math.nan, device=self.device)
        return (step.loss.detach(), *(v if v is not None else nan
                                      for v in (step.w_estimate, step.penalty, step.grad_norm)))

    def _generator_step(self) -> Tensor:
        cfg = self.config
        # a fresh real batch only for a loss that asks for it: every other loss's data stream stays as it was
        real = (self.ranks.local(self.data.batch(cfg.batch_size, self.rng))
                if self.loss.needs_real_in_generator_step else None)
        z = self.ranks.local(torch.randn(cfg.batch_size, cfg.latent_dim, generator=self.rng, device=self.device))
        self.critic.requires_grad_(False)  # the generator step needs no critic parameter gradients
        scores: list[Tensor] = []  # log_layer_grads: the critic's outputs in the generator loss, seen by a hook
        hook = (self.critic.register_forward_hook(lambda _m, _i, out: scores.append(out.detach()))
                if cfg.log_layer_grads else None)
        try:
            fake = self.train_generator(z)
            loss = (self.loss.generator_loss(self.run_critic, fake) if real is None
                    else self.loss.generator_loss(self.run_critic, fake, real))
            self.opt_g.zero_grad(set_to_none=True)
            self.precision.backward(loss, self.opt_g, "generator")
            if cfg.log_layer_grads:
                norms = gradient_norms(self.generator, "grad/generator/")
                self.layer_grads.update(norms)
                self.layer_grads["grad_norm/generator"] = torch.stack(list(norms.values())).square().sum().sqrt()
                if scores:  # the first critic call scores the generator's batch
                    self.layer_grads["d_fake"] = torch.sigmoid(scores[0].float()).mean()
            self.precision.step(self.opt_g, "generator")
        finally:
            self.critic.requires_grad_(True)
            if hook is not None:
                hook.remove()
        return loss.detach()

    def train_step(self) -> Tensor:
        """One generator step with its critic steps; returns the logged values as one tensor (no host sync)."""
        with self.global_rng:
            critic = torch.stack([torch.stack(self._critic_step())
                                  for _ in range(self.config.critic_steps(self.step))]).mean(0)
            g_loss = self._generator_step()
        for scheduler in self.schedulers:
            scheduler.step()
        self.step += 1
        if self.ema is not None:
            self.ema.update(self.generator, self.step)
        # critic_loss, generator_loss, w_estimate, penalty, grad_norm
        return torch.stack([critic[0], g_loss, critic[1], critic[2], critic[3]])

    def run(self) -> RunResult:
        """Train to ``config.steps`` (from the current step), writing the run folder as it goes.

        A full disk or a failed allocation stops the run with a clear error; the last complete checkpoint stays
        readable (every file is written whole or not at all), so the run can be resumed once there is room.
        """
        try:
            return self._run()
        except GanzooError:
            raise
        except Exception as exc:
            if not (is_storage_failure(exc) or is_out_of_memory(exc)):
                raise
            resume = f"resume with `ganzoo train --resume {self.run_dir}`"
            kept = latest_checkpoint_step(self.run_dir / "checkpoints")
            then = (f"the last good checkpoint (step {kept}) is kept: {resume}" if kept is not None
                    else "no checkpoint was written yet")
            if is_out_of_memory(exc):
                raise memory_error(exc, f"training step {self.step + 1} (batch size {self.config.batch_size})",
                                   hint=f"lower --batch-size or the networks' width; {then}") from exc
            raise storage_error(exc, f"writing the run folder {self.run_dir}", hint=then) from exc

    def _run(self) -> RunResult:
        cfg = self.config
        main = self.ranks.is_main  # only rank 0 writes the run folder and prints
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._write_config()
            for note in cfg.notes:
                self.echo(f"note: {note}")
        self.generator.train()
        self.critic.train()
        pending: list[tuple[int, float, Tensor, dict[str, float]]] = []  # step, time, losses, evaluation
        interrupted = stopping = False
        bar = _progress_bar(cfg.steps, self.step, self.progress and main)
        start = time.perf_counter() - self.elapsed
        log_path = self.run_dir / LOG_FILE if main else os.devnull
        with _StopFlag() as stop, open(log_path, "a", encoding="utf-8") as log:
            try:
                if self.evaluator is not None and self.step == 0:  # the untrained baseline, as step 0
                    scores, seconds = self._timed_evaluation()
                    self._log_record({"step": 0, "time": 0.0, **scores}, log)
                    start += seconds  # evaluation time is not training time
                while self.step < cfg.steps:
                    values = self.train_step()
                    if self._fault is not None:
                        self._fault(self.step)
                    scores = self._take_layer_grads()
                    if self.evaluator is not None and self.step % cfg.eval_every == 0:
                        evaluation, seconds = self._timed_evaluation()
                        scores.update(evaluation)
                        start += seconds
                    self.elapsed = time.perf_counter() - start
                    pending.append((self.step, self.elapsed, values, scores))
                    boundary = self.step % cfg.sample_every == 0 or self.step % cfg.checkpoint_every == 0
                    # several ranks flush at the same steps (a collective); one alone also flushes when asked to stop
                    asked = stop.requested and not self.ranks.distributed
                    if len(pending) >= FLUSH_EVERY or boundary or self.step == cfg.steps or asked:
                        stopping = self._flush(pending, log, bar, stop.requested)
                        pending = []
                    if self.step % cfg.sample_every == 0 or self.step == cfg.steps:
                        self.save_samples()
                    if self.step % cfg.checkpoint_every == 0 and self.step < cfg.steps:
                        self.checkpoint()
                    if stopping:
                        interrupted = True
                        break
            finally:
                bar.close()
        return self._finish(interrupted)

    def _take_layer_grads(self) -> dict[str, float]:
        """This step's ``log_layer_grads`` values as floats (one host sync), or {} when the option is off."""
        if not self.layer_grads:
            return {}
        keys, values = list(self.layer_grads), torch.stack(list(self.layer_grads.values())).cpu().tolist()
        self.layer_grads = {}
        return dict(zip(keys, values, strict=True))

    def _timed_evaluation(self) -> tuple[dict[str, float], float]:
        """The evaluator's scores of the generator now, and the seconds they took."""
        assert self.evaluator is not None
        started = time.perf_counter()
        return self.evaluator(self.generator), time.perf_counter() - started

    def _log_record(self, record: dict[str, Any], log: Any) -> None:
        log.write(json.dumps(record) + "\n")
        log.flush()
        self.records.append(record)

    def _flush(self, pending: list[tuple[int, float, Tensor, dict[str, float]]], log: Any, bar: Any,
               stop: bool) -> bool:
        """Log the pending steps (their values averaged over the ranks); returns whether any rank asked to stop."""
        values, stop = self.ranks.mean_and_any(torch.stack([v for _, _, v, _ in pending]), stop)
        values = values.cpu().tolist()
        for (step, elapsed, _, scores), row in zip(pending, values, strict=False):
            record: dict[str, Any] = {"step": step, "time": round(elapsed, 4)}
            record.update({k: (None if math.isnan(v) else v) for k, v in zip(LOGGED, row, strict=False)})
            record.update(scores)
            log.write(json.dumps(record) + "\n")
            self.records.append(record)
        log.flush()
        last = self.records[-1]
        bar.update(last["step"] - bar.n)
        bar.set_postfix({k: f"{last[k]:.4g}" for k in ("critic_loss", "generator_loss", "w_estimate")
                         if last[k] is not None}, refresh=False)
        if not all(v is not None and math.isfinite(v) for v in (last["critic_loss"], last["generator_loss"])):
            self.checkpoint()
            raise GanzooError(f"training diverged at step {last['step']}: a loss is not finite ({last})",
                              hint="lower the learning rate (--lr) or check the data; the last checkpoint is kept")
        return stop

    def save_samples(self) -> Path | None:
        if not self.ranks.is_main:
            return None
        self.generator.eval()
        with torch.no_grad():
            fake = self.generator(self.fixed_z)
        self.generator.train()
        title = f"{self.config.arch} + {self.config.loss}, step {self.step}"
        path = self.run_dir / "samples" / f"step_{self.step:07d}.png"
        return save_samples(fake, self.real_for_plots, self.data.kind, path, title)

    def _write_config(self) -> None:
        cfg, ranks = self.config, self.ranks
        processes = {"world_size": ranks.world_size, "global_batch": cfg.batch_size,
                     "per_rank_batch": cfg.batch_size // ranks.world_size, "backend": ranks.backend,
                     "batchnorm": batchnorm_mode(self.generator, self.critic, cfg.sync_batchnorm, ranks.world_size)}
        write_run_config(self.run_dir, cfg, run_id=self.run_id, ganzoo_version=__version__,
                         torch_version=torch.__version__, device=str(self.device), data=self.data.describe(),
                         processes=processes)

    def _finish(self, interrupted: bool) -> RunResult:
        checkpoint = self.checkpoint()
        samples = self.save_samples()
        curves = save_curves(self.records, self.run_dir / "curves.png",
                             f"{self.config.arch} + {self.config.loss} on {self.config.dataset}") \
            if self.ranks.is_main else None
        return RunResult(self.run_dir, self.step, interrupted, self.records[-1] if self.records else {},
                         samples, curves, checkpoint, list(self.config.notes), rank=self.ranks.rank)


def gradient_norms(module: torch.nn.Module, prefix: str) -> dict[str, Tensor]:
    """``prefix + parameter name`` -> the L2 norm of that parameter's gradient (parameters with one)."""
    return {prefix + name: p.grad.detach().norm() for name, p in module.named_parameters() if p.grad is not None}


def finished_result(run_dir: str | Path) -> RunResult:
    """The :class:`RunResult` of a run that has nothing left to train, read from its folder."""
    run_dir = Path(run_dir)
    config, _ = read_run(run_dir)
    step = latest_checkpoint_step(run_dir / "checkpoints") or 0
    records = read_metrics(run_dir / LOG_FILE, upto=step)
    samples = sorted((run_dir / "samples").glob("step_*.png"))
    checkpoint = run_dir / "checkpoints" / f"step_{step:07d}.safetensors"
    return RunResult(run_dir, step, False, records[-1] if records else {}, samples[-1] if samples else None,
                     run_dir / "curves.png", checkpoint, list(config.notes))


class _GlobalRNG:
    """Torch's global RNG stream (CPU, and the device's if it is a GPU) as a state this trainer owns."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.index = device.index if device.index is not None else 0
        self.state = self._read()
        self._outside: Tensor | None = None

    def _read(self) -> Tensor:
        cpu = torch.get_rng_state()
        return torch.cat([cpu, torch.cuda.get_rng_state(self.index)]) if self.cuda else cpu

    def _write(self, state: Tensor) -> None:
        n = torch.get_rng_state().numel()
        torch.set_rng_state(state[:n])
        if self.cuda:
            torch.cuda.set_rng_state(state[n:], self.index)

    def seed(self, seed: int) -> None:
        """Start this stream afresh from ``seed`` (as ``torch.manual_seed`` would), leaving torch's own alone."""
        with self:
            torch.manual_seed(seed)

    def __enter__(self) -> None:
        self._outside = self._read()
        self._write(self.state)

    def __exit__(self, *exc: object) -> None:
        self.state = self._read()
        self._write(self._outside)  # type: ignore[arg-type]


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", disable=not enabled, dynamic_ncols=True,
                desc="training")


