"""Experiment ``distances``: the WGAN paper's parallel lines (Example 1).

P_0 = (0, Z) and P_theta = (theta, Z), Z ~ U[0, 1]. Exactly (closed forms, no training): W(P_0, P_theta) = |theta|,
JS = log 2, KL = +inf and TV = 1 for every theta != 0 (all 0 at theta = 0): only W is continuous in theta
(docs/science.md, "Distances"). Then, trained: for each theta a small critic (the registry's ``mlp`` critic) is
trained with the registry's ``wgan-gp`` critic objective, and a discriminator with ``minimax``'s, on samples of the
two lines; the generator's gradient with respect to theta is then autograd's d/dtheta of each loss's generator
objective at fakes (theta, z). The critic's gradient should stay near sign(theta) (pull theta to 0); the trained
discriminator's should vanish as it separates the lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from ganzoo_plugins.experiments.common import by_budget, figure

from ganzoo import Experiment, ExperimentSpec, Findings, Table, Verdict, get_registry, hookimpl

FAR = 0.25  # |theta| from which the trained gradients are judged (closer, the two lines overlap in a small net)


def exact(theta: float) -> dict[str, float]:
    """W, JS, KL and TV between P_0 and P_theta (natural logarithm)."""
    if theta == 0:
        return {"w": 0.0, "js": 0.0, "kl": 0.0, "tv": 0.0}
    return {"w": abs(theta), "js": math.log(2), "kl": math.inf, "tv": 1.0}


def lines(theta: float | torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    z = torch.rand(n, 1, generator=generator)
    x = theta * torch.ones(n, 1) if isinstance(theta, float) else theta.reshape(1, 1).expand(n, 1)
    return torch.cat([x, z], dim=1)


def trained_gradient(loss_name: str, theta: float, steps: int, seed: int) -> float:
    """d/dtheta of ``loss_name``'s generator objective after training its critic on P_0 vs P_theta."""
    registry = get_registry()
    torch.manual_seed(seed)
    _, critic = registry.arch("mlp").factory((2,), 2, hidden=64, layers=2)
    spec = registry.loss(loss_name)
    loss = spec.factory(**spec.options)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    rng = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        step = loss.critic_loss(critic, lines(0.0, 128, rng), lines(theta, 128, rng))
        optimizer.zero_grad(set_to_none=True)
        step.loss.backward()
        optimizer.step()
        loss.after_critic_step(critic)
    critic.requires_grad_(False)
    at = torch.tensor(theta, requires_grad=True)
    objective = loss.generator_loss(critic, lines(at, 1024, rng))
    (grad,) = torch.autograd.grad(objective, at)
    return float(grad)


