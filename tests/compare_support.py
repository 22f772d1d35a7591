"""Tiny real models for the comparison tests: mlp on gaussians8, two losses x two seeds, 20 steps each, scored with
W1 during training (every 10 steps) and after it, registered into a store in a temporary folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ganzoo.api import evaluate_model, train
from ganzoo.store import ModelStore
from ganzoo.sweep.outcome import FAILED, TrialOutcome

LOSSES = ("wgan-gp", "non-saturating")
SEEDS = (0, 1)
REFS = [f"{loss}-s{seed}:1" for loss in LOSSES for seed in SEEDS]


def quiet(_: str) -> None:
    """Swallow the trainer's messages."""


def make_models(root: Path) -> tuple[ModelStore, dict[str, Path]]:
    """The store (at ``root / 'home'``) holding ``LOSS-sSEED:1`` for each loss and seed, and each model's run
    folder."""
    store = ModelStore(root / "home")
    runs = {}
    for loss in LOSSES:
        for seed in SEEDS:
            name = f"{loss}-s{seed}"
            result = train("mlp", loss, "gaussians8", out=root / "runs" / name, sets={"hidden": 16, "layers": 2},
                           steps=20, batch_size=64, seed=seed, eval_every=10, eval_n=100, sample_every=20,
                           checkpoint_every=20, progress=False, echo=quiet, name=name, store=store)
            evaluate_model(name, ["w1"], n=100, store=store)
            runs[f"{name}:1"] = result.run_dir
    return store, runs


def as_sweep(store: ModelStore, runs: dict[str, Path], sweep_id: str = "toy-sweep") -> list[TrialOutcome]:
    """The models as the trials of one sweep (what ``load_outcomes`` gives), with their run folders, plus one
    failed trial of the first loss."""
    from ganzoo.compare.outcomes_from_models import outcome_from_record

    trials = [replace(outcome_from_record(store.get(ref)), sweep_id=sweep_id, run_dir=run,
                      trial_id=f"{sweep_id}.{ref.split(':')[0]}") for ref, run in runs.items()]
    failed = replace(trials[0], trial_id=f"{sweep_id}.{LOSSES[0]}-s9", seed=9, status=FAILED,
                     error="diverged at step 7 (critic loss nan)", model_ref=None, metrics={}, steps=7)
    return [*trials, failed]
