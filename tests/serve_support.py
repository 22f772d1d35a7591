"""Test models for the sampling-page tests: tiny real training runs registered into a store in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import torch

from ganzoo.api import train
from ganzoo.store import CRITIC_FILE, CURVES_FILE, ModelStore


def quiet(_: str) -> None:
    """Swallow the trainer's messages."""


def make_store(root: Path) -> ModelStore:
    """A store at ``root / 'home'`` holding three models made by real (very short) training runs.

    - ``toy``: mlp + wgan-gp on gaussians8 (2-D points; critic stored);
    - ``digits``: dcgan (width 8) + wgan-gp on scikit-learn's digits (1 x 28 x 28 images);
    - ``toy-bare``: ``toy`` exported and re-imported without its critic weights and curves.png, so the page
      must refuse the critic surface and re-plot the curves from metrics.jsonl.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core box: tiny runs do not need more
    try:
        return _train_models(root)
    finally:
        torch.set_num_threads(threads)


def _train_models(root: Path) -> ModelStore:
    store = ModelStore(root / "home")
    train("mlp", "wgan-gp", "gaussians8", out=root / "runs" / "toy", sets={"hidden": 32}, steps=4, sample_every=4,
          checkpoint_every=4, progress=False, echo=quiet, name="toy", store=store)
    train("dcgan", "wgan-gp", "digits", out=root / "runs" / "digits", sets={"width": 8}, steps=2, batch_size=16,
          sample_every=2, checkpoint_every=2, progress=False, echo=quiet, name="digits", store=store)
    exported = store.export("toy", root / "export" / "toy")
    (exported / CRITIC_FILE).unlink()
    (exported / CURVES_FILE).unlink()
    store.import_(exported, "toy-bare")
    return store
