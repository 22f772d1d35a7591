"""What the built-in experiments share: figures (private matplotlib Figures, never pyplot), rank correlation and
medians; nothing here trains."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

COLORS = {"minimax": "tab:red", "non-saturating": "tab:orange", "wgan": "tab:blue", "wgan-gp": "tab:green",
          "wgan-lp": "tab:purple"}


def figure(width: float, height: float, ncols: int = 1) -> tuple[Any, Any]:
    """A figure with one row of ``ncols`` panels: (figure, the row of axes)."""
    fig, axes = grid(width, height, 1, ncols)
    return fig, axes[0]


def grid(width: float, height: float, nrows: int, ncols: int) -> tuple[Any, Any]:
    """A figure with ``nrows`` x ``ncols`` panels: (figure, axes indexed [row][column])."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=80)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def color(loss: str) -> str:
    return COLORS.get(loss, "tab:gray")


def median(values: Iterable[float]) -> float | None:
    ordered = sorted(v for v in values if v is not None and math.isfinite(v))
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (SciPy's), None for fewer than three pairs or a constant series."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
    if len(pairs) < 3 or len({p[0] for p in pairs}) < 2 or len({p[1] for p in pairs}) < 2:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic)


def by_budget(budget: str, tiny: Any, small: Any, paper: Any) -> Any:
    return {"tiny": tiny, "small": small, "paper": paper}[budget]
