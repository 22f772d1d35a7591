"""The sample grids' PNGs: the pixels torchvision's ``save_image`` writes, greyscale for one-channel images."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import save_image

from ganzoo.runs.plots import image_grid_png


@pytest.mark.parametrize(("channels", "n", "mode"), [(1, 64, "L"), (1, 10, "L"), (3, 64, "RGB"), (3, 1, "RGB")])
def test_a_grid_has_the_pixels_save_image_writes(channels: int, n: int, mode: str) -> None:
    images = torch.randn(n, channels, 12, 9, generator=torch.Generator().manual_seed(n)).clamp(-1.5, 1.5)
    reference = io.BytesIO()
    save_image(images.clamp(-1, 1).add(1).div(2), reference, nrow=max(1, int(n ** 0.5)), padding=2, format="png")
    expected = np.asarray(Image.open(io.BytesIO(reference.getvalue())).convert("RGB"))

    grid = Image.open(io.BytesIO(image_grid_png(images)))

    assert grid.mode == mode
    np.testing.assert_array_equal(np.asarray(grid.convert("RGB")), expected)


def test_a_greyscale_grid_is_smaller_than_the_same_pixels_in_rgb() -> None:
    images = torch.linspace(-1, 1, 64 * 28 * 28).reshape(64, 1, 28, 28)
    grey = image_grid_png(images)
    rgb = image_grid_png(images.repeat(1, 3, 1, 1))
    assert Image.open(io.BytesIO(grey)).mode == "L" and len(grey) < len(rgb)
