"""ganzoo's conformance kit: checks a plugin author runs against their losses, architectures, data sets, metrics
and executors.

Each check takes a registry entry and raises AssertionError with a message that names the entry, the problem and
(when known) the fix; it passes silently. They run on the CPU in about a second per entry and never download::

    from ganzoo.testing import check_plugin, plugin_registry

    check_plugin(plugin_registry("ganzoo-lsgan"), distribution="ganzoo-lsgan")

The pytest plugin :mod:`ganzoo.testing.pytest_plugin` (entry point ``pytest11``, loaded automatically where ganzoo
is installed) adds the fixtures ``ganzoo_registry``, ``ganzoo_home`` and ``ganzoo_check`` and the marker
``ganzoo_entries(distribution, kind=None)`` that parametrises a test's ``ganzoo_entry`` argument. See
docs/plugins.md.
"""

from ganzoo.testing.architectures import check_architecture
from ganzoo.testing.datasets import check_dataset
from ganzoo.testing.executors import check_executor
from ganzoo.testing.experiments import check_experiment
from ganzoo.testing.losses import check_loss
from ganzoo.testing.metrics import check_metric
from ganzoo.testing.plugin import check_entry, check_plugin, entries, entry_id, plugin_registry

__all__ = [
    "check_architecture",
    "check_dataset",
    "check_entry",
    "check_executor",
    "check_experiment",
    "check_loss",
    "check_metric",
    "check_plugin",
    "entries",
    "entry_id",
    "plugin_registry",
]
