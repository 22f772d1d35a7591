"""Experiment ``clipping``: weight clipping's pathologies, and the gradient penalty's cure (Gulrajani et al. 2017,
Figure 1).

Figure 1b: a deep MLP critic trained on the Swiss roll with weight clipping at c = 0.1, 0.01, 0.001 and with the
two-sided penalty; ``--set log_layer_grads=true`` logs every critic parameter's gradient norm at every step, and the
experiment takes each weight matrix's median over the second half of training, layer by layer from the input.
Clipping's gradients explode (large c) or vanish (small c) going down the network; the penalty's stay level.
``spread`` = log10(norm at the first layer / norm at the last layer): > +1 explodes, < -1 vanishes (10x). A critic
whose weight gradients are below ``DEAD`` at every layer has no gradient left to compare (its units died): that is
vanishing in its plainest form, and counts as such (its spread, a ratio of two zeros, is undefined).

Figure 1a: the value surface of the final critic of clipped (c = 0.01) and penalised runs on the toy data: clipping
pushes the critic towards simple functions (the paper's figure trains critics to optimality against a fixed
generator, real data plus noise; here they are the critics at the end of ordinary training).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from ganzoo_plugins.experiments.common import by_budget, figure, median

from ganzoo import Experiment, ExperimentSpec, Findings, Table, Verdict, hookimpl

CLIPS = (0.1, 0.01, 0.001)
#: A weight-gradient norm below this at every layer: the critic has no gradient (float32 rounding noise is ~1e-14).
DEAD = 1e-10
SURFACE_CLIP = 0.01


def weight_names(critic: torch.nn.Module) -> list[str]:
    """The critic's weight matrices (Linear / conv: 2 or more dimensions), from the input to the output."""
    return [name for name, p in critic.named_parameters() if p.dim() >= 2]


def label(trial: Any) -> str:
    return f"clip {trial.settings.get('clip', 0.01)}" if trial.loss == "wgan" else trial.loss


