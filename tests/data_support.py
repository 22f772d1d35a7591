"""Shared by the tests that read real Fashion-MNIST: whether this machine has the Debian copy, and the skip mark."""

from __future__ import annotations

import pytest
from ganzoo_plugins.datasets import IDX_FILES, SYSTEM_FASHION_MNIST

FASHION_DIR = SYSTEM_FASHION_MNIST
#: Every file of both splits is present (a half-installed copy skips rather than fails).
HAVE_FASHION = all((FASHION_DIR / name).is_file() for pair in IDX_FILES.values() for name in pair)
FASHION_MISSING = "needs the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason=FASHION_MISSING)
