"""What ``ganzoo compare SWEEP_OR_MODELS...`` names, as trials: each argument is a sweep's folder, a sweep id, or a
model of the store (``NAME`` or ``NAME:VERSION``); anything else is an error with close matches."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ganzoo.compare.outcomes_from_models import outcome_from_record
from ganzoo.errors import GanzooError
from ganzoo.store import ModelStore, parse_ref
from ganzoo.sweep.outcome import TrialOutcome, load_outcomes


@dataclass(frozen=True)
class Source:
    """One argument: what it named (``"sweep"`` or ``"model"``) and how many trials it gave."""

    text: str
    kind: str
    trials: int


def _store_name(text: str) -> str | None:
    try:
        return parse_ref(text)[0]
    except GanzooError:
        return None


def load_sources(sources: Sequence[str], store: ModelStore) -> tuple[list[TrialOutcome], list[Source]]:
    """Every trial the arguments name, in argument order, each once (a model named twice, or named and also part
    of a named sweep, counts once)."""
    if not sources:
        raise GanzooError("nothing to compare", hint="give a sweep id or folder, or two or more stored models "
                                                     "(`ganzoo models list`)")
    outcomes: list[TrialOutcome] = []
    described: list[Source] = []
    names = sorted({r.name for r in store.list()})
    for text in sources:
        name = _store_name(text)
        if Path(text).is_dir():
            found, kind = load_outcomes(Path(text), store=store), "sweep"
        elif name is not None and name in names:
            found, kind = [outcome_from_record(store.get(text))], "model"
        else:
            try:
                found, kind = load_outcomes(text, store=store), "sweep"
            except GanzooError as exc:
                close = difflib.get_close_matches(name or text, names, n=3, cutoff=0.5)
                models = f"stored models like it: {', '.join(close)}; " if close else ""
                raise GanzooError(f"{text!r} is neither a sweep nor a model in the store at {store.home} "
                                  f"({exc.message})",
                                  hint=f"{models}{exc.hint + '; ' if exc.hint else ''}`ganzoo models list` shows "
                                       "the stored models") from exc
        described.append(Source(text, kind, len(found)))
        outcomes.extend(found)
    unique: dict[tuple[str | None, str], TrialOutcome] = {}
    for outcome in outcomes:
        key = (None, outcome.model_ref) if outcome.model_ref else (outcome.sweep_id, outcome.trial_id)
        unique.setdefault(key, outcome)
    return list(unique.values()), described