class Clipping(Experiment):
    def sweeps(self, budget: str) -> list[dict[str, Any]]:
        net = by_budget(budget, {"hidden": 16, "layers": 3}, {"hidden": 64, "layers": 6},
                        {"hidden": 512, "layers": 12})
        steps = by_budget(budget, 4, 300, 5000)
        seeds = by_budget(budget, [0], [0], "0-2")
        layers = {"name": "clipping-layers", "loss": ["wgan", "wgan-gp"], "arch": "mlp", "dataset": "swissroll",
                  "seeds": seeds, "steps": steps, "metrics": ["w1"], "set": {"log_layer_grads": True, **net},
                  "loss_space": {"wgan": {"clip": {"choice": list(CLIPS)}}}}
        if budget == "tiny":
            return [layers]
        surfaces = {"name": "clipping-surfaces", "loss": ["wgan", "wgan-gp"], "arch": "mlp",
                    "dataset": ["gaussians8", "gaussians25"], "seeds": [0], "steps": steps, "metrics": ["w1"],
                    "set": {"hidden": 64, "layers": 3}}
        return [layers, surfaces]

    def evaluation(self, budget: str) -> Mapping[str, Any]:
        return {"n": 64} if budget == "tiny" else {}

    def analyse(self, context: Any) -> Findings:
        deep = [t for t in context.trials if t.dataset == "swissroll" and t.settings.get("log_layer_grads")]
        curves: dict[str, list[list[float]]] = {}
        for trial in deep:
            _, critic = context.networks(trial)
            names = weight_names(critic)
            records = context.records(trial)
            late = records[len(records) // 2:]
            norms = [median(r.get(f"grad/critic/{n}") for r in late) for n in names]
            curves.setdefault(label(trial), []).append([v if v is not None else math.nan for v in norms])
        numbers: dict[str, float | None] = {}
        rows = []
        fig, (ax,) = figure(6, 4)
        for name, runs in curves.items():
            per_layer = [median(col) for col in zip(*runs, strict=True)]
            spread = (math.log10(per_layer[0] / per_layer[-1]) if per_layer and per_layer[0] and per_layer[-1]
                      else None)
            numbers[f"spread[{name}]"] = spread
            numbers[f"dead[{name}]"] = float(bool(per_layer) and all(v is not None and v < DEAD for v in per_layer))
            numbers[f"first_layer[{name}]"] = per_layer[0]
            numbers[f"last_layer[{name}]"] = per_layer[-1]
            rows.append([name, len(runs), per_layer[0], per_layer[-1], spread])
            ax.plot(range(1, len(per_layer) + 1), [math.log10(v) if v else math.nan for v in per_layer], "o-",
                    label=name)
        ax.set_xlabel("critic layer (1 = input)")
        ax.set_ylabel("log10 gradient norm of the layer's weights")
        ax.set_title("critic gradients: clipping vs penalty (WGAN-GP Fig. 1b)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        figures = {"layer_gradients": fig}
        surfaces = [t for t in context.trials if t.loss == "wgan-gp"
                    or (t.loss == "wgan" and t.settings.get("clip", 0.01) == SURFACE_CLIP)]
        datasets = sorted({t.dataset for t in surfaces})
        if surfaces:
            figures["value_surfaces"] = self.surfaces(context, surfaces, datasets)
        table = Table("Critic weight-gradient norms (median over the second half of training)",
                      ["critic", "runs", "first layer", "last layer", "spread log10(first/last)"], rows)
        return Findings(numbers, figures, [table], [
            "Layers are the critic's weight matrices in order from the input; the gradient is that of the whole "
            "critic objective (with the penalty) at the last critic step of each generator step.",
            "Value surfaces: final critics of ordinary training (the paper trains critics to optimality against a "
            "fixed generator: real data plus Gaussian noise)."])

    def surfaces(self, context: Any, trials: list[Any], datasets: list[str]) -> Any:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(3.2 * len(datasets), 6.2), dpi=80)
        grid = fig.subplots(2, len(datasets), squeeze=False)
        for col, dataset in enumerate(datasets):
            spec = context.registry.dataset(dataset)
            real = spec.factory(**spec.options).sample(512, torch.Generator().manual_seed(0))
            low, high = real.min(0).values - 0.5, real.max(0).values + 0.5
            xs, ys = torch.linspace(float(low[0]), float(high[0]), 80), torch.linspace(float(low[1]),
                                                                                    float(high[1]), 80)
            mesh = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)
            for row, loss in enumerate(("wgan", "wgan-gp")):
                ax = grid[row, col]
                chosen = [t for t in trials if t.dataset == dataset and t.loss == loss]
                if not chosen:
                    ax.set_axis_off()
                    continue
                _, critic = context.networks(chosen[0])
                with torch.no_grad():
                    values = critic(mesh).reshape(80, 80)
                ax.contourf(xs.numpy(), ys.numpy(), values.numpy(), levels=20, cmap="viridis")
                ax.scatter(real[:, 0].numpy(), real[:, 1].numpy(), s=1, c="orange", alpha=0.5)
                ax.set_title(f"{dataset}: {label(chosen[0])}", fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
        fig.suptitle("critic value surfaces (WGAN-GP Fig. 1a)", fontsize=9)
        fig.tight_layout()
        return fig

    def verdict(self, numbers: Mapping[str, float | None]) -> Verdict:
        big, small, gp = (numbers.get(f"spread[{k}]") for k in ("clip 0.1", "clip 0.001", "wgan-gp"))
        dead = bool(numbers.get("dead[clip 0.001]"))
        if big is None or gp is None or (small is None and not dead):
            return Verdict("not reproduced", "a run is missing or logged no gradients: spreads "
                           f"clip 0.1 {big}, clip 0.001 {small}, penalty {gp}")

        def shown(key: str) -> str:
            if numbers.get(f"dead[{key}]"):
                return f"no gradient (every layer < {DEAD:g})"
            value = numbers.get(f"spread[{key}]")
            return "-" if value is None else f"{value:+.2f}"

        reason = (f"spread log10(first layer / last layer): clip 0.1 {shown('clip 0.1')}, clip 0.01 "
                  f"{shown('clip 0.01')}, clip 0.001 {shown('clip 0.001')}, penalty {shown('wgan-gp')}")
        explodes, vanishes, level = big > 1, dead or (small is not None and small < -1), abs(gp) < 1
        return Verdict.graded(reason, reproduced=explodes and vanishes and level,
                              partly=level and (explodes or vanishes))


@hookimpl
def register_experiments(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ExperimentSpec(
        name="clipping", factory=Clipping,
        paper="Gulrajani et al. 2017, Improved Training of Wasserstein GANs, Figure 1",
        description="Per-layer critic gradient norms for clip 0.1 / 0.01 / 0.001 vs the penalty, and value "
                    "surfaces on toy data.",
        claim="With weight clipping a deep critic's gradients explode (c = 0.1) or vanish (c = 0.001) through the "
              "layers, and its value surface is too simple; the gradient penalty keeps gradient norms level "
              "across layers.",
        verdict_rule="spread = log10(median weight-gradient norm of the first critic layer / of the last), over "
                     "the second half of training on the Swiss roll: reproduced if clip 0.1 > +1 (explodes) AND "
                     f"clip 0.001 < -1 or no gradient at any layer (< {DEAD:g}: vanishes) AND |penalty| < 1 "
                     "(level); partly if the penalty is level and one clip value shows its pathology; not reproduced "
                     "otherwise.",
        budgets={"tiny": "Swiss roll, mlp 3 x 16, 4 steps (seconds)",
                 "small": "Swiss roll, mlp 6 x 64, 300 steps, 1 seed; surfaces on gaussians8 / gaussians25 "
                          "(mlp 3 x 64, 300 steps) (about 10 minutes)",
                 "paper": "Swiss roll, mlp 12 x 512, 5,000 steps, 3 seeds; surfaces likewise"}))
