"""The evaluation layer: samples from a generator scored by metric plugins against a reference data set, and the
same during training. It knows nothing of the model store or the trainer: :mod:`ganzoo.api` composes them."""
