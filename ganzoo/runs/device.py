"""The device a run uses: cuda when there is one, else mps, else cpu; an explicit request must be available."""

from __future__ import annotations

import torch

from ganzoo.errors import ConfigError


def select_device(requested: str = "auto") -> torch.device:
    """cuda if present, else mps, else cpu; an explicit request must be available."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {requested!r}", hint="use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available", hint="use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps was asked for but MPS is not available", hint="use --device cpu")
    return device
