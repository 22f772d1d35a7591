"""Training speed: ganzoo's Trainer against a plain PyTorch reference loop, same everything else.

For each case (architecture + loss) the script trains with the same config, data set (Fashion-MNIST train,
28x28), batch size (64), device, torch thread count, generator/critic modules and optimizers:

- ``ganzoo``: ``Trainer(config, registry, run_dir).train_step()``, the method ``Trainer.run()`` calls once per
  generator step (data held as one uint8 tensor on the device, critic frozen during the generator step). What
  ``run()`` adds around it (sample grids and checkpoints every K steps) is file output a user's loop would
  also pay for, and is left out of both loops; its per-10-steps log flush (one host sync) is in both.
- ``reference``: Algorithm 1 of the WGAN / WGAN-GP papers (or the GAN paper's k = 1 loop) written directly, the
  way a user writes it: ``torchvision.datasets.FashionMNIST`` + ``Compose([ToTensor(), Normalize((0.5,),
  (0.5,))])`` + ``DataLoader(batch_size=64, shuffle=True, drop_last=True, num_workers=N)``, iterated and
  re-created at each epoch end, measured once per N in ``--workers`` (default 0 and 2); the loss written inline;
  the critic is not frozen during the generator step.
  The generator and critic come from the same ganzoo architecture plugin with the same options (including the
  batch-norm -> layer-norm switch ganzoo makes for wgan-gp), seeded identically, so the networks are the same.

Each loop runs in its own subprocess (``--serve``), one per loop and case, so peak memory is per loop. The
processes are set up one after the other, then take turns: in each of ``--repeats`` rounds every loop runs one
block of ``--steps`` generator steps while the others wait idle (blocked reading their stdin), and who goes first
rotates from round to round. The machine is shared: absolute speeds drift with other people's work, but two
blocks run seconds apart see about the same load, so their ratio drifts much less.

How to read the output (one row per case and reference ``num_workers``):

- ``ganzoo it/s`` / ``ref it/s``: median over the rounds of generator steps per second, wall clock (one
  generator step = its ``n_critic`` critic steps + one generator update), after ``--warmup`` untimed steps.
- ``ratio``: median over the rounds of (ganzoo it/s / reference it/s) of the SAME round, with the smallest and
  largest round in brackets. > 1 means ganzoo is faster. Only ratios are comparable between runs or machines.
- ``CPU ms/step``, ``CPU ratio``: CPU time (user + system) per generator step of the measuring process and its
  children (the DataLoader workers), median over rounds, and the median of (reference / ganzoo) per round. Other
  people's processes barely change CPU time, so it is the steadier figure on a busy machine; wall time is what
  a user waits for (DataLoader workers can overlap with training when a core is idle).
- ``setup s``: seconds from "imports done" to "ready to train" (data read + networks + optimizers), not timed in
  the steps/s. The reference's one-time gunzip of the IDX files (what torchvision's download does once) is not
  included; it is printed once as ``prepared reference data``. DataLoader workers start on the first batch,
  i.e. in the warm-up, not in ``setup s``.
- ``peak RSS MiB``: ``getrusage(RUSAGE_SELF).ru_maxrss`` of the measuring process after all its blocks. Both
  import the same modules (torch, torchvision, ganzoo and its plugins) before setup; ``(imports)`` is the peak
  RSS right after those imports, so peak minus ``(imports)`` is what the training itself added. ``ref workers
  PSS`` (only with ``--workers`` > 0) is the DataLoader worker processes' summed proportional set size after the
  last block (forked workers share most pages with the parent; PSS counts shared pages once overall).
  On CUDA ``cuda MiB`` is ``torch.cuda.max_memory_allocated``.
- ``check:`` lines (stderr; skip with ``--no-check``): before timing, the reference's inline losses are shown to
  give the same values and critic gradients as ganzoo's loss plugins on the same networks and batches, so both
  loops train the same thing.

Usage::

    python benchmarks/bench_training.py                      # default cases, CPU/GPU auto, Markdown table
    python benchmarks/bench_training.py --repeats 9 --json   # more rounds, machine-readable
    python benchmarks/bench_training.py --cases dcgan:wgan --steps 10 --workers 0
    python benchmarks/bench_training.py --one reference mlp wgan --steps 50 --profile   # one block, profiled
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CASES = ("dcgan:wgan-gp", "dcgan:non-saturating", "mlp:wgan")
IMPLS = ("ganzoo", "reference")
#: num_workers of the reference DataLoader: 0 is DataLoader's default; 2 is what PyTorch's DCGAN tutorial uses.
#: Which is faster depends on the machine's idle cores (on a shared 2-core machine, either can win).
DEFAULT_WORKERS = (0, 2)
DATASET = "fashion-mnist"
SHAPE = (1, 28, 28)
BATCH = 64
SEED = 0
#: Where the Debian package ``dataset-fashion-mnist`` puts the four original IDX .gz files.
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
#: Timed generator steps per block when --steps is not given: about 3-4 s per block of the slower loop on one
#: idle core of the 2-core development machine, so the default run (3 cases x 3 loops x 9 rounds, plus ~10 s of
#: imports, setup and warm-up per process) takes about 6-7 minutes when the machine is otherwise idle. Short
#: blocks and many rounds: the load other people put on a shared machine changes within seconds.
CPU_STEPS = {"dcgan:wgan-gp": 2, "dcgan:non-saturating": 10, "dcgan:minimax": 10, "dcgan:wgan": 8,
             "dcgan:wgan-lp": 2, "mlp:wgan": 8, "mlp:wgan-gp": 5, "mlp:non-saturating": 30,
             "mlp:minimax": 30, "mlp:wgan-lp": 5}
GPU_STEPS = 50
#: The configs' step count: only sets when a run would write samples and checkpoints (never, here) and the lr
#: schedule (constant for every loss benchmarked), so any large number does.
CONFIG_STEPS = 100_000
FLUSH_EVERY = 10  # both loops bring their losses to the host every 10 steps, as ganzoo's run() does

#: The papers' hyperparameters the reference loop hard-codes (docs/science.md); the child checks ganzoo's config
#: resolves to the same values, so a changed ganzoo default cannot silently make the comparison unfair.
PAPER: dict[str, dict[str, Any]] = {
    "wgan": {"optimizer": "rmsprop", "lr": 5e-5, "betas": None, "n_critic": 5, "clip": 0.01},
    "wgan-gp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "n_critic": 5, "lambda": 10.0},
    "wgan-lp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "n_critic": 5, "lambda": 10.0},
    "non-saturating": {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "n_critic": 1},
    "minimax": {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "n_critic": 1},
}


# --- small helpers --------------------------------------------------------------------------------------------


def auto_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_threads() -> int:
    """One intra-op thread: on a shared 2-core machine two OpenMP threads contend with other work (a 512x512
    matmul measured up to 9x slower with 2 threads than with 1 under load), and one core stays free for a
    DataLoader worker of the reference loop."""
    return 1


def parse_case(text: str) -> tuple[str, str]:
    arch, sep, loss = text.partition(":")
    if not sep or not arch or not loss:
        raise argparse.ArgumentTypeError(f"a case is ARCH:LOSS, e.g. dcgan:wgan-gp, got {text!r}")
    if loss not in PAPER:
        raise argparse.ArgumentTypeError(f"the reference loop knows losses {', '.join(PAPER)}, got {loss!r}")
    return arch, loss


def steps_for(case: str, device: str, steps: int | None) -> int:
    if steps is not None:
        return steps
    if device.startswith("cuda"):
        return GPU_STEPS
    return CPU_STEPS.get(case, 20)


def peak_rss_mib(who: int) -> float:
    """Peak resident set size in MiB (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(who).ru_maxrss
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def live_children() -> Iterator[tuple[Path, list[str]]]:
    """(``/proc/PID``, fields of its ``stat`` after the command name) of this process's live children (Linux;
    nothing elsewhere). ``fields[1]`` is the parent pid, ``fields[11]`` / ``fields[12]`` user / system ticks."""
    proc, me = Path("/proc"), os.getpid()
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:
                yield entry, fields
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue


def children_pss_mib() -> float | None:
    """Summed proportional set size (shared pages split between sharers) of this process's live children, in
    MiB: what DataLoader workers add. Linux only (None elsewhere).

    ``RUSAGE_CHILDREN`` cannot be used: ``import torch`` already runs a short-lived child of ~430 MiB RSS.
    """
    if not Path("/proc/self/smaps_rollup").exists():
        return None
    total = 0.0
    for entry, _ in live_children():
        try:
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


def prepare_reference_root(root: Path, source: Path = SYSTEM_FASHION_MNIST) -> float:
    """Make ``root/FashionMNIST/raw/`` hold the four uncompressed IDX files; returns the seconds it took.

    torchvision 0.29's ``FashionMNIST(download=False)`` only looks for the UNcompressed files in
    ``root/FashionMNIST/raw/`` (``_check_exists``, no checksum); ``download=True`` would gunzip the .gz files only
    if their MD5 matched torchvision's list, and the Debian package's re-compressed .gz files do not, so it would
    try the network. This gunzip is what torchvision's download does once for a user.
    """
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for name in IDX_NAMES:
        target = raw / name
        if target.is_file():
            continue
        gz = source / f"{name}.gz"
        if not gz.is_file():
            raise SystemExit(f"{gz} is missing: apt-get install dataset-fashion-mnist (or pass --fashion DIR)")
        with gzip.open(gz, "rb") as src, open(f"{target}.part", "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(f"{target}.part", target)
    return time.perf_counter() - start


# --- what both loops share: the config and the networks -------------------------------------------------------


def resolved_config(arch: str, loss: str, device: str) -> tuple[Any, Any, Any]:
    """(config, registry, loss plugin object) exactly as ganzoo's trainer completes them.

    ``build_components`` calls ``enforce_critic_requirements`` (batch norm -> layer norm in the critic for
    gradient-penalty losses); the reference calls the same function so its networks get the identical options.
    """
    from ganzoo.api import make_config
    from ganzoo.plugin.loading import get_registry
    from ganzoo.train.build import enforce_critic_requirements

    registry = get_registry()
    config = make_config(arch, loss, DATASET, registry=registry, steps=CONFIG_STEPS, batch_size=BATCH,
                         device=device, seed=SEED)
    loss_obj = registry.loss(config.loss).factory(**config.loss_options)
    enforce_critic_requirements(config, registry, loss_obj)
    return config, registry, loss_obj


def build_networks(config: Any, registry: Any, device: Any) -> tuple[Any, Any]:
    """The generator and critic from the architecture plugin, seeded as ganzoo's ``build_components`` seeds them."""
    import torch

    torch.manual_seed(config.seed)
    generator, critic = registry.arch(config.arch).factory(SHAPE, config.latent_dim, **config.arch_options)
    return generator.to(device), critic.to(device)


def check_paper_settings(config: Any, loss: str) -> None:
    """The reference hard-codes the paper's settings; ganzoo's config must resolve to the same ones."""
    paper = PAPER[loss]
    got = {"optimizer": config.optimizer, "lr": config.lr, "n_critic": config.n_critic,
           "betas": None if config.betas is None else tuple(float(b) for b in config.betas)}
    got.update({k: v for k, v in config.loss_options.items() if k in paper})
    wanted = {k: paper[k] for k in got if k in paper}
    if got != wanted:
        raise SystemExit(f"ganzoo's config for {loss} is {got}, the reference loop uses {wanted}: not comparable")


# --- the reference loop: Algorithm 1 written the way a user writes it -------------------------------------------


def reference_critic_loss(loss: str, critic: Any, real: Any, fake: Any) -> Any:
    """The critic / discriminator objective of ``loss``, written inline (fake is already detached)."""
    import torch
    import torch.nn.functional as F

    if loss in ("wgan", "wgan-gp", "wgan-lp"):
        loss_d = critic(fake).mean() - critic(real).mean()
        if loss != "wgan":
            # gradient penalty: one eps per sample, x^ between real and fake, per-sample gradient norm
            eps = torch.rand(real.size(0), *([1] * (real.dim() - 1)), device=real.device)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)[0]
            gap = grad.flatten(1).norm(2, dim=1) - 1
            if loss == "wgan-lp":
                gap = F.relu(gap)
            loss_d = loss_d + PAPER[loss]["lambda"] * gap.pow(2).mean()
        return loss_d
    ones = torch.ones(real.size(0), device=real.device)
    zeros = torch.zeros(real.size(0), device=real.device)
    return (F.binary_cross_entropy_with_logits(critic(real), ones)
            + F.binary_cross_entropy_with_logits(critic(fake), zeros))


def reference_generator_loss(loss: str, critic: Any, fake: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if loss in ("wgan", "wgan-gp", "wgan-lp"):
        return -critic(fake).mean()
    scores = critic(fake)
    if loss == "minimax":  # E log(1 - D(G(z))) = -BCE(D(G(z)), 0)
        return -F.binary_cross_entropy_with_logits(scores, torch.zeros_like(scores))
    return F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))  # -E log D(G(z))


