"""Kept so that ``from ganzoo.data import SampledData`` (ganzoo 0.1) keeps working: the data contract now lives in
:mod:`ganzoo.plugin.data`, and plugin authors import it from :mod:`ganzoo`."""

from ganzoo.plugin.data import IMAGES, POINTS, RealData, SampledData, TensorData, images_to_uint8, to_unit_range

__all__ = ["IMAGES", "POINTS", "RealData", "SampledData", "TensorData", "images_to_uint8", "to_unit_range"]
