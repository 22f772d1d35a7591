"""The comparison's pictures, drawn on private :class:`matplotlib.figure.Figure` objects (never pyplot: the
sampling page draws them from request threads):

- :func:`distribution`: the compared metric per loss, a box plot with every trial on top (Lucic et al. 2018, fig. 4);
- :func:`curves`: the critic's W estimate and the metric (its ``--eval-every`` measurements) over training, every
  trial, coloured by loss;
- :func:`sample_grids`: samples of the best model of each loss side by side, all from the same seeded noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ganzoo.compare.logs import eval_key, series, training_log
from ganzoo.compare.table import Comparison, Row, Trial
from ganzoo.runs.files import atomic_write
from ganzoo.store import ModelStore
from ganzoo.sweep.outcome import FAILED

SAMPLE_SEED = 0  # the noise every best model's samples are drawn from
GRID_IMAGES = 36
GRID_POINTS = 1000
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
          "tab:olive", "tab:cyan")


def new_figure(width: float, height: float, dpi: int = 100) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi)


def save_png(fig: Any, path: str | Path) -> Path:
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def loss_colors(comparison: Comparison) -> dict[str, str]:
    """One colour per loss, the same in every picture."""
    losses = sorted({t.outcome.loss for t in comparison.trials})
    return {loss: COLORS[i % len(COLORS)] for i, loss in enumerate(losses)}


def _better(comparison: Comparison) -> str:
    m = comparison.metric
    return f"{m.label} ({'higher' if m.higher_is_better else 'lower'} is better)"


def distribution(comparison: Comparison) -> Any:
    """Per architecture, a box plot of the metric over each loss's finished trials (best loss on the left), with
    each trial as a point (spread sideways by seed order) and the failed trials counted under the loss's name."""
    colors = loss_colors(comparison)
    tables = comparison.tables
    widest = max(len(t.rows) for t in tables)
    fig = new_figure(max(4.5, 1.3 * widest + 1.5), 3.6 * len(tables))
    axes = fig.subplots(len(tables), 1, squeeze=False)[:, 0]
    for ax, table in zip(axes, tables, strict=True):
        names = []
        for x, row in enumerate(table.rows, start=1):
            values = [t.value for t in row.finished]
            if len(values) > 1:
                ax.boxplot([values], positions=[x], widths=0.5, showfliers=False,
                           medianprops={"color": "black"}, boxprops={"color": colors[row.loss]})
            offsets = [0.0] if len(values) == 1 else [-0.15 + 0.3 * i / (len(values) - 1) for i in range(len(values))]
            ax.scatter([x + o for o in offsets], values, s=22, color=colors[row.loss], zorder=3,
                       edgecolors="black", linewidths=0.4)
            extra = f", {row.failed} failed" if row.failed else ""
            names.append(f"{row.loss}\n(n={len(values)}{extra})")
        ax.set_xticks(range(1, len(names) + 1), names, fontsize=8)
        ax.set_xlim(0.4, len(names) + 0.6)
        ax.set_ylabel(comparison.metric.label)
        ax.set_title(f"{table.arch} on {comparison.dataset}: {_better(comparison)}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def curves(comparison: Comparison, store: ModelStore | None) -> Any:
    """The W estimate (top) and the compared metric measured during training (bottom) against the generator step,
    one line per trial (failed trials dotted), coloured by loss."""
    colors = loss_colors(comparison)
    fig = new_figure(7.5, 6.0)
    w_ax, m_ax = fig.subplots(2, 1, sharex=True)
    styles = ("-", "--", "-.", ":")
    archs = sorted({t.outcome.arch for t in comparison.trials})
    measured = False
    without_w: set[str] = set()
    for trial in comparison.trials:
        records = training_log(trial.outcome, store)
        if not records:
            continue
        loss = trial.outcome.loss
        style = ":" if trial.outcome.status == FAILED else styles[archs.index(trial.outcome.arch) % len(styles)]
        steps, values = series(records, "w_estimate")
        if steps:
            w_ax.plot(steps, values, style, color=colors[loss], linewidth=0.9, alpha=0.8)
        else:
            without_w.add(loss)
        key = eval_key(records, comparison.metric.label, comparison.metric.key)
        if key is not None:
            steps, values = series(records, key)
            m_ax.plot(steps, values, style, marker=".", color=colors[loss], linewidth=0.9, alpha=0.8)
            measured = True
    from matplotlib.lines import Line2D

    w_ax.set_ylabel("W estimate")
    w_ax.set_title(f"every trial on {comparison.dataset}" + (f" (line style: {', '.join(archs)})"
                                                            if len(archs) > 1 else ""), fontsize=9)
    present = sorted({t.outcome.loss for t in comparison.trials})
    fig.legend([Line2D([], [], color=colors[loss]) for loss in present],
               [f"{loss} (no W estimate)" if loss in without_w else loss for loss in present],
               loc="upper center", ncol=min(4, len(present)), fontsize=8, bbox_to_anchor=(0.5, 1.0))
    if not w_ax.has_data():
        w_ax.text(0.5, 0.5, "no loss here estimates W", ha="center", va="center", transform=w_ax.transAxes)
    m_ax.set_ylabel(comparison.metric.label)
    if not measured:
        m_ax.text(0.5, 0.5, f"{comparison.metric.label} was not measured during training\n(train with "
                  "--eval-every K to get this curve)", ha="center", va="center", transform=m_ax.transAxes,
                  fontsize=8)
    m_ax.set_xlabel("generator step")
    for ax in (w_ax, m_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def best_rows(comparison: Comparison) -> list[Row]:
    """The rows whose best trial is a stored model, in table order."""
    return [row for row in comparison.rows() if row.best is not None and row.best.outcome.model_ref]


def _image_grid(samples: Any) -> Any:
    from torchvision.utils import make_grid

    grid = make_grid(samples.clamp(-1, 1).add(1).div(2), nrow=max(1, int(math.sqrt(len(samples)))), padding=2,
                     pad_value=1.0)
    return grid.permute(1, 2, 0).numpy()


def sample_grids(comparison: Comparison, store: ModelStore | None,
                 load: Callable[..., Any] | None = None) -> Any | None:
    """The best model of each loss (per architecture), sampled from the same noise (seed 0: 36 images, or 1,000
    points drawn over 1,000 real ones), side by side; None when no best trial is a stored model."""
    from ganzoo.store.loading import load_generator
    from ganzoo.store.sampling import real_points_of

    rows = best_rows(comparison)
    if not rows:
        return None
    load = load or load_generator
    columns = min(4, len(rows))
    lines = math.ceil(len(rows) / columns)
    fig = new_figure(3.2 * columns, 3.5 * lines)
    axes = fig.subplots(lines, columns, squeeze=False).ravel()
    for ax, row in zip(axes, rows, strict=False):
        best: Trial = row.best  # type: ignore[assignment]
        generator = load(best.outcome.model_ref, store=store)
        if generator.data_kind == "points":
            fake = generator.sample(GRID_POINTS, seed=SAMPLE_SEED).numpy()
            real = real_points_of(generator).numpy()
            if len(real):
                ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.3, c="tab:blue")
            ax.scatter(fake[:, 0], fake[:, 1], s=3, alpha=0.6, c="tab:orange")
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
        else:
            image = _image_grid(generator.sample(GRID_IMAGES, seed=SAMPLE_SEED))
            ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_axis_off()
        arch = f"{row.arch} + " if len(comparison.tables) > 1 else ""
        ax.set_title(f"{arch}{row.loss}\n{best.outcome.trial_id}\n{comparison.metric.label} {best.value:.4g}",
                     fontsize=8)
    for ax in axes[len(rows):]:
        ax.set_axis_off()
    fig.suptitle(f"best model of each loss, same noise (seed {SAMPLE_SEED})", fontsize=9)
    fig.tight_layout()
    return fig


def save_all(comparison: Comparison, out: Path, store: ModelStore | None,
             names: Sequence[str] = ("distribution.png", "curves.png", "samples.png")) -> dict[str, Path]:
    """Every picture as a PNG in ``out``: {"distribution": path, "curves": path, "samples": path (if any)}."""
    out.mkdir(parents=True, exist_ok=True)
    pictures = {"distribution": save_png(distribution(comparison), out / names[0]),
                "curves": save_png(curves(comparison, store), out / names[1])}
    grids = sample_grids(comparison, store)
    if grids is not None:
        pictures["samples"] = save_png(grids, out / names[2])
    return pictures
