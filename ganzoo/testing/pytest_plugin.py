"""ganzoo's pytest plugin (entry point ``pytest11``): fixtures and a marker for testing ganzoo plugins.

- ``ganzoo_registry``: the registry as ganzoo would load it here (honours ``GANZOO_LOAD_PLUGINS``), built once.
- ``ganzoo_home``: a temporary ``GANZOO_HOME``, so a test that stores models never writes to the user's home.
- ``ganzoo_check``: :func:`ganzoo.testing.check_entry`, the conformance check for any entry.
- ``@pytest.mark.ganzoo_entries("ganzoo-mything", kind=None)``: parametrises the test's ``ganzoo_entry`` argument
  over every entry that distribution registers (loaded next to the built-ins whatever ``GANZOO_LOAD_PLUGINS`` says)::

      @pytest.mark.ganzoo_entries("ganzoo-mything")
      def test_conformance(ganzoo_entry, ganzoo_check):
          ganzoo_check(ganzoo_entry)

Imports stay light at module level: pytest loads this plugin in every test run of an environment with ganzoo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

MARKER = "ganzoo_entries"
ENTRY_ARGUMENT = "ganzoo_entry"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(distribution, kind=None): parametrise the test's `{ENTRY_ARGUMENT}` argument over "
                   "every entry DISTRIBUTION registers in ganzoo (kind: loss, arch, dataset or metric)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ENTRY_ARGUMENT not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        raise pytest.Collector.CollectError(
            f"{metafunc.definition.nodeid} takes `{ENTRY_ARGUMENT}` but has no "
            f"@pytest.mark.{MARKER}('your-distribution') saying whose entries")
    from ganzoo.testing import entries, entry_id

    try:
        specs = entries(*marker.args, **marker.kwargs)
    except AssertionError as exc:  # not installed / fails to load: a collection error, not an empty parameter set
        raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {exc}") from None
    metafunc.parametrize(ENTRY_ARGUMENT, specs, ids=[entry_id(s) for s in specs])


@pytest.fixture(scope="session")
def ganzoo_registry() -> Any:
    """The plugin registry as `ganzoo` itself would load it in this environment."""
    from ganzoo.plugin.loading import build_registry

    return build_registry()


@pytest.fixture
def ganzoo_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty ``GANZOO_HOME`` (model store and caches) for this test, outside its ``tmp_path``."""
    home = tmp_path_factory.mktemp("ganzoo_home")
    monkeypatch.setenv("GANZOO_HOME", str(home))
    yield home


@pytest.fixture
def ganzoo_check() -> Callable[..., None]:
    """``ganzoo_check(spec, **options)``: the conformance check for the entry's kind."""
    from ganzoo.testing import check_entry

    return check_entry
