"""Exact statistics of 2-D point sets: mode coverage (VEEGAN / PacGAN protocol) and exact Wasserstein-1 (POT).

Plain functions on tensors or arrays, used by the built-in ``modes`` and ``w1`` metric plugins, by the sampling
page's P_0 / P_theta example and by anyone's own scripts. They live in the core so that nothing in the core has
to import a plugin module.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor

from ganzoo.errors import ConfigError

#: Network-simplex iteration cap: far above what 2,500 x 2,500 needs, so the LP is solved to optimality.
EMD_MAX_ITERATIONS = 10_000_000


def as_float64_points(samples: Tensor | np.ndarray, what: str) -> Tensor:
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
    x = as_float64_points(samples, "samples")
    c = as_float64_points(centres, "centres")
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

    a_points, b_points = as_float64_points(x, "x"), as_float64_points(y, "y")
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