@dataclass
class Loop:
    """A ready-to-train loop: ``step()`` runs one generator step and returns its losses (a tensor, no host sync)."""

    step: Callable[[], Any]
    setup_s: float


def make_reference(arch: str, loss: str, device_name: str, data_root: Path, workers: int) -> Loop:
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    start = time.perf_counter()
    device = torch.device(device_name)
    config, registry, _ = resolved_config(arch, loss, device_name)
    check_paper_settings(config, loss)
    generator, critic = build_networks(config, registry, device)
    hp = PAPER[loss]
    if hp["optimizer"] == "rmsprop":
        opt_g = torch.optim.RMSprop(generator.parameters(), lr=hp["lr"])
        opt_d = torch.optim.RMSprop(critic.parameters(), lr=hp["lr"])
    else:
        opt_g = torch.optim.Adam(generator.parameters(), lr=hp["lr"], betas=hp["betas"])
        opt_d = torch.optim.Adam(critic.parameters(), lr=hp["lr"], betas=hp["betas"])
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = datasets.FashionMNIST(str(data_root), train=True, download=False, transform=transform)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, drop_last=True, num_workers=workers,
                        pin_memory=device.type == "cuda")
    setup_s = time.perf_counter() - start

    def real_batches() -> Iterator[Any]:
        while True:  # each pass over the loader is an epoch: a new iterator, a new shuffle
            for images, _ in loader:
                yield images.to(device, non_blocking=True)

    data = real_batches()
    n_critic, latent_dim, clip = hp["n_critic"], config.latent_dim, hp.get("clip")

    def step() -> Any:
        for _ in range(n_critic):
            real = next(data)
            z = torch.randn(BATCH, latent_dim, device=device)
            with torch.no_grad():
                fake = generator(z)
            loss_d = reference_critic_loss(loss, critic, real, fake)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if clip is not None:
                for p in critic.parameters():
                    p.data.clamp_(-clip, clip)
        z = torch.randn(BATCH, latent_dim, device=device)
        loss_g = reference_generator_loss(loss, critic, generator(z))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return torch.stack([loss_d.detach(), loss_g.detach()])

    return Loop(step, setup_s)


