"""Data-parallel training over the processes torchrun starts: the process group, this process's rank in it, its
share of every global batch, the DDP-wrapped networks, and what the ranks must agree on (logged values, a stop
request, batch-norm buffers and random-number states at checkpoint time).

ganzoo launches and coordinates no process itself: torchrun (``torch.distributed.run``; ``ganzoo train --nproc N``
calls it) starts one process per rank with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set, restarts
them when one dies (``--max-restarts``), and torch.distributed does every collective. A process torchrun did not
start is a world of one (:class:`Ranks` with its defaults), and nothing here changes what it does.

Batch semantics (docs/distributed.md): ``batch_size`` is the GLOBAL batch (the paper's m); each of the W ranks
trains on ``batch_size / W`` rows of it. Every rank draws the same global batch of real data and noise from the
trainer's generator (seeded alike on every rank) and keeps its own rows (:meth:`Ranks.local`), so the ranks see
disjoint shards of every epoch, the data order is one state for all ranks, and W ranks train on exactly the samples
one process with the global batch would. DDP averages the gradients: since every loss is a mean over its batch, the
average of W per-rank means over equal shards is the global-batch mean.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from inspect import signature
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ganzoo.errors import ConfigError, GanzooError

#: What torchrun's elastic agent sets in every worker it starts (torch.distributed.elastic).
RESTART_COUNT, MAX_RESTARTS = "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS"
#: Seeds of the ranks' own random streams (the losses' draws, e.g. the penalty's eps) are ``seed + rank * STRIDE``:
#: distinct from every seed a single run can have (seeds are below 2**32).
STREAM_STRIDE = 2**32
TIMEOUT = timedelta(minutes=30)
#: torch's switch that gives every restart of a group its own store (see :func:`launch`).
UNSHARED_STORE = "TORCH_DISABLE_SHARE_RDZV_TCP_STORE"


def launched_by_torchrun(environ: Any = None) -> bool:
    """True in a process that torchrun (or any launcher setting RANK and WORLD_SIZE) started."""
    environ = os.environ if environ is None else environ
    return "RANK" in environ and "WORLD_SIZE" in environ


def restart_count(environ: Any = None) -> int:
    """How often torchrun's elastic agent has restarted this group after a failure (0: the first start)."""
    environ = os.environ if environ is None else environ
    return int(environ.get(RESTART_COUNT, 0) or 0)


def may_restart(environ: Any = None) -> bool:
    """True when torchrun was given ``--max-restarts`` > 0: a failure reruns the same command."""
    environ = os.environ if environ is None else environ
    return int(environ.get(MAX_RESTARTS, 0) or 0) > 0


@dataclass
class Ranks:
    """This process's place among the processes training one run (rank 0 of 1 when torchrun did not start it)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    #: True when :func:`start` created the process group (and :meth:`close` should destroy it).
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the only one that logs, draws sample grids, writes checkpoints and registers the model."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size} ({self.backend})" if self.distributed else "one process"

    # --- batches and networks --------------------------------------------------------------------------------

    def local(self, batch: Tensor) -> Tensor:
        """This rank's rows of a global batch: rank r of W keeps rows [r B/W, (r + 1) B/W) (the config checks that
        W divides the global batch)."""
        if not self.distributed:
            return batch
        size = batch.shape[0] // self.world_size
        return batch.narrow(0, self.rank * size, size)

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` as DDP trains it (gradients averaged over the ranks in its backward), or itself alone.

        Buffers are not broadcast at every forward (batch norm is per rank unless synchronised); they are made
        consistent at checkpoint time (:meth:`sync_buffers`). DDP copies rank 0's parameters to every rank here.
        """
        if not self.distributed or not any(p.requires_grad for p in module.parameters()):
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index if device.index is not None else self.local_rank] if device.type == "cuda" else None
        # torch >= 2.14 names it forward_sync_buffers (buffers still copied from rank 0 at init, as we want)
        new = "forward_sync_buffers" in signature(DistributedDataParallel).parameters
        no_sync = {"forward_sync_buffers": False} if new else {"broadcast_buffers": False}
        return DistributedDataParallel(module, device_ids=ids, **no_sync)

    def stream_seed(self, seed: int) -> int:
        """The seed of this rank's own stream of the losses' random draws (rank 0: the run's seed stream)."""
        return seed + self.rank * STREAM_STRIDE

    # --- agreement -------------------------------------------------------------------------------------------

    def mean_and_any(self, values: Tensor, flag: bool) -> tuple[Tensor, bool]:
        """(the mean of ``values`` over the ranks, whether any rank raised ``flag``) in ONE collective."""
        if not self.distributed:
            return values, flag
        packed = torch.cat([values.flatten().float(), torch.tensor([float(flag)], device=values.device)])
        dist.all_reduce(packed)
        return (packed[:-1] / self.world_size).view_as(values).to(values.dtype), bool(packed[-1].item() > 0)

    @torch.no_grad()
    def sync_buffers(self, *modules: nn.Module) -> None:
        """Make every rank's buffers equal: floating ones (batch-norm running statistics) averaged over the ranks,
        the others (batch counts, equal anyway) rank 0's. Training uses batch statistics, so this changes what a
        checkpoint and the samples see, never the training trajectory."""
        if not self.distributed:
            return
        for module in modules:
            for buffer in module.buffers():
                if buffer.is_floating_point():
                    dist.all_reduce(buffer)
                    buffer.div_(self.world_size)
                else:
                    dist.broadcast(buffer, 0)

    def gather_states(self, state: Tensor) -> Tensor:
        """Every rank's ``state`` (a random-number state), stacked in rank order [W, n], on every rank."""
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, state.cpu())
        return torch.stack(gathered)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (e.g. the run folder rank 0 chose)."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, 0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def start(device: str = "auto") -> tuple[Ranks, str]:
    """This process's :class:`Ranks` and the device it trains on, joining torchrun's process group if torchrun
    started it (NCCL on CUDA, each rank on GPU LOCAL_RANK; gloo on CPU). ``device`` is the run's request."""
    if not launched_by_torchrun():
        return Ranks(), device
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    kind = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                        ("cpu" if device == "auto" else device)).type
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but no CUDA GPU is available", hint="use --device cpu")
        if local >= torch.cuda.device_count():
            raise GanzooError(f"rank {rank} has LOCAL_RANK {local} but this machine has "
                              f"{torch.cuda.device_count()} GPU(s)",
                              hint="start at most one process per GPU (--nproc-per-node)")
        torch.cuda.set_device(local)
        device, backend = f"cuda:{local}", "nccl"
    elif kind == "cpu":
        device, backend = "cpu", "gloo"
    else:
        raise ConfigError(f"data-parallel training runs on cuda (NCCL) or cpu (gloo), not {kind}",
                          hint="pass --device cuda or --device cpu")
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend, timeout=TIMEOUT)
    return Ranks(rank, world, local, dist.get_backend(), owns), device


