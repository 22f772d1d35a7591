"""Training speed: ganzoo's Trainer against a plain PyTorch reference loop, same everything else.

For each case (architecture + loss) the script trains twice, with the same config, data set (Fashion-MNIST
train, 28x28), batch size (64), device, torch thread count, generator/critic modules and optimizers:

- ``ganzoo``: ``Trainer(config, registry, run_dir).train_step()``, i.e. ganzoo's own loop (data held as one
  uint8 tensor on the device, critic frozen during the generator step).
- ``reference``: Algorithm 1 of the WGAN / WGAN-GP papers (or the GAN paper's k = 1 loop) written directly, the
  way a user writes it: ``torchvision.datasets.FashionMNIST`` + ``Compose([ToTensor(), Normalize((0.5,),
  (0.5,))])`` + ``DataLoader(batch_size=64, shuffle=True, drop_last=True, num_workers=--workers)``, iterated and
  re-created at each epoch end; the loss written inline; the critic is not frozen during the generator step.
  The generator and critic come from the same ganzoo architecture plugin with the same options (including the
  batch-norm -> layer-norm switch ganzoo makes for wgan-gp), seeded identically, so the networks are the same.

Every measurement runs in a fresh subprocess (``--one IMPL ARCH LOSS``, one JSON line on stdout) so peak memory
is per run. Measurements are interleaved (ganzoo, reference, reference, ganzoo, ... for ``--repeats`` rounds,
alternating which goes first) because the machine is shared: absolute speeds drift, ratios from the same round
do not drift much.

How to read the output (one row per case):

- ``ganzoo it/s`` / ``ref it/s``: median generator steps per second over the repeats (one generator step = its
  ``n_critic`` critic steps + one generator update), timed over ``--steps`` steps after ``--warmup`` steps.
- ``ratio``: median over the rounds of (ganzoo it/s / reference it/s) measured in the SAME round, with the
  smallest and largest round in brackets. > 1 means ganzoo is faster. Only ratios are comparable between runs or
  machines; absolute steps/s on a shared 2-core machine are not.
- ``setup s``: seconds from "imports done" to "ready to train" (data read + networks + optimizers), not timed in
  the steps/s. The reference's one-time gunzip of the IDX files (what torchvision's download does once) is not
  included; it is printed once as ``prepared reference data``.
- ``peak RSS MiB``: ``getrusage(RUSAGE_SELF).ru_maxrss`` of the measuring process. Both import the same modules
  (torch, torchvision, ganzoo and its plugins) before setup; ``(imports)`` is the peak RSS right after those
  imports, so peak minus ``(imports)`` is what the training itself added. ``+workers`` is the largest
  DataLoader worker's peak RSS (``RUSAGE_CHILDREN``; forked workers share most pages with the parent, so it
  overstates the extra memory). On CUDA ``cuda MiB`` is ``torch.cuda.max_memory_allocated``.
- ``--check`` (on by default) first verifies that the reference's inline losses give the same values and critic
  gradients as ganzoo's loss plugins on the same networks and batches, so both loops train the same thing.

Usage::

    python benchmarks/bench_training.py                      # default cases, CPU/GPU auto, table
    python benchmarks/bench_training.py --repeats 5 --json   # machine-readable
    python benchmarks/bench_training.py --cases dcgan:wgan --steps 20
    python benchmarks/bench_training.py --one reference mlp wgan --steps 50   # one measurement, one JSON line
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
DATASET = "fashion-mnist"
SHAPE = (1, 28, 28)
BATCH = 64
SEED = 0
#: Where the Debian package ``dataset-fashion-mnist`` puts the four original IDX .gz files.
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
#: Timed generator steps per case when --steps is not given: about 10-20 s per measurement on one CPU core of
#: the 2-core development machine, so the default run (3 cases x 2 loops x 3 repeats) takes about 6 minutes.
CPU_STEPS = {"dcgan:wgan-gp": 8, "dcgan:non-saturating": 40, "dcgan:minimax": 40, "dcgan:wgan": 30,
             "dcgan:wgan-lp": 8, "mlp:wgan": 60, "mlp:wgan-gp": 20, "mlp:non-saturating": 150,
             "mlp:minimax": 150, "mlp:wgan-lp": 20}
GPU_STEPS = 200
FLUSH_EVERY = 10  # both loops bring their losses to the host every 10 steps, as ganzoo's run() does

#: The papers' hyperparameters the reference loop hard-codes (SCIENCE.md); the child checks ganzoo's config
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


def resolved_config(arch: str, loss: str, device: str, steps: int) -> tuple[Any, Any, Any]:
    """(config, registry, loss plugin object) exactly as ganzoo's trainer completes them.

    ``build_components`` calls ``enforce_critic_requirements`` (batch norm -> layer norm in the critic for
    gradient-penalty losses); the reference calls the same function so its networks get the identical options.
    """
    from ganzoo.api import make_config
    from ganzoo.build import enforce_critic_requirements
    from ganzoo.plugins import get_registry

    registry = get_registry()
    config = make_config(arch, loss, DATASET, registry=registry, steps=max(steps, 1), batch_size=BATCH,
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


def make_reference(arch: str, loss: str, device_name: str, steps: int, data_root: Path, workers: int) -> Loop:
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    start = time.perf_counter()
    device = torch.device(device_name)
    config, registry, _ = resolved_config(arch, loss, device_name, steps)
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


def make_ganzoo(arch: str, loss: str, device_name: str, steps: int, run_dir: Path) -> Loop:
    from ganzoo.api import make_config
    from ganzoo.plugins import get_registry
    from ganzoo.trainer import Trainer

    start = time.perf_counter()
    registry = get_registry()
    config = make_config(arch, loss, DATASET, registry=registry, steps=max(steps, 1), batch_size=BATCH,
                         device=device_name, seed=SEED)
    check_paper_settings(config, loss)
    trainer = Trainer(config, registry, run_dir, progress=False)
    trainer.generator.train()
    trainer.critic.train()
    return Loop(trainer.train_step, time.perf_counter() - start)


# --- one measurement (runs in its own process) -----------------------------------------------------------------


def measure_one(impl: str, arch: str, loss: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    # Both loops import the same modules and load the plugins before the setup clock starts, so setup time and
    # the memory baseline do not depend on which loop happened to import torchvision or a plugin first.
    import torch.utils.data  # noqa: F401
    import torchvision.datasets  # noqa: F401

    import ganzoo.api  # noqa: F401
    import ganzoo.trainer  # noqa: F401
    from ganzoo.plugins import get_registry

    get_registry()
    baseline_rss = peak_rss_mib(resource.RUSAGE_SELF)
    device = args.device or auto_device()
    steps = steps_for(f"{arch}:{loss}", device, args.steps)
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-") as tmp:
        if impl == "ganzoo":
            loop = make_ganzoo(arch, loss, device, steps, Path(tmp) / "run")
        else:
            root = Path(args.data_root) if args.data_root else Path(tmp) / "data"
            if not args.data_root:
                prepare_reference_root(root, Path(args.fashion))
            loop = make_reference(arch, loss, device, steps, root, args.workers)
        cuda = device.startswith("cuda")

        def sync() -> None:
            if cuda:
                torch.cuda.synchronize()

        for _ in range(args.warmup):
            loop.step().cpu()
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        profiler = None
        if args.profile:
            profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            profiler.__enter__()
        start = time.perf_counter()
        pending = []
        for i in range(steps):
            pending.append(loop.step())
            if (i + 1) % FLUSH_EVERY == 0 or i + 1 == steps:
                torch.stack(pending).cpu()  # what logging costs: one host sync per FLUSH_EVERY steps
                pending = []
        sync()
        elapsed = time.perf_counter() - start
        if profiler is not None:
            profiler.__exit__(None, None, None)
            print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=25), file=sys.stderr)
    return {
        "impl": impl, "arch": arch, "loss": loss, "device": device, "threads": torch.get_num_threads(),
        "workers": args.workers if impl == "reference" else None, "batch": BATCH, "warmup": args.warmup,
        "steps": steps, "setup_s": loop.setup_s, "time_s": elapsed, "steps_per_s": steps / elapsed,
        "baseline_rss_mib": baseline_rss, "peak_rss_mib": peak_rss_mib(resource.RUSAGE_SELF),
        "workers_peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN) if impl == "reference" else 0.0,
        "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    }


# --- the loss check -------------------------------------------------------------------------------------------


def check_losses(cases: Sequence[tuple[str, str]], device_name: str) -> list[str]:
    """Reference losses == ganzoo's loss plugins (values and critic gradients) on identical networks and batches."""
    import torch

    device = torch.device(device_name)
    lines = []
    for arch, loss in cases:
        config, registry, loss_obj = resolved_config(arch, loss, device_name, 1)
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