def make_ganzoo(arch: str, loss: str, device_name: str, run_dir: Path) -> Loop:
    from ganzoo.api import make_config
    from ganzoo.plugin.loading import get_registry
    from ganzoo.train.trainer import Trainer

    start = time.perf_counter()
    registry = get_registry()
    config = make_config(arch, loss, DATASET, registry=registry, steps=CONFIG_STEPS, batch_size=BATCH,
                         device=device_name, seed=SEED)
    check_paper_settings(config, loss)
    trainer = Trainer(config, registry, run_dir, progress=False)
    trainer.generator.train()
    trainer.critic.train()
    return Loop(trainer.train_step, time.perf_counter() - start)


# --- one measuring process ------------------------------------------------------------------------------------


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's children: reaped ones (``RUSAGE_CHILDREN``) plus live ones
    (``/proc``, Linux only), so DataLoader workers count whether or not they have exited yet."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    live = sum(int(fields[11]) + int(fields[12]) for _, fields in live_children()) / tick
    return usage.ru_utime + usage.ru_stime + live


class Measurement:
    """One loop (ganzoo or the reference) set up once in this process, then timed in blocks of steps.

    The process imports the same modules whichever loop it runs (torch, torchvision, ganzoo and its plugins)
    before the setup clock starts, so setup time and the memory baseline do not depend on the loop.
    """

    def __init__(self, impl: str, arch: str, loss: str, args: argparse.Namespace) -> None:
        import torch

        torch.set_num_threads(args.threads)
        import torch.utils.data  # noqa: F401
        import torchvision.datasets  # noqa: F401

        import ganzoo.api  # noqa: F401
        import ganzoo.train.trainer  # noqa: F401
        from ganzoo.plugin.loading import get_registry

        get_registry()
        self.torch = torch
        self.impl = impl
        self.workers = args.workers[0] if impl == "reference" else None
        self.baseline_rss = peak_rss_mib(resource.RUSAGE_SELF)
        self.device = args.device or auto_device()
        self.cuda = self.device.startswith("cuda")
        self._tmp = tempfile.TemporaryDirectory(prefix="ganzoo-bench-")
        tmp = Path(self._tmp.name)
        if impl == "ganzoo":
            self.loop = make_ganzoo(arch, loss, self.device, tmp / "run")
        else:
            root = Path(args.data_root) if args.data_root else tmp / "data"
            if not args.data_root:
                prepare_reference_root(root, Path(args.fashion))
            self.loop = make_reference(arch, loss, self.device, root, self.workers or 0)
        for _ in range(args.warmup):  # DataLoader workers start here, on the first batch
            self.loop.step().cpu()
        self.sync()

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def ready(self) -> dict[str, Any]:
        return {"impl": self.impl, "workers": self.workers, "device": self.device,
                "threads": self.torch.get_num_threads(), "setup_s": self.loop.setup_s,
                "baseline_rss_mib": self.baseline_rss}

    def block(self, steps: int, profile: bool = False) -> dict[str, Any]:
        """Time ``steps`` generator steps: wall seconds, and CPU seconds of this process and its children."""
        profiler = None
        if profile:
            profiler = self.torch.profiler.profile(activities=[self.torch.profiler.ProfilerActivity.CPU])
            profiler.__enter__()
        children_start = children_cpu_s()
        usage_start = resource.getrusage(resource.RUSAGE_SELF)
        cpu_start, start = time.process_time(), time.perf_counter()
        pending = []
        for i in range(steps):
            pending.append(self.loop.step())
            if (i + 1) % FLUSH_EVERY == 0 or i + 1 == steps:
                self.torch.stack(pending).cpu()  # what logging costs: one host sync per FLUSH_EVERY steps
                pending = []
        self.sync()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start + children_cpu_s() - children_start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        if profiler is not None:
            profiler.__exit__(None, None, None)
            print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=25), file=sys.stderr)
        return {"steps": steps, "time_s": elapsed, "cpu_s": cpu, "steps_per_s": steps / elapsed,
                "system_s": usage.ru_stime - usage_start.ru_stime,  # of this process only: page faults etc.
                "minor_faults": usage.ru_minflt - usage_start.ru_minflt}

    def finish(self) -> dict[str, Any]:
        """Peak memory after all blocks (the DataLoader workers are still alive here)."""
        workers_pss = children_pss_mib() if self.workers else None
        result = {"peak_rss_mib": peak_rss_mib(resource.RUSAGE_SELF), "workers_pss_mib": workers_pss,
                  "cuda_peak_mib": self.torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None}
        self._tmp.cleanup()
        return result


