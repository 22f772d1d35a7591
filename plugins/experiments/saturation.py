"""Experiment ``saturation``: the minimax generator's gradient vanishes when the discriminator wins, the
non-saturating one's does not (Goodfellow et al. 2014, section 3; docs/science.md, "The five losses").

Both losses train the same networks on the same data with the same seeds, logging at every step (``--set
log_layer_grads=true``) the generator's total gradient norm and D(G(z)), the mean sigmoid of the discriminator's
logits on the generator's batch. At the logit, the minimax generator gradient is -D(G(z)) and the non-saturating
one -(1 - D(G(z))): where D(G(z)) < 0.25 their ratio is at least 3, and it grows as D(G(z)) -> 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ganzoo_plugins.experiments.common import by_budget, color, figure, median

from ganzoo import Experiment, ExperimentSpec, Findings, Table, Verdict, hookimpl

CONFIDENT = 0.25  # D(G(z)) below this: the discriminator is winning
ENOUGH = 5  # records needed per loss with D(G(z)) below CONFIDENT
LOSSES = ("minimax", "non-saturating")


class Saturation(Experiment):
    def sweeps(self, budget: str) -> list[dict[str, Any]]:
        toy = {"name": "saturation", "loss": list(LOSSES), "arch": "mlp", "dataset": "gaussians8",
               "seeds": by_budget(budget, [0], "0-2", "0-4"), "steps": by_budget(budget, 6, 400, 2000),
               "metrics": ["w1"],
               "set": {"log_layer_grads": True, **by_budget(budget, {"hidden": 16, "layers": 2},
                                                               {"hidden": 128, "layers": 3}, {})}}
        if budget != "paper":
            return [toy]
        images = {"name": "saturation-images", "loss": list(LOSSES), "arch": "dcgan", "dataset": "fashion-mnist",
                  "seeds": "0-2", "steps": 2000, "metrics": ["fid"], "set": {"log_layer_grads": True}}
        return [toy, images]

    def evaluation(self, budget: str) -> Mapping[str, Any]:
        return {"n": 64} if budget == "tiny" else {}

    def analyse(self, context: Any) -> Findings:
        points: dict[str, list[tuple[float, float]]] = {loss: [] for loss in LOSSES}
        for trial in context.trials:
            for r in context.records(trial):
                if r.get("d_fake") is not None and r.get("grad_norm/generator") is not None:
                    points[trial.loss].append((r["d_fake"], r["grad_norm/generator"]))
        numbers: dict[str, float | None] = {}
        rows = []
        for loss in LOSSES:
            confident = [g for d, g in points[loss] if d < CONFIDENT]
            numbers[f"{loss}_records"] = float(len(points[loss]))
            numbers[f"{loss}_confident_records"] = float(len(confident))
            numbers[f"{loss}_median_grad_confident"] = median(confident)
            numbers[f"{loss}_min_d_fake"] = min((d for d, _ in points[loss]), default=None)
            rows.append([loss, len(points[loss]), len(confident), numbers[f"{loss}_min_d_fake"],
                         median(confident), median(g for d, g in points[loss] if d >= CONFIDENT)])
        m, n = numbers["minimax_median_grad_confident"], numbers["non-saturating_median_grad_confident"]
        numbers["ratio_ns_to_minimax"] = n / m if m and n else None
        fig, (ax,) = figure(6, 4.2)
        for loss in LOSSES:
            if points[loss]:
                xs, ys = zip(*points[loss], strict=True)
                ax.scatter(xs, ys, s=6, alpha=0.5, color=color(loss), label=loss)
        ax.axvline(CONFIDENT, color="black", linewidth=0.5, linestyle="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("D(G(z)) (mean over the generator's batch)")
        ax.set_ylabel("generator gradient norm")
        ax.set_title("early training: the minimax generator saturates")
        ax.legend(fontsize=8)
        fig.tight_layout()
        table = Table(f"Generator gradient norm (median) with the discriminator winning (D(G(z)) < {CONFIDENT})",
                      ["loss", "steps logged", f"steps with D(G(z)) < {CONFIDENT}", "lowest D(G(z))",
                       "median grad norm there", "median grad norm elsewhere"], rows)
        return Findings(numbers, {"saturation": fig}, [table],
                        ["D(G(z)) and the gradient norm are logged at every generator step by `--set "
                         "log_layer_grads=true` (the mean sigmoid of the discriminator's logits on the "
                         "generator's batch, and the L2 norm of all generator parameter gradients)."])

    def verdict(self, numbers: Mapping[str, float | None]) -> Verdict:
        counts = [numbers[f"{loss}_confident_records"] or 0 for loss in LOSSES]
        ratio = numbers["ratio_ns_to_minimax"]
        if min(counts) < ENOUGH or ratio is None or not math.isfinite(ratio):
            return Verdict("not reproduced", f"too few steps with D(G(z)) < {CONFIDENT} to compare (minimax "
                           f"{counts[0]:.0f}, non-saturating {counts[1]:.0f}; {ENOUGH} needed): the discriminator "
                           "did not win early at this budget")
        reason = (f"with D(G(z)) < {CONFIDENT} the median generator gradient norm is "
                  f"{numbers['non-saturating_median_grad_confident']:.3g} (non-saturating) vs "
                  f"{numbers['minimax_median_grad_confident']:.3g} (minimax): ratio {ratio:.3g} over "
                  f"{counts[1]:.0f} and {counts[0]:.0f} steps")
        return Verdict.graded(reason, reproduced=ratio >= 3, partly=ratio > 1)


@hookimpl
def register_experiments(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ExperimentSpec(
        name="saturation", factory=Saturation,
        paper="Goodfellow et al. 2014, Generative Adversarial Nets, section 3",
        description="Generator gradient norm against D(G(z)) early in training, minimax vs non-saturating.",
        claim="Early in training the discriminator rejects the generator's samples with high confidence; then "
              "the minimax generator objective log(1 - D(G(z))) saturates (its gradient vanishes) while the "
              "non-saturating -log D(G(z)) keeps a strong gradient.",
        verdict_rule=f"over the steps with D(G(z)) < {CONFIDENT} (at least {ENOUGH} per loss): reproduced if the "
                     "non-saturating generator's median gradient norm is >= 3 x the minimax one's (the ratio "
                     "(1 - D) / D at D = 0.25); partly if it is larger but < 3 x; not reproduced if it is not "
                     "larger, or if the discriminator never won early enough to tell.",
        budgets={"tiny": "gaussians8, mlp 2 x 16, 6 steps, 1 seed (seconds)",
                 "small": "gaussians8, mlp 3 x 128, 400 steps, 3 seeds (a few minutes)",
                 "paper": "gaussians8 (mlp 4 x 512) and Fashion-MNIST (dcgan), 2,000 steps, 5 / 3 seeds"}))
