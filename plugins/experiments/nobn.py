"""Experiment ``no-batch-norm``: WGAN still trains with the paper's generator without batch norm; the standard GAN
degrades (Arjovsky et al. 2017, Figures 6-7; docs/science.md, "Comparisons that are fair").

Each loss trains the DCGAN pair (``dcgan``) and the same pair without batch norm in the generator (``dcgan-nobn``)
on the same data with the same seeds; the final samples are scored by FID in a classifier's feature space
(FID[fashion-cnn] on Fashion-MNIST; FID[digits-cnn] on the small digits set the tiny budget uses), and compared
over seeds with ``ganzoo compare``. ``ratio`` = FID without batch norm / FID with it (1: no harm).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganzoo_plugins.experiments.common import by_budget, figure

from ganzoo import Experiment, ExperimentSpec, Findings, Table, Verdict, hookimpl

LOSSES = ("minimax", "non-saturating", "wgan", "wgan-gp")
ARCHS = ("dcgan", "dcgan-nobn")
SURVIVES, DEGRADES = 1.25, 1.5


class NoBatchNorm(Experiment):
    def sweeps(self, budget: str) -> list[dict[str, Any]]:
        return [{"name": "no-batch-norm", "loss": ["minimax", "wgan"] if budget == "tiny" else list(LOSSES),
                 "arch": list(ARCHS),
                 "dataset": by_budget(budget, "digits", "fashion-mnist", "fashion-mnist"),
                 "seeds": by_budget(budget, [0], "0-1", "0-2"), "steps": by_budget(budget, 2, 1500, 20000),
                 "metrics": ["fid"], "set": by_budget(budget, {"width": 8, "batch_size": 16}, {"width": 32}, {})}]

    def evaluation(self, budget: str) -> Mapping[str, Any]:
        return by_budget(budget, {"n": 128}, {"n": 5000}, {"n": 10000})

    def analyse(self, context: Any) -> Findings:
        comparison = context.compare(list(context.trials), "fid", "compare-fid")
        label = comparison.metric.label
        means = {(r.arch, r.loss): r.summary.mean if r.summary else None for r in comparison.rows()}
        numbers: dict[str, float | None] = {}
        rows = []
        for loss in LOSSES:
            bn, nobn = means.get(("dcgan", loss)), means.get(("dcgan-nobn", loss))
            ratio = nobn / bn if bn and nobn is not None else None
            numbers[f"fid[{loss}][dcgan]"], numbers[f"fid[{loss}][dcgan-nobn]"] = bn, nobn
            numbers[f"ratio[{loss}]"] = ratio
            rows.append([loss, bn, nobn, ratio])
        fig, (ax,) = figure(6, 3.6)
        width = 0.38
        for j, arch in enumerate(ARCHS):
            ax.bar([i + (j - 0.5) * width for i in range(len(LOSSES))],
                   [means.get((arch, loss)) or 0 for loss in LOSSES], width, label=arch)
        ax.set_xticks(range(len(LOSSES)), LOSSES, fontsize=8)
        ax.set_ylabel(f"{label} (lower is better)")
        ax.set_title("with and without batch norm in the generator")
        ax.legend(fontsize=8)
        fig.tight_layout()
        table = Table(f"{label} with (dcgan) and without (dcgan-nobn) batch norm, mean over seeds",
                      ["loss", "dcgan", "dcgan-nobn", "ratio no-BN / BN"], rows)
        return Findings(numbers, {"no_batch_norm": fig}, [table],
                        ["dcgan-nobn is the WGAN paper's no-batch-norm generator with the DCGAN critic (the "
                         "authors' --noBN); wgan-gp swaps the critic's batch norm for layer norm in both "
                         "architectures, as its paper prescribes."])

    def verdict(self, numbers: Mapping[str, float | None]) -> Verdict:
        wgan = numbers["ratio[wgan]"]
        gans = [r for r in (numbers["ratio[minimax]"], numbers["ratio[non-saturating]"]) if r is not None]
        if wgan is None or not gans:
            return Verdict("not reproduced", "wgan or the standard GAN has no finished pair of trials")
        survives, degrades = wgan <= SURVIVES, min(gans) >= DEGRADES
        reason = (f"FID without / with batch norm: wgan {wgan:.3g}, standard GAN {min(gans):.3g} (the better of "
                  "minimax and non-saturating)")
        return Verdict.graded(reason, reproduced=survives and degrades, partly=survives or degrades)


@hookimpl
def register_experiments(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ExperimentSpec(
        name="no-batch-norm", factory=NoBatchNorm,
        paper="Arjovsky, Chintala, Bottou 2017, Wasserstein GAN, Figures 6 and 7",
        description="Each loss with the DCGAN generator with and without batch norm: FID[fashion-cnn] over seeds.",
        claim="Without batch norm in the generator WGAN still produces good samples while the standard GAN fails.",
        verdict_rule=f"ratio = mean FID without batch norm / with it: reproduced if wgan's ratio <= {SURVIVES} "
                     f"AND the standard GAN's (the better of minimax and non-saturating) >= {DEGRADES}; partly if "
                     "one of the two; not reproduced otherwise.",
        budgets={"tiny": "minimax and wgan on the small digits set, width 8, 2 steps, 1 seed, FID on 128 samples "
                         "(seconds)",
                 "small": "Fashion-MNIST, width 32, 1,500 steps, 2 seeds, FID[fashion-cnn] on 5,000",
                 "paper": "Fashion-MNIST, width 64, 20,000 steps, 3 seeds, FID[fashion-cnn] on 10,000"}))