def serve(impl: str, arch: str, loss: str, args: argparse.Namespace) -> None:
    """Measuring process: set up, print a JSON line, then answer ``run N`` with one timed block per line
    (blocked on stdin, i.e. idle, in between) until ``stop``, which prints the peak memory."""
    measurement = Measurement(impl, arch, loss, args)
    print(json.dumps(measurement.ready()), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[:1] == ["run"] and len(command) == 2:
            print(json.dumps(measurement.block(int(command[1]))), flush=True)
        elif command == ["stop"]:
            break
    print(json.dumps(measurement.finish()), flush=True)


def measure_one(impl: str, arch: str, loss: str, args: argparse.Namespace) -> dict[str, Any]:
    """Set up, time one block of steps, report: a single measurement in this process (e.g. with --profile)."""
    measurement = Measurement(impl, arch, loss, args)
    steps = steps_for(f"{arch}:{loss}", measurement.device, args.steps)
    return {"arch": arch, "loss": loss, **measurement.ready(), **measurement.block(steps, args.profile),
            **measurement.finish()}


# --- the loss check -------------------------------------------------------------------------------------------


def check_losses(cases: Sequence[tuple[str, str]], device_name: str) -> list[str]:
    """Reference losses == ganzoo's loss plugins (values and critic gradients) on identical networks and batches."""
    import torch

    device = torch.device(device_name)
    lines = []
    for arch, loss in cases:
        config, registry, loss_obj = resolved_config(arch, loss, device_name)
        generator, critic = build_networks(config, registry, device)
        gen = torch.Generator().manual_seed(1)
        real = (torch.rand((16, *SHAPE), generator=gen) * 2 - 1).to(device)
        with torch.no_grad():
            fake = generator(torch.randn(16, config.latent_dim, generator=gen).to(device))
        results = []
        for impl in IMPLS:
            critic.zero_grad(set_to_none=True)
            torch.manual_seed(7)  # the same eps for the gradient penalty
            if impl == "ganzoo":
                value = loss_obj.critic_loss(critic, real, fake).loss
            else:
                value = reference_critic_loss(loss, critic, real, fake)
            value.backward()
            grads = torch.cat([p.grad.flatten() for p in critic.parameters()])
            g_value = (loss_obj.generator_loss(critic, fake) if impl == "ganzoo"
                       else reference_generator_loss(loss, critic, fake))
            results.append((value.detach(), grads, g_value.detach()))
        (v1, g1, gl1), (v2, g2, gl2) = results
        ok = (torch.allclose(v1, v2, rtol=1e-4, atol=1e-6) and torch.allclose(g1, g2, rtol=1e-3, atol=1e-6)
              and torch.allclose(gl1, gl2, rtol=1e-4, atol=1e-6))
        if not ok:
            raise SystemExit(f"{arch}+{loss}: the reference loss differs from ganzoo's (critic {v1.item()} vs "
                             f"{v2.item()}, generator {gl1.item()} vs {gl2.item()}, max grad diff "
                             f"{(g1 - g2).abs().max().item():.3g})")
        lines.append(f"{arch}+{loss}: critic loss {v1.item():.6g} == {v2.item():.6g}, generator loss "
                     f"{gl1.item():.6g} == {gl2.item():.6g}, critic grads max diff {(g1 - g2).abs().max().item():.2g}"
                     f"; critic options {config.arch_options}")
    return lines


# --- the driver -----------------------------------------------------------------------------------------------


def variants(workers: Sequence[int]) -> list[tuple[str, int | None]]:
    """What is measured per case and round: ganzoo, then the reference once per DataLoader worker count."""
    return [("ganzoo", None)] + [("reference", w) for w in workers]


def label(impl: str, workers: int | None) -> str:
    return impl if workers is None else f"{impl} (num_workers={workers})"


class Child:
    """A measuring subprocess (``--serve``): one JSON line per request on its stdout, its stderr in a file."""

    def __init__(self, impl: str, workers: int | None, arch: str, loss: str, args: argparse.Namespace,
                 device: str, data_root: Path, log_dir: Path) -> None:
        self.name = f"{label(impl, workers)} {arch}+{loss}"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", impl, arch, loss, "--device", device,
               "--threads", str(args.threads), "--workers", str(workers or 0), "--warmup", str(args.warmup),
               "--data-root", str(data_root), "--fashion", args.fashion]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        self.stderr_path = log_dir / f"{impl}-{workers}-{arch}-{loss}.log"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True, env=env)

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self._stderr.close()
            raise SystemExit(f"measurement {self.name} failed:\n{self.stderr_path.read_text()[-4000:]}")
        return json.loads(line)

    def send(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def stop(self) -> dict[str, Any]:
        result = self.send("stop")
        self.proc.wait()
        self._stderr.close()
        return result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def measure_case(arch: str, loss: str, args: argparse.Namespace, device: str, data_root: Path,
                 log_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All variants of one case: (per-process records, per-block records).

    The processes are set up one after the other (so setups do not overlap), then take turns: in each round every
    variant runs one block while the others wait idle on stdin; who goes first rotates from round to round.
    """
    steps = steps_for(f"{arch}:{loss}", device, args.steps)
    measured = variants(args.workers)
    children: list[tuple[str, int | None, Child]] = []
    processes: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    try:
        for impl, workers in measured:
            child = Child(impl, workers, arch, loss, args, device, data_root, log_dir)
            children.append((impl, workers, child))
            processes.append({"arch": arch, "loss": loss, **child.read()})
        for round_ in range(args.repeats):
            shift = round_ % len(children)  # rotate who goes first, so no loop always runs after another
            for impl, workers, child in children[shift:] + children[:shift]:
                block = child.send(f"run {steps}")
                blocks.append({"arch": arch, "loss": loss, "impl": impl, "workers": workers, "round": round_,
                               **block})
                print(f"round {round_ + 1}/{args.repeats} {arch}+{loss} {label(impl, workers)}: "
                      f"{block['steps_per_s']:.3g} it/s, {1000 * block['cpu_s'] / steps:.0f} CPU ms/step",
                      file=sys.stderr)
        for process, (_, _, child) in zip(processes, children, strict=True):
            process.update(child.stop())
    finally:
        for _, _, child in children:
            child.kill()
    return processes, blocks


def select(records: list[dict[str, Any]], arch: str, loss: str, impl: str,
           workers: int | None) -> list[dict[str, Any]]:
    return [r for r in records if (r["arch"], r["loss"], r["impl"], r["workers"]) == (arch, loss, impl, workers)]


def summarise(processes: list[dict[str, Any]], blocks: list[dict[str, Any]], cases: Sequence[tuple[str, str]],
              workers: Sequence[int]) -> list[dict[str, Any]]:
    """One row per case and reference worker count; ratios pair ganzoo's and the reference's block of a round."""

    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    rows = []
    for arch, loss in cases:
        ours = select(blocks, arch, loss, "ganzoo", None)
        our_process = select(processes, arch, loss, "ganzoo", None)[0]
        ours_by_round = {b["round"]: b for b in ours}
        for w in workers:
            theirs = select(blocks, arch, loss, "reference", w)
            their_process = select(processes, arch, loss, "reference", w)[0]
            pairs = [(ours_by_round[b["round"]], b) for b in theirs if b["round"] in ours_by_round]
            ratios = [g["steps_per_s"] / r["steps_per_s"] for g, r in pairs]
            cpu_ratios = [(r["cpu_s"] / r["steps"]) / (g["cpu_s"] / g["steps"]) for g, r in pairs]
            rows.append({
                "case": f"{arch}+{loss}", "arch": arch, "loss": loss, "reference_workers": w,
                "steps": ours[0]["steps"], "rounds": len(pairs),
                "ganzoo_steps_per_s": med([b["steps_per_s"] for b in ours]),
                "reference_steps_per_s": med([b["steps_per_s"] for b in theirs]),
                "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                "ratios": ratios,
                "ganzoo_cpu_ms_per_step": med([1000 * b["cpu_s"] / b["steps"] for b in ours]),
                "reference_cpu_ms_per_step": med([1000 * b["cpu_s"] / b["steps"] for b in theirs]),
                "cpu_ratio_median": statistics.median(cpu_ratios), "cpu_ratios": cpu_ratios,
                "ganzoo_setup_s": our_process["setup_s"], "reference_setup_s": their_process["setup_s"],
                "baseline_rss_mib": med([our_process["baseline_rss_mib"], their_process["baseline_rss_mib"]]),
                "ganzoo_peak_rss_mib": our_process["peak_rss_mib"],
                "reference_peak_rss_mib": their_process["peak_rss_mib"],
                "reference_workers_pss_mib": their_process["workers_pss_mib"],
                "ganzoo_cuda_peak_mib": our_process["cuda_peak_mib"],
                "reference_cuda_peak_mib": their_process["cuda_peak_mib"],
            })
    return rows


def format_table(rows: list[dict[str, Any]], cuda: bool) -> str:
    """A Markdown table, one row per case and reference worker count."""
    head = ["case", "ref workers", "steps x rounds", "ganzoo it/s", "ref it/s", "ratio [min-max]",
            "CPU ms/step g / ref", "CPU ratio", "setup s g / ref", "peak RSS MiB g / ref", "(imports)",
            "ref workers PSS MiB"]
    if cuda:
        head.append("cuda MiB g / ref")
    lines = [head]
    for r in rows:
        line = [r["case"], str(r["reference_workers"]), f"{r['steps']} x {r['rounds']}",
                f"{r['ganzoo_steps_per_s']:#.3g}", f"{r['reference_steps_per_s']:#.3g}",
                f"{r['ratio_median']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]",
                f"{r['ganzoo_cpu_ms_per_step']:.0f} / {r['reference_cpu_ms_per_step']:.0f}",
                f"{r['cpu_ratio_median']:.2f}",
                f"{r['ganzoo_setup_s']:.2f} / {r['reference_setup_s']:.2f}",
                f"{r['ganzoo_peak_rss_mib']:.0f} / {r['reference_peak_rss_mib']:.0f}",
                f"{r['baseline_rss_mib']:.0f}",
                "-" if r["reference_workers_pss_mib"] is None else f"{r['reference_workers_pss_mib']:.0f}"]
        if cuda:
            line.append(f"{r['ganzoo_cuda_peak_mib']:.0f} / {r['reference_cuda_peak_mib']:.0f}")
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    import torch
    import torchvision

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "load_average_at_start": os.getloadavg()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), metavar="ARCH:LOSS",
                        help=f"cases to compare (default: {' '.join(DEFAULT_CASES)})")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"timed generator steps per block (default: per case on CPU, e.g. "
                             f"{CPU_STEPS['dcgan:wgan-gp']} for dcgan:wgan-gp; {GPU_STEPS} on CUDA)")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds (blocks per loop) per case "
                                                                "(default 9)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed generator steps first (default 2)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="torch.set_num_threads in both loops (default 1, see default_threads)")
    parser.add_argument("--workers", type=int, nargs="+", default=list(DEFAULT_WORKERS), metavar="N",
                        help="the reference DataLoader's num_workers; several values measure the reference once "
                             "per value (default: 0 2, DataLoader's default and PyTorch's DCGAN tutorial's)")
    parser.add_argument("--fashion", default=str(SYSTEM_FASHION_MNIST), help="folder with the four IDX .gz files")
    parser.add_argument("--no-check", action="store_true", help="skip the reference-vs-plugin loss check")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--fail-below", type=float, default=None,
                        help="exit 1 if any median ratio is below this (e.g. 1.0)")
    parser.add_argument("--one", nargs=3, metavar=("IMPL", "ARCH", "LOSS"),
                        help="one measurement in this process (ganzoo|reference ARCH LOSS), one JSON line")
    parser.add_argument("--profile", action="store_true", help="with --one: torch.profiler table on stderr")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--data-root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--steps and --repeats must be >= 1, --warmup >= 0")

    single = args.one or args.serve
    if single:
        impl, arch, loss = single
        if impl not in IMPLS:
            parser.error(f"IMPL must be one of {', '.join(IMPLS)}")
        parse_case(f"{arch}:{loss}")
        if args.serve:
            serve(impl, arch, loss, args)
        else:
            print(json.dumps(measure_one(impl, arch, loss, args)))
        return 0

    try:
        cases = [parse_case(c) for c in args.cases]
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    device = args.device or auto_device()
    info = machine()
    info.update({"device": device, "threads": args.threads, "workers": args.workers, "repeats": args.repeats,
                 "warmup": args.warmup, "batch": BATCH, "dataset": f"{DATASET} train (28x28)",
                 "command": " ".join([Path(sys.executable).name, *sys.argv])})
    checks = [] if args.no_check else check_losses(cases, device)
    for line in checks:
        print(f"check: {line}", file=sys.stderr)
    processes: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-data-") as tmp:
        data_root = Path(tmp)
        info["reference_data_prep_s"] = prepare_reference_root(data_root, Path(args.fashion))
        print(f"prepared reference data (gunzip into {data_root}/FashionMNIST/raw): "
              f"{info['reference_data_prep_s']:.2f} s", file=sys.stderr)
        started = time.perf_counter()
        for arch, loss in cases:
            case_processes, case_blocks = measure_case(arch, loss, args, device, data_root, data_root)
            processes += case_processes
            blocks += case_blocks
        info["wall_s"] = time.perf_counter() - started
    info["load_average_at_end"] = os.getloadavg()
    rows = summarise(processes, blocks, cases, args.workers)
    if args.json:
        print(json.dumps({"machine": info, "checks": checks, "summary": rows, "processes": processes,
                          "blocks": blocks}, indent=1))
    else:
        load = "/".join(f"{x:.1f}" for x in info["load_average_at_start"])
        print(f"# {info['date']}, {info['cpu']}, {info['cores']} cores (load average {load} at start), device "
              f"{device}, torch {info['torch']}, torchvision {info['torchvision']}, {args.threads} torch "
              f"thread(s), batch {BATCH}, {args.repeats} interleaved rounds, {args.warmup} warm-up steps, "
              f"wall {info['wall_s']:.0f} s")
        print(format_table(rows, device.startswith("cuda")))
    if args.fail_below is not None and any(r["ratio_median"] < args.fail_below for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
