"""Hermetic test set-up: only ganzoo's built-in plugins load unless a test asks for more."""

from __future__ import annotations

import os
from pathlib import Path

# Third-party plugins installed in the environment must not change what the tests see (hermetic tests: a test
# that needs a plugin registers it itself).
os.environ["GANZOO_LOAD_PLUGINS"] = ""
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from ganzoo.plugin.loading import get_registry  # noqa: E402
from ganzoo.plugin.registry import Registry  # noqa: E402

# One torch thread for every test, whichever tests run: the networks are tiny (one thread is far faster than two
# fighting over a shared, busy machine) and float reductions then match the subprocesses that bit-identity tests
# compare against, which run with one thread too.
torch.set_num_threads(1)


@pytest.fixture
def registry() -> Registry:
    """The registry of the built-in plugins."""
    return get_registry()


@pytest.fixture(autouse=True)
def ganzoo_home(ganzoo_home: Path) -> Path:
    """Every test gets its own empty model store (GANZOO_HOME), never the user's ~/.ganzoo: the fixture of ganzoo's
    pytest plugin (ganzoo.testing.pytest_plugin), made automatic here."""
    return ganzoo_home


def _tiny_run(tmp_path_factory: pytest.TempPathFactory, arch: str, dataset: str, **sets: object):
    from ganzoo.api import train

    out = tmp_path_factory.mktemp(f"run-{arch}-{dataset}") / "run"
    return train(arch, "wgan-gp", dataset, out=out, sets=sets, steps=2, batch_size=16, device="cpu",
                 progress=False, echo=lambda _: None, register=False)


@pytest.fixture(scope="session")
def tiny_points_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished 2-step run (mlp + wgan-gp on gaussians8), not registered: register it into a test's store."""
    return _tiny_run(tmp_path_factory, "mlp", "gaussians8", hidden=8, layers=2)


@pytest.fixture(scope="session")
def tiny_image_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished 2-step image run (dcgan width 8 + wgan-gp on digits, 28x28), not registered."""
    return _tiny_run(tmp_path_factory, "dcgan", "digits", width=8)



@pytest.fixture(scope="session")
def compare_models(tmp_path_factory: pytest.TempPathFactory):
    """(store, {ref: run folder}): two losses x two seeds of tiny scored mlp models on gaussians8, for the comparison
    tests and the sampling page's Compare tab (tests/compare_support.py)."""
    from compare_support import make_models

    return make_models(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="session")
def serial_registry() -> Registry:
    """The built-in plugins plus the tests' `serial` executor plugin, which runs a sweep's trials one by one in this
    process (tests/plugin_support.py)."""
    from plugin_support import serial_registry

    return serial_registry()


# --- running on several cores (pytest-xdist, `-n auto --dist loadfile` in pyproject.toml) -------------------------
#
# Each worker is its own process: os.environ (GANZOO_HOME, ...), tmp_path and the session fixtures above are per
# worker, ports are free ones. A module's tests run on one worker (--dist loadfile), so a module-scoped fixture (a
# trained store, a live server, a torchrun launch) is built once. One thing more needs one worker: the modules whose
# tests read the environment's installed plugin distributions (GANZOO_LOAD_PLUGINS unset), as one of them
# pip-installs and uninstalls the example plugin, which the others would see half-way. The scheduler below keeps
# them together. (xdist_group marks with --dist loadgroup would say the same, but pytest-xdist 3.8 cannot add a
# group to a test's id under pytest 9, so they are ignored there.)

#: Test modules that load every installed plugin distribution or change which are installed: one work unit.
INSTALLED_PLUGINS_MODULES = {"test_example_plugin.py", "test_registry.py", "test_plugin_loading.py",
                             "test_plugin_author_fixes.py"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """--dist loadfile, with :data:`INSTALLED_PLUGINS_MODULES` as one file; any other --dist is xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModulesAndInstalledPlugins(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "installed-plugins" if path.rsplit("/", 1)[-1] in INSTALLED_PLUGINS_MODULES else path

    return ModulesAndInstalledPlugins(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the work units are handed out in this order
        # the slow tests' modules first, so that the workers end together rather than one waiting out a long
        # module that started last
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
