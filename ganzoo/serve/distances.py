"""The seeds' teaching example (WGAN paper, example 1): two distributions on parallel lines.

P_0 = (0, Z) and P_theta = (theta, Z) with Z ~ U[0, 1]. Their supports are disjoint for every theta != 0, so

- W(P_0, P_theta) = |theta|                      (continuous in theta, gradient sign(theta))
- JS(P_0, P_theta) = log 2 if theta != 0 else 0  (a jump at 0, gradient 0 everywhere else)
- KL(P_theta || P_0) = +inf if theta != 0 else 0 (so is the reverse KL)
- TV(P_0, P_theta) = 1 if theta != 0 else 0

Only W says how far apart the two lines are, which is why a Wasserstein critic gives the generator a useful gradient
when the supports do not overlap. :func:`empirical_w1` checks the closed form from samples (exact optimal transport).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ganzoo.plugin.points import exact_w1

THETA_LIMIT = 1.0  # the WGAN paper's figure 1 plots theta in [-1, 1]
DISTANCES = ("W", "JS", "KL", "TV")
NAMES = {"W": "Wasserstein-1 (earth mover)", "JS": "Jensen-Shannon", "KL": "Kullback-Leibler",
         "TV": "total variation"}


def closed_form(theta: float) -> dict[str, float]:
    """W, JS (natural log), KL (either direction) and TV between P_0 and P_theta."""
    apart = theta != 0
    return {"W": abs(theta), "JS": math.log(2) if apart else 0.0, "KL": math.inf if apart else 0.0,
            "TV": 1.0 if apart else 0.0}


def gradients(theta: float) -> dict[str, float | None]:
    """d(distance)/d(theta) at ``theta``: what a generator moving the line would feel. None where undefined."""
    if theta == 0:
        return {"W": 0.0, "JS": None, "KL": None, "TV": None}  # W: the subgradient 0; the others jump here
    return {"W": math.copysign(1.0, theta), "JS": 0.0, "KL": None, "TV": 0.0}


def sample_lines(theta: float, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of P_0 and ``n`` independent points of P_theta, [n, 2] each."""
    generator = torch.Generator().manual_seed(seed)
    z0 = torch.rand(n, generator=generator, dtype=torch.float64)
    z1 = torch.rand(n, generator=generator, dtype=torch.float64)
    p0 = torch.stack([torch.zeros(n, dtype=torch.float64), z0], 1)
    p_theta = torch.stack([torch.full((n,), float(theta), dtype=torch.float64), z1], 1)
    return p0, p_theta


def empirical_w1(theta: float, n: int = 400, seed: int = 0) -> float:
    """Exact W1 between ``n`` samples of each distribution (POT's network simplex); close to |theta| for large n."""
    p0, p_theta = sample_lines(theta, n, seed)
    return exact_w1(p0, p_theta)


def table(theta: float, w_from_samples: float) -> dict[str, Any]:
    """The numbers shown next to the plot (JSON-safe: +inf is written as the string "inf")."""
    values = closed_form(theta)
    grads = gradients(theta)
    return {
        "theta": theta,
        "distances": {k: ("inf" if math.isinf(v) else v) for k, v in values.items()},
        "gradients": grads,
        "W_from_samples": w_from_samples,
    }


def figure(theta: float, w_from_samples: float | None = None) -> Any:
    """The four distances against theta in [-1, 1], a marker at ``theta``; a matplotlib Figure (no pyplot)."""
    from matplotlib.figure import Figure

    grid = np.linspace(-THETA_LIMIT, THETA_LIMIT, 401)
    grid = grid[grid != 0]
    fig = Figure(figsize=(9, 6), dpi=90)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    value = closed_form(theta)
    for ax, key in zip(axes, DISTANCES, strict=True):
        ax.set_title(f"{key}: {NAMES[key]}", fontsize=10)
        ax.axvline(0, color="0.85", linewidth=0.8, zorder=0)
        if key == "W":
            ax.plot(grid, np.abs(grid), color="tab:blue", label="|theta|")
            ax.plot([0], [0], "o", color="tab:blue", markersize=4)
            if w_from_samples is not None:
                ax.plot([theta], [w_from_samples], "x", color="black", markersize=10, markeredgewidth=2,
                        label="exact W1 of 400 + 400 samples", zorder=6)
            ax.set_ylim(-0.05, THETA_LIMIT * 1.1)
        elif key == "KL":
            top = 1.0
            ax.plot(grid[grid < 0], np.full((grid < 0).sum(), top), color="tab:blue", linestyle="--")
            ax.plot(grid[grid > 0], np.full((grid > 0).sum(), top), color="tab:blue", linestyle="--")
            ax.plot([0], [0], "o", color="tab:blue", markersize=4)
            ax.text(0.5, 0.5, "+inf for every theta != 0", ha="center", transform=ax.transAxes, fontsize=9)
            ax.set_ylim(-0.05, 1.2)
            ax.set_yticks([0, top], ["0", "+inf"])
        else:
            level = math.log(2) if key == "JS" else 1.0
            for side in (grid < 0, grid > 0):
                ax.plot(grid[side], np.full(side.sum(), level), color="tab:blue")
            ax.plot([0], [level], "o", markerfacecolor="white", color="tab:blue", markersize=5)
            ax.plot([0], [0], "o", color="tab:blue", markersize=4)
            ax.set_ylim(-0.05, 1.2)
            if key == "JS":
                ax.set_yticks([0, level], ["0", "log 2"])
        shown = 1.0 if key == "KL" and math.isinf(value[key]) else value[key]
        ax.plot([theta], [shown], "o", color="tab:red", markersize=9, label=f"theta = {theta:g}", zorder=5)
        ax.legend(loc="upper center" if key == "W" else "lower right", fontsize=8)
    for ax in axes[2:]:
        ax.set_xlabel("theta")
    fig.suptitle("P_0 = (0, Z) against P_theta = (theta, Z), Z ~ U[0, 1]: only W changes smoothly with theta",
                 fontsize=11)
    fig.tight_layout()
    return fig