def check_sync_batchnorm(sync: bool, device: str, ranks: Ranks) -> None:
    """SyncBatchNorm computes its statistics over every rank's batch; torch runs it on GPUs only."""
    if sync and ranks.distributed and torch.device(device).type != "cuda":
        raise ConfigError("--sync-batchnorm needs CUDA: torch's SyncBatchNorm runs on GPUs only",
                          hint="leave it out on CPU (batch norm then uses each rank's own batch statistics)")


def batchnorm_mode(generator: nn.Module, critic: nn.Module, sync: bool, world_size: int) -> str:
    """How batch norm sees the batch in this run, for config.json and the model card."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for net in (generator, critic) for m in net.modules()):
        return "none"
    if world_size == 1:
        return "whole batch"
    return "synchronised over ranks (SyncBatchNorm)" if sync else "per rank (each rank's own batch statistics)"


def check_launch(*, nproc: int, nnodes: int = 1, rdzv_endpoint: str | None = None, max_restarts: int = 0) -> None:
    """What :func:`launch` refuses, before any process starts."""
    for name, value, least in (("--nproc", nproc, 1), ("--nnodes", nnodes, 1), ("--max-restarts", max_restarts, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}")
    if launched_by_torchrun():
        raise ConfigError("this process was already started by torchrun; --nproc would start processes inside it",
                          hint="leave out --nproc (torchrun's --nproc-per-node says how many) or run ganzoo directly")
    if nnodes > 1 and not rdzv_endpoint:
        raise ConfigError(f"--nnodes {nnodes} needs the address every machine meets at",
                          hint="pass --rdzv-endpoint HOST:PORT (the same on every machine, e.g. the first one's)")


def launch(worker_args: Sequence[str], *, nproc: int, nnodes: int = 1, node_rank: int | None = None,
           rdzv_endpoint: str | None = None, max_restarts: int = 0) -> None:
    """``python -m ganzoo WORKER_ARGS`` in ``nproc`` processes on this machine, through torch.distributed.run: what
    ``torchrun --nproc-per-node N [--nnodes M --rdzv-backend c10d --rdzv-endpoint HOST:PORT] --max-restarts K
    -m ganzoo ...`` does (one machine alone: ``--standalone``). Returns when every process has finished."""
    check_launch(nproc=nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, max_restarts=max_restarts)
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = ["--nproc-per-node", str(nproc), "--max-restarts", str(max_restarts)]
    if nnodes == 1 and not rdzv_endpoint:
        args.append("--standalone")
    else:
        args += ["--nnodes", str(nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", str(rdzv_endpoint)]
        if node_rank is not None:
            args += ["--node-rank", str(node_rank)]
    # A restarted group must not share the rendezvous store of the failed one: with it shared (torch's default since
    # 2.5) the new group's gloo / NCCL set-up reads the dead group's addresses and fails (pytorch issue #135712)
    os.environ.setdefault(UNSHARED_STORE, "1")
    try:
        run(get_args_parser().parse_args([*args, "--module", "ganzoo", *worker_args]))
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        raise GanzooError(f"the data-parallel run failed: rank {rank} exited with status {failure.exitcode}"
                          + (f" (after {max_restarts} restart(s))" if max_restarts else ""),
                          hint="its message is above; a run with a checkpoint continues with "
                               f"`ganzoo train --nproc {nproc} --resume RUN_DIR`") from exc


#: Tests only: ``RANK:STEP:MARKER`` makes that rank exit abruptly after that generator step, once (see below).
FAULT_ENV = "GANZOO_FAULT_EXIT"


def fault_injection(rank: int, environ: Any = None) -> Callable[[int], None] | None:
    """What the restart test kills a rank with: with ``GANZOO_FAULT_EXIT=RANK:STEP:MARKER``, rank RANK exits with
    status 1 and no clean-up (as a crash does) after generator step STEP, unless the file MARKER exists; it creates
    MARKER first, so the group torchrun restarts runs through. None (nothing to do) without the variable."""
    spec = (os.environ if environ is None else environ).get(FAULT_ENV)
    if not spec:
        return None
    who, at, marker = spec.split(":", 2)
    if int(who) != rank:
        return None

    def maybe_exit(step: int) -> None:
        if step == int(at) and not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)

    return maybe_exit
