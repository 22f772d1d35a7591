"""The sampling page's pictures, drawn with matplotlib's object API (never pyplot).

pyplot keeps global state and is not thread-safe; the page draws from many request threads at once, so every
figure here is a private :class:`matplotlib.figure.Figure` rendered by the Agg canvas.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganzoo.runs.files import atomic_write


def new_figure(width: float, height: float, dpi: int = 100) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi)


def save_png(fig: Any, path: str | Path) -> Path:
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def to_image(fig: Any) -> Image.Image:
    """The figure as an RGB PIL image (for animation frames)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _points(ax: Any, fake: np.ndarray, real: np.ndarray) -> None:
    if len(real):
        ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.3, c="tab:blue", label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=6, alpha=0.7, c="tab:orange", label="generated")
    ax.set_aspect("equal")


def scatter(fake: np.ndarray, real: np.ndarray, title: str, size: float = 5.0, dpi: int = 100,
            limits: tuple[float, float, float, float] | None = None, legend: bool = True) -> Any:
    """Generated 2-D points over real ones; ``limits`` (x0, x1, y0, y1) fixes the view (animation frames)."""
    fig = new_figure(size, size, dpi)
    ax = fig.subplots()
    _points(ax, fake, real)
    if limits is not None:
        ax.set_xlim(limits[0], limits[1])
        ax.set_ylim(limits[2], limits[3])
    if legend:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def value_surface(xs: np.ndarray, ys: np.ndarray, values: np.ndarray, fake: np.ndarray, real: np.ndarray,
                  title: str) -> Any:
    """The critic's value f(x) over the plane as filled contours, with real and generated points on top."""
    fig = new_figure(6.4, 5.4)
    ax = fig.subplots()
    filled = ax.contourf(xs, ys, values, levels=24, cmap="coolwarm")
    ax.contour(xs, ys, values, levels=12, colors="k", linewidths=0.3, alpha=0.5)
    fig.colorbar(filled, ax=ax, label="critic value f(x)")
    _points(ax, fake, real)
    ax.set_xlim(xs.min(), xs.max())
    ax.set_ylim(ys.min(), ys.max())
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def limits_of(*clouds: np.ndarray, margin: float = 0.15) -> tuple[float, float, float, float]:
    """A square-ish view (x0, x1, y0, y1) holding every point of ``clouds`` with a relative ``margin``."""
    points = np.concatenate([c for c in clouds if len(c)], axis=0)
    low, high = points.min(axis=0), points.max(axis=0)
    pad = np.maximum((high - low) * margin, 0.1)
    low, high = low - pad, high + pad
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def save_gif(frames: list[Image.Image], path: str | Path, frame_ms: int = 120) -> Path:
    """An animated GIF that plays the frames forward then back, looping forever."""
    sequence = frames + frames[-2:0:-1]
    return atomic_write(path, lambda tmp: sequence[0].save(tmp, format="GIF", save_all=True,
                                                          append_images=sequence[1:], duration=frame_ms, loop=0))


def enlarge(image: Image.Image, min_size: int) -> Image.Image:
    """``image`` scaled up by the smallest whole factor that makes its longer side at least ``min_size`` pixels
    (nearest neighbour, so pixels stay sharp); unchanged if it is already that large."""
    factor = max(1, -(-min_size // max(image.size)))
    return image if factor == 1 else image.resize((image.width * factor, image.height * factor), Image.NEAREST)


def strip(frames: list[Image.Image], gap: int = 2) -> Image.Image:
    """Frames side by side on a white background."""
    width = sum(f.width for f in frames) + gap * (len(frames) + 1)
    height = max(f.height for f in frames) + 2 * gap
    canvas = Image.new("RGB", (width, height), "white")
    x = gap
    for frame in frames:
        canvas.paste(frame, (x, gap))
        x += frame.width + gap
    return canvas
