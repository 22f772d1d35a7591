"""Experiment ``one-sided``: the one-sided penalty max(0, |grad f| - 1)^2 (``wgan-lp``; Petzka et al. 2018; the
WGAN-GP paper's appendix) behaves like the two-sided (|grad f| - 1)^2 (``wgan-gp``).

Both losses train the same networks with the same seeds; the final samples are scored (exact W1, modes, % high
quality on the toy data; FID[fashion-cnn] on Fashion-MNIST at the paper budget) and compared over seeds with
``ganzoo compare`` (Student-t intervals, Welch's test, Holm-corrected).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganzoo_plugins.experiments.common import by_budget, color, figure

from ganzoo import Experiment, ExperimentSpec, Findings, Table, Verdict, hookimpl

LOSSES = ("wgan-gp", "wgan-lp")
GAP = 0.25  # relative gap of the means still called "alike"
#: (data set, result key) compared at each budget
COMPARED = {"tiny": [("gaussians8", "w1")], "small": [("gaussians8", "w1"), ("gaussians8", "modes"),
                                                      ("gaussians25", "w1"), ("gaussians25", "modes")],
            "paper": [("gaussians8", "w1"), ("gaussians25", "w1"), ("fashion-mnist", "fid")]}


def p_value(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


class OneSided(Experiment):
    def sweeps(self, budget: str) -> list[dict[str, Any]]:
        toy = {"name": "one-sided", "loss": list(LOSSES), "arch": "mlp",
               "dataset": by_budget(budget, ["gaussians8"], ["gaussians8", "gaussians25"],
                                    ["gaussians8", "gaussians25"]),
               "seeds": by_budget(budget, "0-1", "0-2", "0-4"), "steps": by_budget(budget, 3, 800, 20000),
               "metrics": ["w1", "modes"],
               "set": by_budget(budget, {"hidden": 16, "layers": 2}, {"hidden": 128, "layers": 3}, {})}
        if budget != "paper":
            return [toy]
        images = {"name": "one-sided-images", "loss": list(LOSSES), "arch": "dcgan", "dataset": "fashion-mnist",
                  "seeds": "0-2", "steps": 20000, "metrics": ["fid"]}
        return [toy, images]

    def evaluation(self, budget: str) -> Mapping[str, Any]:
        return {"n": 256} if budget == "tiny" else {}

    def analyse(self, context: Any) -> Findings:
        numbers: dict[str, float | None] = {}
        rows = []
        compared = COMPARED[context.budget]
        fig, axes = figure(3.2 * len(compared), 3.4, len(compared))
        for ax, (dataset, key) in zip(axes, compared, strict=True):
            trials = [t for t in context.trials if t.dataset == dataset]
            comparison = context.compare(trials, key, f"compare-{dataset}-{key}")
            (table,) = comparison.tables
            means = {r.loss: r.summary.mean if r.summary else None for r in table.rows}
            (pair,) = table.pairs
            a, b = means.get(LOSSES[0]), means.get(LOSSES[1])
            gap = abs(a - b) / max(abs(a), abs(b), 1e-12) if a is not None and b is not None else None
            tag = f"{dataset}/{key}"
            numbers[f"mean[{tag}][{LOSSES[0]}]"], numbers[f"mean[{tag}][{LOSSES[1]}]"] = a, b
            numbers[f"p_holm[{tag}]"] = pair.p_holm
            numbers[f"different[{tag}]"] = float(pair.different)
            numbers[f"relative_gap[{tag}]"] = gap
            for r in table.rows:
                s = r.summary
                rows.append([dataset, key, r.loss, s.n if s else 0, s.mean if s else None, s.std if s else None,
                             None if s is None or s.ci_low is None else f"[{s.ci_low:.4g}, {s.ci_high:.4g}]",
                             pair.p_holm])
            for i, loss in enumerate(LOSSES):
                values = [t.value for t in comparison.trials if t.outcome.loss == loss and t.value is not None]
                ax.scatter([i] * len(values), values, color=color(loss), alpha=0.7)
                if values:
                    ax.hlines(sum(values) / len(values), i - 0.2, i + 0.2, color=color(loss))
            ax.set_xticks(range(len(LOSSES)), LOSSES)
            ax.set_title(f"{dataset}: {key} ({'lower' if not comparison.metric.higher_is_better else 'higher'} "
                         "is better)", fontsize=8)
        fig.tight_layout()
        table = Table("One-sided vs two-sided penalty over seeds (Welch's test, Holm-corrected)",
                      ["data", "metric", "loss", "seeds", "mean", "std", "95 % interval", "p (Holm)"], rows)
        return Findings(numbers, {"one_sided": fig}, [table],
                        ["Each loss keeps its own paper defaults (Adam 1e-4, betas (0, 0.9), lambda 10, n_critic 5) "
                         "except what the toy data sets recommend (lr 1e-3, batch 256); the full comparison "
                         "reports are in the compare-* folders."])

    def verdict(self, numbers: Mapping[str, float | None]) -> Verdict:
        tags = sorted({k[k.index("[") + 1:k.index("]")] for k in numbers if k.startswith("different[")})
        alike = [t for t in tags if numbers[f"different[{t}]"] == 0 and (numbers[f"relative_gap[{t}]"] or 0) < GAP]
        differ = [t for t in tags if numbers[f"different[{t}]"] == 1 and (numbers[f"relative_gap[{t}]"] or 0) >= GAP]
        reason = "; ".join(f"{t}: wgan-gp {numbers[f'mean[{t}][wgan-gp]'] or float('nan'):.4g} vs wgan-lp "
                           f"{numbers[f'mean[{t}][wgan-lp]'] or float('nan'):.4g} (gap "
                           f"{(numbers[f'relative_gap[{t}]'] or 0):.0%}, Holm p {p_value(numbers[f'p_holm[{t}]'])})"
                           for t in tags)
        if tags and len(alike) == len(tags):
            return Verdict("reproduced", f"alike on every comparison: {reason}")
        if differ and len(differ) == len(tags):
            return Verdict("not reproduced", f"different on every comparison: {reason}")
        return Verdict("partly", f"alike on {len(alike)} of {len(tags)} comparisons: {reason}")


@hookimpl
def register_experiments(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ExperimentSpec(
        name="one-sided", factory=OneSided,
        paper="Gulrajani et al. 2017 (appendix); Petzka, Fischer, Lukovnikov 2018, On the regularization of "
              "Wasserstein GANs",
        description="One-sided (wgan-lp) vs two-sided (wgan-gp) gradient penalty over seeds, toy and image data.",
        claim="The one-sided penalty max(0, |grad f| - 1)^2 trains as well as the two-sided (|grad f| - 1)^2.",
        verdict_rule=f"for each compared data set and metric: 'alike' if Welch's test (Holm-corrected) finds no "
                     f"difference at 0.05 AND the means differ by < {GAP:.0%}; 'different' if the test finds one "
                     f"AND the means differ by >= {GAP:.0%}. Reproduced if alike on every comparison; not "
                     "reproduced if different on every comparison; partly otherwise.",
        budgets={"tiny": "gaussians8, mlp 2 x 16, 3 steps, 2 seeds (seconds)",
                 "small": "gaussians8 and gaussians25, mlp 3 x 128, 800 steps, 3 seeds (about 25 minutes)",
                 "paper": "toy data with mlp 4 x 512 for 20,000 steps, 5 seeds; Fashion-MNIST with dcgan, "
                          "20,000 steps, 3 seeds, FID[fashion-cnn]"}))
