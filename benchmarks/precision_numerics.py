"""What low precision does to a GAN loss's numbers: the measurements behind ganzoo's float32 boundary.

For a critic step, three ways of running it are compared with float32 on the same networks, batches and penalty
noise:

- ``ganzoo``: what ``--precision bf16`` does (ganzoo.runs.precision): the networks under autocast, their outputs
  cast to float32, so the loss (reductions, the penalty's gradient norms and square) is float32;
- ``autocast-all``: the whole loss under autocast, as ``with torch.autocast(...): loss = ...`` around the step
  gives (scores, reductions and the logged values in bf16);
- ``bf16-weights``: the networks converted to bf16 (``net.to(torch.bfloat16)``) and fed bf16 batches.

Printed per case: the critic loss's and the penalty's relative error, the per-sample gradient norms' largest
relative error, and the relative error (L2) and cosine of the critic's parameter gradient. Then weight clipping:
the share of one RMSprop step's updates (the WGAN paper's lr 5e-5) that are lost when the clipped critic's weights
are stored in bf16 rather than float32.

Cases: the known linear critic f(x) = w.x, whose penalty is exactly lambda (|w| - 1)^2, and the real dcgan
critic of ``dcgan + wgan-gp`` (layer norm, width 64) on Fashion-MNIST batches against an untrained generator.

Usage::

    python benchmarks/precision_numerics.py                 # bf16 on the CPU
    python benchmarks/precision_numerics.py --dtype fp16    # fp16 (CPU autocast too; numbers only, not speed)
    python benchmarks/precision_numerics.py --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.plugin.loading import get_registry
from ganzoo.runs.precision import DTYPES, Precision

LAMBDA = 10.0
BATCH = 64
SCHEMES = ("ganzoo", "autocast-all", "bf16-weights")


class Linear(nn.Module):
    def __init__(self, w: Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.w


def critic_step(loss: Any, critic: nn.Module, real: Tensor, fake: Tensor, seed: int) -> dict[str, Tensor]:
    critic.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # the same penalty interpolates
    step = loss.critic_loss(critic, real, fake)
    step.loss.backward()
    grads = torch.cat([p.grad.float().flatten() for p in critic.parameters()])
    # the per-sample norms, recomputed with the same eps
    torch.manual_seed(seed)
    penalised = loss.constraint.penalty(critic, real, fake)
    norms = penalised[1].detach().float() if penalised is not None else torch.zeros(1)
    return {"loss": step.loss.detach().float(), "penalty": (step.penalty if step.penalty is not None
                                                            else torch.zeros(())).float(),
            "norms": norms, "grads": grads}


def run_scheme(scheme: str, loss: Any, critic: nn.Module, real: Tensor, fake: Tensor, dtype: torch.dtype,
               device: torch.device, seed: int) -> dict[str, Tensor]:
    if scheme == "fp32":
        return critic_step(loss, critic, real, fake, seed)
    if scheme == "ganzoo":
        name = next(k for k, v in DTYPES.items() if v == dtype)
        wrapped = Precision(name, device).wrap(critic, "critic")
        return critic_step(loss, wrapped, real, fake, seed)
    if scheme == "autocast-all":
        with torch.autocast(device.type, dtype=dtype):
            return critic_step(loss, critic, real, fake, seed)
    low = _copy(critic).to(dtype)
    return critic_step(loss, low, real.to(dtype), fake.to(dtype), seed)


def _copy(module: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(module)


def relative(a: Tensor, b: Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def compare(reference: dict[str, Tensor], other: dict[str, Tensor]) -> dict[str, float]:
    ref_norms, norms = reference["norms"], other["norms"]
    return {
        "loss_rel": relative(other["loss"], reference["loss"]),
        "penalty_rel": relative(other["penalty"], reference["penalty"]),
        "norms_max_rel": float(((norms - ref_norms).abs() / ref_norms.abs().clamp_min(1e-30)).max()),
        "grads_rel": relative(other["grads"], reference["grads"]),
        "grads_cos": float(torch.nn.functional.cosine_similarity(other["grads"], reference["grads"], dim=0)),
    }


def cases(device: torch.device) -> list[tuple[str, Any, nn.Module, Tensor, Tensor]]:
    registry = get_registry()
    wgan_gp = registry.loss("wgan-gp").factory(**{"lambda": LAMBDA})
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    w = torch.randn(784, generator=gen) * 0.1
    linear = Linear(w).to(device)
    real_lin = (torch.rand(BATCH, 1, 28, 28, generator=gen) * 2 - 1).to(device)
    fake_lin = (torch.rand(BATCH, 1, 28, 28, generator=gen) * 2 - 1).to(device)
    torch.manual_seed(0)
    spec = registry.arch("dcgan")
    generator, critic = spec.factory((1, 28, 28), spec.latent_dim, **{**spec.options, "critic_norm": "layer"})
    generator, critic = generator.to(device), critic.to(device)
    data = registry.dataset("fashion-mnist").factory().to(device)
    real = data.batch(BATCH, torch.Generator(device=device).manual_seed(1))
    with torch.no_grad():
        fake = generator(torch.randn(BATCH, spec.latent_dim, device=device))
    wgan = registry.loss("wgan").factory()
    ns = registry.loss("non-saturating").factory()
    return [("linear critic + wgan-gp (known: lambda (|w| - 1)^2)", wgan_gp, linear, real_lin, fake_lin),
            ("dcgan critic + wgan-gp", wgan_gp, critic, real, fake),
            ("dcgan critic + wgan", wgan, critic, real, fake),
            ("dcgan critic + non-saturating", ns, critic, real, fake)]


def clipping_loss(dtype: torch.dtype, device: torch.device) -> dict[str, float]:
    """One RMSprop step (lr 5e-5) of a critic whose weights were clipped to [-0.01, 0.01] (after a few steps most
    sit in the upper half of that range): the share of its updates that are lost, and the median error of an
    update, when the weights are stored in ``dtype`` (vs float32 master weights)."""
    torch.manual_seed(0)
    w = torch.sign(torch.randn(100_000, device=device)) * (0.005 + 0.005 * torch.rand(100_000, device=device))
    grad = torch.randn(100_000, device=device)
    step = 5e-5 * grad / (grad.abs() + 1e-8)  # RMSprop's first step: lr * g / sqrt(g^2) (alpha folded in)
    exact = w + step
    stored = (w.to(dtype) + step.to(dtype)).float()
    lost = (stored == w.to(dtype).float()).float().mean()
    error = ((stored - exact).abs() / step.abs()).median()
    return {"updates_lost_share": float(lost), "median_update_error_rel": float(error)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=5, help="penalty noises per case (default 5); worst is shown")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    rows = []
    for name, loss, critic, real, fake in cases(device):
        worst: dict[str, dict[str, float]] = {}
        for seed in range(args.seeds):
            reference = run_scheme("fp32", loss, critic, real, fake, dtype, device, seed)
            for scheme in SCHEMES:
                found = compare(reference, run_scheme(scheme, loss, critic, real, fake, dtype, device, seed))
                mine = worst.setdefault(scheme, {})
                for key, value in found.items():
                    pick: Callable[[float, float], float] = min if key == "grads_cos" else max
                    mine[key] = pick(mine.get(key, value), value)
        for scheme in SCHEMES:
            rows.append({"case": name, "scheme": scheme, **worst[scheme]})
    clip = clipping_loss(dtype, device)
    if args.json:
        print(json.dumps({"dtype": args.dtype, "device": args.device, "rows": rows, "clipping": clip}, indent=1))
        return 0
    print(f"# {args.dtype} vs float32 on {args.device}, torch {torch.__version__}, worst of {args.seeds} penalty "
          "noises")
    print("| case | scheme | loss rel. err | penalty rel. err | grad norms max rel. err | param grad rel. err "
          "| param grad cosine |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['scheme']} | {r['loss_rel']:.1e} | {r['penalty_rel']:.1e} | "
              f"{r['norms_max_rel']:.1e} | {r['grads_rel']:.1e} | {r['grads_cos']:.5f} |")
    print(f"\nweight clipping, weights in {args.dtype}: {100 * clip['updates_lost_share']:.0f} % of one RMSprop step's "
          f"updates (lr 5e-5, |weights| in [0.005, 0.01]) lost; median update error "
          f"{100 * clip['median_update_error_rel']:.0f} % of the update")
    return 0


if __name__ == "__main__":
    sys.exit(main())
