"""The reference GAN training loop: Algorithm 1 of the WGAN / WGAN-GP papers (or the GAN paper's loop with k = 1)
in plain PyTorch, written the way a user writes it, with each paper's loss inline.

A user's loop: ``torchvision.datasets.FashionMNIST`` + ``Compose([ToTensor(), Normalize((0.5,), (0.5,))])`` +
``DataLoader(shuffle=True, drop_last=True, num_workers=N)``, re-iterated at each epoch end; a new real batch and
new noise for every critic step, the generator under ``torch.no_grad()`` for the critic steps; the critic is not
frozen during the generator step.

It imports nothing from ganzoo: it trains the generator and critic it is given (the training benchmark builds them
with ganzoo's architecture plugin, so that both loops train the same networks), and tests/test_benchmarks.py checks
that its inline losses equal ganzoo's loss plugins.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

#: The papers' hyperparameters, hard-coded here as a user copies them from the paper: the WGAN paper's Algorithm 1
#: (RMSprop, lr 5e-5, clip c = 0.01, n_critic 5), the WGAN-GP paper's (Adam lr 1e-4, betas (0, 0.9), lambda 10,
#: n_critic 5; the one-sided WGAN-LP penalty uses the same), and the DCGAN paper's Adam settings for the GAN
#: losses (lr 2e-4, betas (0.5, 0.999), one critic step per generator step). ``check_paper_settings`` stops a
#: benchmark whose ganzoo config resolves to other values, so a changed ganzoo default cannot make it unfair.
PAPER: dict[str, dict[str, Any]] = {
    "wgan": {"optimizer": "rmsprop", "lr": 5e-5, "betas": None, "n_critic": 5, "clip": 0.01},
    "wgan-gp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "n_critic": 5, "lambda": 10.0},
    "wgan-lp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "n_critic": 5, "lambda": 10.0},
    "non-saturating": {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "n_critic": 1},
    "minimax": {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "n_critic": 1},
}
WASSERSTEIN = ("wgan", "wgan-gp", "wgan-lp")

#: Where the Debian package ``dataset-fashion-mnist`` puts the four original IDX .gz files.
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def critic_loss(loss: str, critic: Any, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic / discriminator objective of ``loss``, written inline (fake is already detached)."""
    if loss in WASSERSTEIN:
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


def generator_loss(loss: str, critic: Any, fake: torch.Tensor) -> torch.Tensor:
    """The generator objective of ``loss``, written inline."""
    if loss in WASSERSTEIN:
        return -critic(fake).mean()
    scores = critic(fake)
    if loss == "minimax":  # E log(1 - D(G(z))) = -BCE(D(G(z)), 0)
        return -F.binary_cross_entropy_with_logits(scores, torch.zeros_like(scores))
    return F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))  # -E log D(G(z))


def check_paper_settings(config: Any, loss: str) -> None:
    """The reference hard-codes the paper's settings; a ganzoo config (optimizer, lr, n_critic, betas, loss
    options) must resolve to the same ones, or the two loops would not be comparable."""
    paper = PAPER[loss]
    got = {"optimizer": config.optimizer, "lr": config.lr, "n_critic": config.n_critic,
           "betas": None if config.betas is None else tuple(float(b) for b in config.betas)}
    got.update({k: v for k, v in config.loss_options.items() if k in paper})
    wanted = {k: paper[k] for k in got if k in paper}
    if got != wanted:
        raise SystemExit(f"ganzoo's config for {loss} is {got}, the reference loop uses {wanted}: not comparable")


def prepare_data_root(root: Path, source: Path = SYSTEM_FASHION_MNIST) -> float:
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


def make_loop(loss: str, generator: torch.nn.Module, critic: torch.nn.Module, *, latent_dim: int, batch: int,
              device: torch.device, data_root: Path, workers: int) -> Callable[[], torch.Tensor]:
    """The reference loop on Fashion-MNIST train in ``data_root`` (see ``prepare_data_root``): returns ``step()``,
    which runs one generator step (``n_critic`` critic steps, then one generator update) and returns the last
    critic loss and the generator loss as one tensor (no host sync)."""
    hp = PAPER[loss]
    if hp["optimizer"] == "rmsprop":
        opt_g = torch.optim.RMSprop(generator.parameters(), lr=hp["lr"])
        opt_d = torch.optim.RMSprop(critic.parameters(), lr=hp["lr"])
    else:
        opt_g = torch.optim.Adam(generator.parameters(), lr=hp["lr"], betas=hp["betas"])
        opt_d = torch.optim.Adam(critic.parameters(), lr=hp["lr"], betas=hp["betas"])
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = datasets.FashionMNIST(str(data_root), train=True, download=False, transform=transform)
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                        pin_memory=device.type == "cuda")

    def real_batches() -> Iterator[torch.Tensor]:
        while True:  # each pass over the loader is an epoch: a new iterator, a new shuffle
            for images, _ in loader:
                yield images.to(device, non_blocking=True)

    data = real_batches()
    n_critic, clip = hp["n_critic"], hp.get("clip")

    def step() -> torch.Tensor:
        for _ in range(n_critic):
            real = next(data)
            z = torch.randn(batch, latent_dim, device=device)
            with torch.no_grad():
                fake = generator(z)
            loss_d = critic_loss(loss, critic, real, fake)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if clip is not None:
                for p in critic.parameters():
                    p.data.clamp_(-clip, clip)
        z = torch.randn(batch, latent_dim, device=device)
        loss_g = generator_loss(loss, critic, generator(z))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return torch.stack([loss_d.detach(), loss_g.detach()])

    return step
