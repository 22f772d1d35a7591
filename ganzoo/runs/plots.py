"""Pictures of a run: sample grids (images), scatters over the real data (2-D points), and training curves.

Figures are private :class:`matplotlib.figure.Figure` objects rendered by Agg, never pyplot (global state, not
thread-safe): training, the CLI and the sampling page's request threads all draw with these functions.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.runs.files import atomic_write, atomic_write_bytes


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


PNG_COMPRESS_LEVEL = 3
"""zlib level of the sample grids' PNGs. Measured on 64 Fashion-MNIST images (an 8 x 8 grid, greyscale): level 3
encodes in 1.7 ms into 28.3 KB, Pillow's default 6 in 2.7 ms into 26.5 KB; on RGB grids level 3 is 1.8x faster
than 6 and was smaller too (docs/serving.md)."""


def image_grid_png(images: Tensor, nrow: int | None = None) -> bytes:
    """Images in [-1, 1] ([N, C, H, W]) as the bytes of one PNG grid (``int(sqrt(N))`` per row, 2 px black
    padding). One-channel images give a greyscale PNG, three-channel ones an RGB PNG; the pixels are those
    torchvision's ``save_image`` writes (``round(255 * x)`` of x in [0, 1])."""
    from PIL import Image
    from torchvision.utils import make_grid

    images = images.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    channels = images.shape[1]
    nrow = nrow or max(1, int(math.sqrt(images.shape[0])))
    grid = make_grid(images, nrow=nrow, padding=2)
    pixels = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)  # [H, W, C]
    if channels == 1:
        pixels = pixels[:, :, 0]  # make_grid repeats one channel into three: keep one, a greyscale PNG
    buffer = io.BytesIO()
    Image.fromarray(pixels.contiguous().numpy()).save(buffer, format="png", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def save_image_grid(images: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Save images in [-1, 1] ([N, C, H, W]) as one PNG grid (:func:`image_grid_png`)."""
    return atomic_write_bytes(path, image_grid_png(images, nrow))


def scatter_png(fake: Tensor, real: Tensor | None, title: str = "") -> bytes:
    """Generated 2-D points over real ones (only the generated ones when ``real`` is None or empty), as the bytes of
    a 500 x 500 PNG."""
    fig = _figure(5, 5)
    ax = fig.subplots()
    fake_np = fake.detach().float().cpu().numpy()
    if real is not None and len(real):
        real_np = real.detach().float().cpu().numpy()
        ax.scatter(real_np[:, 0], real_np[:, 1], s=4, alpha=0.3, c="tab:blue", label="real")
    ax.scatter(fake_np[:, 0], fake_np[:, 1], s=4, alpha=0.6, c="tab:orange", label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def save_scatter(fake: Tensor, real: Tensor | None, path: str | Path, title: str = "") -> Path:
    """Generated 2-D points over real ones (:func:`scatter_png`)."""
    return atomic_write_bytes(path, scatter_png(fake, real, title))


def samples_png(fake: Tensor, real: Tensor | None, kind: str, title: str = "") -> bytes:
    """The bytes of a picture of samples: a grid for images, a scatter over ``real`` for points (None: generated
    points only)."""
    if kind == "points":
        return scatter_png(fake, real, title)
    return image_grid_png(fake)


def save_samples(fake: Tensor, real: Tensor | None, kind: str, path: str | Path, title: str = "") -> Path:
    """A picture of samples (:func:`samples_png`) written to ``path``."""
    return atomic_write_bytes(path, samples_png(fake, real, kind, title))


def save_curves(records: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Critic and generator losses, the W estimate and any logged metric, against the generator step."""
    panels = [("losses", ["critic_loss", "generator_loss"]), ("W estimate", ["w_estimate"])]
    metric_keys = sorted({k for r in records for k in r if k.startswith("eval/")})
    if metric_keys:
        panels.append(("evaluation", metric_keys))
    fig = _figure(7, 2.6 * len(panels))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)
    for ax, (label, keys) in zip(axes[:, 0], panels, strict=False):
        for key in keys:
            points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
            if points:
                steps, values = zip(*points, strict=False)
                ax.plot(steps, values, label=key, linewidth=1)
        ax.set_ylabel(label)
        if ax.has_data():
            ax.legend(loc="best", fontsize=8)
        else:
            ax.text(0.5, 0.5, "not estimated by this loss", ha="center", va="center", transform=ax.transAxes)
    points = [(r["step"], r[metric_keys[0]]) for r in records if metric_keys and r.get(metric_keys[0]) is not None]
    if points:  # the WGAN claim to check by eye: does the critic's W estimate track sample quality?
        twin = axes[1, 0].twinx()
        twin.plot(*zip(*points, strict=False), "--", marker=".", color="tab:red", linewidth=1, label=metric_keys[0])
        twin.set_ylabel(metric_keys[0].removeprefix("eval/"), color="tab:red")
        (w_handles, w_labels), (e_handles, e_labels) = (a.get_legend_handles_labels() for a in (axes[1, 0], twin))
        if axes[1, 0].get_legend() is not None:
            axes[1, 0].get_legend().remove()
        twin.legend(w_handles + e_handles, w_labels + e_labels, loc="best", fontsize=8)
    axes[-1, 0].set_xlabel("generator step")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
