"""Kept so that ``from ganzoo.metric import Metric`` (ganzoo 0.1) keeps working: the metric contract now lives in
:mod:`ganzoo.plugin.metric`, and plugin authors import it from :mod:`ganzoo`."""

from ganzoo.plugin.metric import STD_SUFFIX, Metric, Reference, reference_of

__all__ = ["STD_SUFFIX", "Metric", "Reference", "reference_of"]