class Distances(Experiment):
    def __init__(self, critic_loss: str = "wgan-gp", discriminator_loss: str = "minimax") -> None:
        self.critic_loss, self.discriminator_loss = critic_loss, discriminator_loss

    def analyse(self, context: Any) -> Findings:
        thetas = [round(float(t), 4) for t in torch.linspace(-1, 1, by_budget(context.budget, 5, 21, 41))]
        steps = by_budget(context.budget, 10, 300, 2000)
        rows, critic_g, disc_g = [], [], []
        for i, theta in enumerate(thetas):
            d = exact(theta)
            c = trained_gradient(self.critic_loss, theta, steps, seed=i)
            g = trained_gradient(self.discriminator_loss, theta, steps, seed=i)
            critic_g.append(c)
            disc_g.append(g)
            rows.append([theta, d["w"], d["js"], d["kl"], d["tv"], c, g])
        far = [i for i, t in enumerate(thetas) if abs(t) >= FAR]
        numbers: dict[str, float | None] = {
            "w_max_error": max(abs(exact(t)["w"] - abs(t)) for t in thetas),
            "js_min_off_zero": min(exact(t)["js"] for t in thetas if t != 0),
            "js_max_off_zero": max(exact(t)["js"] for t in thetas if t != 0),
            "kl_off_zero_infinite": float(all(math.isinf(exact(t)["kl"]) for t in thetas if t != 0)),
            "tv_off_zero": min(exact(t)["tv"] for t in thetas if t != 0),
            "critic_grad_min_far": min(abs(critic_g[i]) for i in far),
            "critic_sign_right_far": sum(critic_g[i] * thetas[i] > 0 for i in far) / len(far),
            "discriminator_grad_max_far": max(abs(disc_g[i]) for i in far),
            "critic_steps": float(steps),
        }
        numbers["discriminator_to_critic_far"] = (numbers["discriminator_grad_max_far"]  # type: ignore[operator]
                                                  / max(numbers["critic_grad_min_far"], 1e-12))  # type: ignore[arg-type]
        fig, (left, right) = figure(10, 3.6, 2)
        fine = [float(t) for t in torch.linspace(-1, 1, 401)]
        left.plot(fine, [abs(t) for t in fine], label="W = |theta|")
        left.plot(fine, [math.log(2) if t != 0 else 0.0 for t in fine], label="JS (log 2 off 0)")
        left.plot(fine, [1.0 if t != 0 else 0.0 for t in fine], "--", label="TV (1 off 0)")
        left.set_xlabel("theta")
        left.set_title("exact distances (KL = +inf off 0)")
        left.legend(fontsize=8)
        right.plot(thetas, critic_g, "o-", label=f"critic ({self.critic_loss})")
        right.plot(thetas, disc_g, "s-", label=f"discriminator ({self.discriminator_loss})")
        right.axhline(0, color="black", linewidth=0.5)
        right.set_xlabel("theta")
        right.set_ylabel("d generator loss / d theta")
        right.set_title(f"trained ({steps} critic steps per theta)")
        right.legend(fontsize=8)
        fig.tight_layout()
        table = Table("Distances and trained gradients against theta",
                      ["theta", "W", "JS", "KL", "TV", f"dG/dtheta {self.critic_loss}",
                       f"dG/dtheta {self.discriminator_loss}"], rows)
        notes = [f"Trained gradients: the registry's mlp critic (2 hidden layers of 64) trained {steps} steps per "
                 "theta with Adam lr 1e-3, betas (0.5, 0.9), batch 128 per line, then autograd's d/dtheta of the "
                 "generator objective at 1,024 fakes (theta, z). Exact values are closed forms."]
        return Findings(numbers, {"distances": fig}, [table], notes)

    def verdict(self, numbers: Mapping[str, float | None]) -> Verdict:
        exact_ok = (numbers["w_max_error"] == 0 and numbers["js_min_off_zero"] == numbers["js_max_off_zero"]
                    == math.log(2) and numbers["kl_off_zero_infinite"] == 1 and numbers["tv_off_zero"] == 1)
        critic_ok = numbers["critic_grad_min_far"] >= 0.5 and numbers["critic_sign_right_far"] == 1  # type: ignore
        disc_ok = numbers["discriminator_to_critic_far"] < 0.1  # type: ignore[operator]
        reason = (f"exact: W = |theta| (max error {numbers['w_max_error']}), JS = {numbers['js_min_off_zero']:.6f} "
                  f"= log 2, KL = inf, TV = 1 off 0 ({'as the paper' if exact_ok else 'NOT as the paper'}); "
                  f"trained at |theta| >= {FAR}: critic |grad| >= {numbers['critic_grad_min_far']:.3g} with the "
                  f"right sign in {numbers['critic_sign_right_far']:.0%} of thetas, discriminator |grad| <= "
                  f"{numbers['discriminator_grad_max_far']:.3g} ({numbers['discriminator_to_critic_far']:.3g} x the "
                  "critic's)")
        return Verdict.graded(reason, reproduced=exact_ok and critic_ok and disc_ok,
                              partly=exact_ok and (critic_ok or disc_ok))


@hookimpl
def register_experiments(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ExperimentSpec(
        name="distances", factory=Distances,
        options={"critic_loss": "wgan-gp", "discriminator_loss": "minimax"},
        paper="Arjovsky, Chintala, Bottou 2017, Wasserstein GAN, Example 1 and Figure 2",
        description="W, JS, KL, TV of the parallel lines against theta, and trained critics' gradients in theta.",
        claim="Between the parallel lines P_0 and P_theta only the Wasserstein distance is continuous in theta "
              "(W = |theta|; JS = log 2, KL = inf, TV = 1 for theta != 0), so a trained critic gives the generator "
              "a useful gradient while a trained discriminator's gradient vanishes.",
        verdict_rule="reproduced: the exact values are the paper's at every theta (W = |theta|, JS = log 2, KL = "
                     "inf, TV = 1 off 0) AND, at every |theta| >= 0.25, the trained critic's |d/dtheta| >= 0.5 "
                     "with the sign that moves theta to 0 AND the trained discriminator's largest |d/dtheta| < "
                     "0.1 x the critic's smallest; partly: the exact part and one of the two trained parts; "
                     "not reproduced: otherwise.",
        budgets={"tiny": "5 thetas, 10 critic steps each (seconds)",
                 "small": "21 thetas, 300 critic steps each (about a minute)",
                 "paper": "41 thetas, 2,000 critic steps each"}))
