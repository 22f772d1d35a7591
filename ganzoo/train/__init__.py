"""The training layer: settings resolved in layers with provenance, parts built through the registry, and the one
training loop. It knows nothing of evaluation or the model store: :mod:`ganzoo.api` hands it an evaluator and
stores what it trained."""
