"""Built-in toy-data metrics: mode coverage (the standard protocol) and the exact Wasserstein-1 distance.

| name | data | values (headline first) | better |
|---|---|---|---|
| modes | points with known modes | modes, hq_percent, reverse_kl | higher modes |
| w1 | points | w1 | lower |

Mode coverage follows the protocol of VEEGAN / PacGAN / GDPP (SCIENCE.md, "Toy-data metrics"): a sample is
high quality (HQ) if it lies within ``sigmas`` (3) standard deviations of its nearest mode centre, and a mode
is captured if at least one HQ sample is nearest to it. Evaluate on 2,500 samples, as the papers do, to
compare with them.

W1 is exact, not a critic's estimate: for two equal-weight sample sets it is a linear program (optimal
transport), which POT's network simplex ``ot.emd2`` solves exactly in about a second for 2,500 x 2,500 points.
It is the distance the Wasserstein losses approximate, so it checks their training curves independently.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor

from ganzoo import hookimpl
from ganzoo.data import POINTS, RealData
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.metric import Metric
from ganzoo.specs import MetricSpec

VEEGAN = "Srivastava et al. 2017, VEEGAN (arXiv:1705.07761); Lin et al. 2018, PacGAN (arXiv:1712.04086)"
POT = "Flamary et al. 2021, POT: Python Optimal Transport (JMLR 22(78)); exact EMD by network simplex"
#: Network-simplex iteration cap: far above what 2,500 x 2,500 needs, so the LP is solved to optimality.
EMD_MAX_ITERATIONS = 10_000_000


def _as_float64(samples: Tensor | np.ndarray, what: str) -> Tensor:
    """[N, ...] samples as a float64 CPU tensor [N, D] (float64: exact W1 is checked to 1e-6)."""
    x = torch.as_tensor(samples).detach().to("cpu", torch.float64)
    if x.dim() == 1:
        x = x.unsqueeze(1)
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty [N, D] set of points, got shape {tuple(x.shape)}")
    return x.flatten(1)


def mode_statistics(samples: Tensor | np.ndarray, centres: Tensor | np.ndarray, std: float,
                    sigmas: float = 3.0) -> dict[str, float]:
    """Mode coverage of ``samples`` [N, D] for a mixture with mode ``centres`` [K, D] and per-mode ``std``.

    Returns
    - ``modes``: how many modes are captured, i.e. are the nearest centre of at least one HQ sample, where a
      sample is HQ if its Euclidean distance to its nearest centre is <= ``sigmas * std``;
    - ``hq_percent``: 100 x the fraction of HQ samples (true samples of a 2-D mixture score
      100 (1 - exp(-sigmas^2 / 2)), i.e. 98.9 % at 3 sigma);
    - ``reverse_kl``: KL(p || u) = sum_k p_k log(K p_k), where p is the histogram of the HQ samples over their
      nearest modes (normalised over the HQ samples only) and u is uniform over the K modes (the true mixture
      weights them equally). It is 0 when the HQ samples spread evenly over all modes and log K when they all
      sit on one mode; it ignores how MANY samples are HQ (that is ``hq_percent``). With no HQ sample at all p
      is undefined: the value is then reported as log K, its upper bound, so curves and JSON stay finite. The
      name follows PacGAN / GDPP, who call KL(generated || true) the "reverse KL".
    """
    x = _as_float64(samples, "samples")
    c = _as_float64(centres, "centres")
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"samples have {x.shape[1]} dimensions but the mode centres have {c.shape[1]}")
    if not (std > 0 and sigmas > 0):
        raise ConfigError(f"std and sigmas must be > 0, got std={std}, sigmas={sigmas}")
    distances = torch.cdist(x, c, compute_mode="donot_use_mm_for_euclid_dist")
    nearest_distance, nearest = distances.min(dim=1)
    hq = nearest_distance <= sigmas * std
    k = c.shape[0]
    counts = torch.bincount(nearest[hq], minlength=k).double()
    total = counts.sum()
    if total > 0:
        p = counts / total
        kept = p > 0
        reverse_kl = float((p[kept] * (p[kept] * k).log()).sum())
    else:
        reverse_kl = math.log(k)
    return {"modes": float((counts > 0).sum()), "hq_percent": 100.0 * float(hq.double().mean()),
            "reverse_kl": max(reverse_kl, 0.0)}


def exact_w1(x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> float:
    """Exact Wasserstein-1 distance between the uniform distributions on points ``x`` [N, D] and ``y`` [M, D].

    The transport LP with ground cost M_ij = |x_i - y_j|_2 (float64, computed directly rather than via the
    |x|^2 + |y|^2 - 2 x.y expansion, which loses digits) solved by POT's exact network simplex.
    """
    import ot  # POT: imported here so that listing plugins does not pay for it

    a_points, b_points = _as_float64(x, "x"), _as_float64(y, "y")
    if a_points.shape[1] != b_points.shape[1]:
        raise ValueError(f"x has {a_points.shape[1]} dimensions but y has {b_points.shape[1]}")
    cost = torch.cdist(a_points, b_points, compute_mode="donot_use_mm_for_euclid_dist").numpy()
    a = np.full(a_points.shape[0], 1.0 / a_points.shape[0])
    b = np.full(b_points.shape[0], 1.0 / b_points.shape[0])
    value, log = ot.emd2(a, b, np.ascontiguousarray(cost), numItermax=EMD_MAX_ITERATIONS, log=True)
    if log.get("warning"):
        warnings.warn(f"exact W1: POT's network simplex did not finish cleanly ({log['warning']}); the value "
                      "may be an upper bound", RuntimeWarning, stacklevel=2)
    return max(float(value), 0.0)


class ModeCoverage(Metric):
    """Modes captured / HQ percent / reverse KL of generated points, for data sets that know their modes."""

    headline = "modes"
    higher_is_better = True

    def __init__(self, sigmas: float = 3.0) -> None:
        if isinstance(sigmas, bool) or not isinstance(sigmas, (int, float)) or not sigmas > 0:
            raise ConfigError(f"metric 'modes': sigmas must be a number > 0, got {sigmas!r}",
                              hint="the standard protocol uses --set sigmas=3")
        self.sigmas = float(sigmas)

    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        if real.modes is None or real.mode_std is None:
            raise GanzooError(
                f"modes needs a data set with known modes: gaussians8, gaussians25 (data set "
                f"{getattr(real, 'name', '?')!r} has none)",
                hint="use --dataset gaussians8 or gaussians25, or the w1 metric for any point data set")
        return mode_statistics(fake, real.modes, real.mode_std, self.sigmas)


class ExactW1(Metric):
    """Exact W1 between the generated points and as many fresh real points (at most ``n`` of each)."""

    headline = "w1"
    higher_is_better = False

    def __init__(self, n: int = 2500) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"metric 'w1': n must be a whole number >= 1, got {n!r}",
                              hint="e.g. --set n=2500")
        self.n = n

    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        n = min(len(fake), self.n)
        return {"w1": exact_w1(fake[:n], real.sample(n, generator))}


def modes(sigmas: float = 3.0) -> ModeCoverage:
    return ModeCoverage(sigmas)


def w1(n: int = 2500) -> ExactW1:
    return ExactW1(n)


@hookimpl
def register_metrics(register) -> None:  # noqa: ANN001 - the hook's callback
    register(MetricSpec(
        name="modes", factory=modes, options={"sigmas": 3.0}, data_kinds=(POINTS,), paper=VEEGAN,
        description="Modes captured, % high-quality samples (within sigmas std of a mode) and reverse KL of "
                    "the mode histogram; needs a data set with known modes."))
    register(MetricSpec(
        name="w1", aliases=("wasserstein",), factory=w1, options={"n": 2500}, data_kinds=(POINTS,), paper=POT,
        description="Exact Wasserstein-1 distance (optimal transport LP) between min(N, n) generated and as "
                    "many real points; lower is better."))