def run_child(impl: str, arch: str, loss: str, args: argparse.Namespace, device: str, data_root: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", impl, arch, loss, "--device", device,
           "--threads", str(args.threads), "--workers", str(args.workers), "--warmup", str(args.warmup),
           "--data-root", str(data_root), "--fashion", args.fashion]
    if args.steps is not None:
        cmd += ["--steps", str(args.steps)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"measurement {impl} {arch} {loss} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(records: list[dict[str, Any]], cases: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    rows = []
    for arch, loss in cases:
        mine = [r for r in records if r["arch"] == arch and r["loss"] == loss]
        by_round: dict[int, dict[str, dict]] = {}
        for r in mine:
            by_round.setdefault(r["round"], {})[r["impl"]] = r
        ratios = [pair["ganzoo"]["steps_per_s"] / pair["reference"]["steps_per_s"]
                  for pair in by_round.values() if len(pair) == 2]

        def med(impl: str, key: str, rs: list[dict] = mine) -> float | None:
            values = [r[key] for r in rs if r["impl"] == impl and r[key] is not None]
            return statistics.median(values) if values else None

        rows.append({
            "case": f"{arch}+{loss}", "arch": arch, "loss": loss, "steps": mine[0]["steps"],
            "ganzoo_steps_per_s": med("ganzoo", "steps_per_s"),
            "reference_steps_per_s": med("reference", "steps_per_s"),
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "ratios": ratios,
            "ganzoo_setup_s": med("ganzoo", "setup_s"), "reference_setup_s": med("reference", "setup_s"),
            "baseline_rss_mib": med("ganzoo", "baseline_rss_mib"),
            "ganzoo_peak_rss_mib": med("ganzoo", "peak_rss_mib"),
            "reference_peak_rss_mib": med("reference", "peak_rss_mib"),
            "reference_workers_peak_rss_mib": med("reference", "workers_peak_rss_mib"),
            "ganzoo_cuda_peak_mib": med("ganzoo", "cuda_peak_mib"),
            "reference_cuda_peak_mib": med("reference", "cuda_peak_mib"),
        })
    return rows


def format_table(rows: list[dict[str, Any]], cuda: bool) -> str:
    head = ["case", "steps", "ganzoo it/s", "ref it/s", "ratio [min-max]", "setup s g/ref", "peak RSS MiB g/ref",
            "(imports)", "+workers"]
    if cuda:
        head.append("cuda MiB g/ref")
    lines = [head]
    for r in rows:
        line = [r["case"], str(r["steps"]), f"{r['ganzoo_steps_per_s']:.3g}", f"{r['reference_steps_per_s']:.3g}",
                f"{r['ratio_median']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]",
                f"{r['ganzoo_setup_s']:.2f} / {r['reference_setup_s']:.2f}",
                f"{r['ganzoo_peak_rss_mib']:.0f} / {r['reference_peak_rss_mib']:.0f}",
                f"{r['baseline_rss_mib']:.0f}",
                f"{r['reference_workers_peak_rss_mib']:.0f}"]
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
    parser.add_argument("--one", nargs=3, metavar=("IMPL", "ARCH", "LOSS"),
                        help="one measurement (ganzoo|reference ARCH LOSS), printed as one JSON line")
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), metavar="ARCH:LOSS",
                        help=f"cases to compare (default: {' '.join(DEFAULT_CASES)})")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"timed generator steps per measurement (default: per case on CPU, e.g. "
                             f"{CPU_STEPS['dcgan:wgan-gp']} for dcgan:wgan-gp; {GPU_STEPS} on CUDA)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed generator steps first (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per case (default 3)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="torch.set_num_threads in both loops (default 1, see default_threads)")
    parser.add_argument("--workers", type=int, default=2,
                        help="the reference DataLoader's num_workers (default 2, as in PyTorch's DCGAN tutorial)")
    parser.add_argument("--fashion", default=str(SYSTEM_FASHION_MNIST), help="folder with the four IDX .gz files")
    parser.add_argument("--data-root", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-check", action="store_true", help="skip the reference-vs-plugin loss check")
    parser.add_argument("--profile", action="store_true", help="with --one: torch.profiler table on stderr")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--fail-below", type=float, default=None,
                        help="exit 1 if any median ratio is below this (e.g. 1.0)")
    args = parser.parse_args(argv)

    if args.one:
        impl, arch, loss = args.one
        if impl not in IMPLS:
            parser.error(f"--one IMPL must be one of {', '.join(IMPLS)}")
        parse_case(f"{arch}:{loss}")
        print(json.dumps(measure_one(impl, arch, loss, args)))
        return 0

    cases = [parse_case(c) for c in args.cases]
    device = args.device or auto_device()
    info = machine()
    info.update({"device": device, "threads": args.threads, "workers": args.workers, "repeats": args.repeats,
                 "warmup": args.warmup, "batch": BATCH, "dataset": f"{DATASET} train (28x28)",
                 "command": " ".join([Path(sys.executable).name, *sys.argv])})
    checks = [] if args.no_check else check_losses(cases, device)
    for line in checks:
        print(f"check: {line}", file=sys.stderr)
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-data-") as tmp:
        data_root = Path(tmp)
        info["reference_data_prep_s"] = prepare_reference_root(data_root, Path(args.fashion))
        print(f"prepared reference data (gunzip into {data_root}/FashionMNIST/raw): "
              f"{info['reference_data_prep_s']:.2f} s", file=sys.stderr)
        started = time.perf_counter()
        for round_ in range(args.repeats):
            for arch, loss in cases:
                order = IMPLS if round_ % 2 == 0 else IMPLS[::-1]
                for impl in order:
                    record = run_child(impl, arch, loss, args, device, data_root)
                    record["round"] = round_
                    records.append(record)
                    print(f"round {round_ + 1}/{args.repeats} {impl:9s} {arch}+{loss}: "
                          f"{record['steps_per_s']:.3g} it/s, setup {record['setup_s']:.2f} s, "
                          f"peak RSS {record['peak_rss_mib']:.0f} MiB", file=sys.stderr)
        info["wall_s"] = time.perf_counter() - started
    rows = summarise(records, cases)
    if args.json:
        print(json.dumps({"machine": info, "checks": checks, "summary": rows, "measurements": records}, indent=1))
    else:
        print(f"# {info['date']}, {info['cpu']}, {info['cores']} cores, device {device}, torch {info['torch']}, "
              f"torchvision {info['torchvision']}, {args.threads} torch thread(s), reference DataLoader "
              f"num_workers={args.workers}, batch {BATCH}, {args.repeats} interleaved rounds, "
              f"{args.warmup} warm-up steps, wall {info['wall_s']:.0f} s")
        print(format_table(rows, device.startswith("cuda")))
    if args.fail_below is not None and any(r["ratio_median"] < args.fail_below for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
