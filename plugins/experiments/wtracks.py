"""Experiment ``w-tracks``: the critic's Wasserstein estimate tracks sample quality; a GAN discriminator's loss
does not (Arjovsky et al. 2017, Figures 3-4).

Every loss trains with ``--eval-every K``: on toy data the metric is the exact W1 (POT's linear program) between
generated and real samples; on Fashion-MNIST (paper budget) FID[fashion-cnn]. For each trial the loss curve is
averaged over the steps between two evaluations and compared with the quality by Spearman's rank correlation:
the W estimate -(critic loss without penalty) for wgan / wgan-gp, and -(discriminator loss) for minimax /
non-saturating (2 log 2 - 2 JS at the optimal discriminator: the GAN's estimate of its divergence). Both should
fall as quality improves, so a tracking estimate correlates positively with W1 or FID.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganzoo_plugins.experiments.common import by_budget, color, grid, median, spearman

from ganzoo import Experiment, ExperimentSpec, Findings, Table, Verdict, hookimpl

WASSERSTEIN = ("wgan", "wgan-gp")
GANS = ("minimax", "non-saturating")


def curve(records: list[dict[str, Any]], loss: str) -> tuple[list[int], list[float], list[float], str]:
    """(evaluation steps, the loss's estimate averaged since the previous evaluation, quality, quality key)."""
    keys = sorted({k for r in records for k in r if k.startswith("eval/")})
    if not keys:
        return [], [], [], ""
    key = keys[0]
    steps, estimates, quality = [], [], []
    window: list[float] = []
    for r in records:
        value = r.get("w_estimate") if loss in WASSERSTEIN else (
            None if r.get("critic_loss") is None else -r["critic_loss"])
        if value is not None:
            window.append(value)
        if r.get(key) is not None and window:
            steps.append(r["step"])
            estimates.append(sum(window) / len(window))
            quality.append(r[key])
            window = []
    return steps, estimates, quality, key


class WTracks(Experiment):
    def sweeps(self, budget: str) -> list[dict[str, Any]]:
        toy = {"name": "w-tracks", "loss": [*WASSERSTEIN, *GANS], "arch": "mlp", "dataset": "gaussians8",
               "seeds": by_budget(budget, [0], "0-1", "0-2"), "steps": by_budget(budget, 6, 1200, 10000),
               "metrics": ["w1"],
               "set": {"eval_every": by_budget(budget, 2, 100, 250), "eval_n": by_budget(budget, 128, 1000, 2500),
                       **by_budget(budget, {"hidden": 16, "layers": 2}, {"hidden": 128, "layers": 3}, {})}}
        if budget != "paper":
            return [toy]
        images = {"name": "w-tracks-images", "loss": [*WASSERSTEIN, *GANS], "arch": "dcgan",
                  "dataset": "fashion-mnist", "seeds": "0-2", "steps": 20000, "metrics": ["fid"],
                  "set": {"eval_every": 1000, "eval_metric": "fid", "eval_n": 2000}}
        return [toy, images]

    def evaluation(self, budget: str) -> Mapping[str, Any]:
        return {"n": 64} if budget == "tiny" else {}

    def analyse(self, context: Any) -> Findings:
        numbers: dict[str, float | None] = {}
        rows = []
        datasets = sorted({t.dataset for t in context.trials})
        losses = [loss for loss in (*WASSERSTEIN, *GANS) if any(t.loss == loss for t in context.trials)]
        shown_seed = min(t.seed for t in context.trials)
        # one panel per data set and loss: the estimates' scales differ by orders of magnitude (clipping's W
        # estimate is ~1e-3, the penalty's ~1), so a shared axis would flatten some of them
        fig, axes = grid(3.2 * len(losses), 2.8 * len(datasets), len(datasets), len(losses))
        rhos: dict[str, list[float]] = {"wasserstein": [], "gan": []}
        for row_axes, dataset in zip(axes, datasets, strict=True):
            for ax, loss in zip(row_axes, losses, strict=True):
                twin = ax.twinx()
                for trial in (t for t in context.trials if t.dataset == dataset and t.loss == loss):
                    steps, estimates, quality, key = curve(context.records(trial), trial.loss)
                    rho = spearman(estimates, quality)
                    numbers[f"spearman[{trial.trial_id}]"] = rho
                    if rho is not None:
                        rhos["wasserstein" if trial.loss in WASSERSTEIN else "gan"].append(rho)
                    rows.append([dataset, trial.loss, trial.seed, len(steps), key.removeprefix("eval/"), rho])
                    if trial.seed == shown_seed:
                        ax.plot(steps, estimates, color=color(loss))
                        twin.plot(steps, quality, "--", color="black", linewidth=0.8)
                        ax.set_title(f"{dataset}, {loss} (seed {shown_seed}): rho "
                                     f"{'-' if rho is None else f'{rho:+.2f}'}", fontsize=8)
                ax.set_xlabel("generator step", fontsize=8)
                ax.set_ylabel("W estimate" if loss in WASSERSTEIN else "-(discriminator loss)", fontsize=8,
                              color=color(loss))
                twin.set_ylabel("quality (dashed; lower is better)", fontsize=7)
                ax.tick_params(labelsize=7)
                twin.tick_params(labelsize=7)
        fig.tight_layout()
        numbers["median_spearman_wasserstein"] = median(rhos["wasserstein"])
        numbers["median_spearman_gan"] = median(rhos["gan"])
        table = Table("Spearman correlation of each loss's estimate with sample quality over training",
                      ["data", "loss", "seed", "evaluations", "quality", "Spearman rho"], rows)
        return Findings(numbers, {"w_tracks": fig}, [table],
                        ["Estimates are averaged over the generator steps since the previous evaluation; the "
                         "untrained baseline (step 0) has no loss values and is left out."])

    def verdict(self, numbers: Mapping[str, float | None]) -> Verdict:
        w, g = numbers["median_spearman_wasserstein"], numbers["median_spearman_gan"]
        if w is None:
            return Verdict("not reproduced", "too few evaluations for a rank correlation (at least 3 per trial)")
        reason = (f"median Spearman rho with quality: W estimate {w:+.2f} (wgan, wgan-gp), GAN discriminator "
                  f"{'-' if g is None else f'{g:+.2f}'} (minimax, non-saturating)")
        gap_ok = g is None or w - g >= 0.3
        return Verdict.graded(reason, reproduced=w >= 0.7 and gap_ok, partly=w >= 0.5 or (w > 0 and gap_ok))


@hookimpl
def register_experiments(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ExperimentSpec(
        name="w-tracks", factory=WTracks,
        paper="Arjovsky, Chintala, Bottou 2017, Wasserstein GAN, Figures 3 and 4",
        description="The critic's W estimate vs exact W1 (toy) or FID[fashion-cnn] (images) over training, "
                    "against the GAN discriminator's loss (Spearman).",
        claim="The WGAN critic's estimate of W correlates with sample quality during training, while the GAN "
              "discriminator's loss (its JS estimate) does not.",
        verdict_rule="Spearman rho between each trial's estimate (averaged between evaluations) and its quality "
                     "(exact W1 or FID), median over trials: reproduced if the Wasserstein losses' median rho >= 0.7 "
                     "AND exceeds the GAN losses' median by >= 0.3; partly if it is >= 0.5, or positive and 0.3 "
                     "above the GANs'; not reproduced otherwise.",
        budgets={"tiny": "gaussians8, mlp 2 x 16, 6 steps evaluated every 2, 1 seed (seconds)",
                 "small": "gaussians8, mlp 3 x 128, 1,200 steps evaluated every 100 (exact W1 on 1,000), 2 seeds",
                 "paper": "gaussians8 (mlp 4 x 512, 10,000 steps) and Fashion-MNIST (dcgan, 20,000 steps, "
                          "FID[fashion-cnn] every 1,000), 3 seeds"}))
