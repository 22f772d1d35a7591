"""The example third-party plugin (examples/ganzoo-lsgan) installed for real into this environment.

pip installs it offline (no index, no build isolation: the venv's setuptools builds it), then a user's session runs
in subprocesses: `ganzoo list` shows its entries with provider and version; `ganzoo train` trains its architecture
with its loss and stores the model; `ganzoo eval` scores it and `ganzoo sample` draws from it like any built-in;
its own test suite passes ganzoo's conformance kit through the pytest plugin; after `pip uninstall`, loading the
model names the distribution to install. The module fixture uninstalls it whatever happens, leaving the venv clean.

tests/conftest.py sets GANZOO_LOAD_PLUGINS="" (built-ins only) for hermeticity; these subprocesses unset it (load
everything installed) or set it to the example's name, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ganzoo-lsgan"
DISTRIBUTION = "ganzoo-lsgan"
PROVIDER = {"distribution": DISTRIBUTION, "version": "0.1.0"}
MODEL = "ralsgan-digits"

pytestmark = pytest.mark.slow


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


def pip(*args: str) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "pip", *args, "--disable-pip-version-check")


def user_env(home: Path, load: str | None = None) -> dict[str, str]:
    """The environment of a user's shell: GANZOO_LOAD_PLUGINS unset (load all) or ``load``; their own store."""
    env = {k: v for k, v in os.environ.items() if k != "GANZOO_LOAD_PLUGINS"}
    env.update({"GANZOO_HOME": str(home), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    if load is not None:
        env["GANZOO_LOAD_PLUGINS"] = load
    return env


def ganzoo(*args: str, home: Path, load: str | None = None) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "ganzoo.cli", *args, env=user_env(home, load))


def installed() -> bool:
    probe = f"import importlib.metadata as m\ntry: m.distribution({DISTRIBUTION!r})\nexcept m.PackageNotFoundError: " \
            "raise SystemExit(1)"
    return run(sys.executable, "-c", probe).returncode == 0


@pytest.fixture(scope="module")
def example_installed() -> Iterator[None]:
    """ganzoo-lsgan installed (editable) into this interpreter's environment; uninstalled at the end, always."""
    has_setuptools = run(sys.executable, "-c", "import setuptools").returncode == 0
    assert has_setuptools, "the venv needs setuptools to build the example offline: run scripts/setup.sh"
    try:
        result = pip("install", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-e", str(EXAMPLE))
        assert result.returncode == 0, result.stderr
        yield
    finally:
        pip("uninstall", "-y", DISTRIBUTION)
        assert not installed(), "ganzoo-lsgan is still installed after the test"


def test_example_plugin_from_install_to_uninstall(example_installed: None, tmp_path: Path) -> None:
    home = tmp_path / "home"

    # `ganzoo list`: its entries with the provider's name and version, with GANZOO_LOAD_PLUGINS unset or naming it
    listed = ganzoo("list", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(listed.stdout)}
    for key in (("loss", "lsgan"), ("loss", "hinge"), ("loss", "rasgan"), ("loss", "ralsgan"), ("arch", "dcgan-sn")):
        assert {k: rows[key]["provider"][k] for k in PROVIDER} == PROVIDER, key
    assert rows[("loss", "lsgan")]["defaults"]["lr"] == 2e-4 and rows[("loss", "lsgan")]["defaults"]["n_critic"] == 1
    assert rows[("loss", "wgan-gp")]["provider"]["distribution"] == "ganzoo"  # the built-ins still load
    text = ganzoo("list", home=home, load=DISTRIBUTION).stdout
    for line in ("lsgan (aliases: least-squares)", "hinge", "rasgan", "ralsgan", "dcgan-sn"):
        assert f"  {line}  [{DISTRIBUTION} 0.1.0]" in text

    # `ganzoo train` with its architecture and its relativistic loss (its generator step sees a real batch): trains
    # and stores the model
    trained = ganzoo("train", "dcgan-sn", "ralsgan", "-d", "digits", "--steps", "3", "--batch-size", "16",
                     "--set", "width=8", "--out", str(tmp_path / "run"), "--name", MODEL, "--quiet", home=home)
    assert trained.returncode == 0, trained.stderr
    assert "done at step 3" in trained.stdout and f"registered: {MODEL}:1" in trained.stdout

    # evaluated and sampled like any built-in; the store records the plugin's provenance and the score
    evaluated = ganzoo("eval", MODEL, "--fid", "--n", "128", "--json", home=home)
    assert evaluated.returncode == 0, evaluated.stderr
    (fid,) = json.loads(evaluated.stdout)
    assert fid["metric"] == "fid" and fid["value"] > 0 and fid["label"].startswith("FID[")
    shown = ganzoo("models", "show", MODEL, home=home)
    assert shown.returncode == 0, shown.stderr
    assert f"dcgan-sn  [{DISTRIBUTION} 0.1.0]" in shown.stdout and f"ralsgan  [{DISTRIBUTION} 0.1.0]" in shown.stdout
    assert f"{fid['label']} = " in shown.stdout
    picture = tmp_path / "samples.png"
    sampled = ganzoo("sample", MODEL, "--n", "16", "--out", str(picture), home=home)
    assert sampled.returncode == 0, sampled.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the plugin's own tests pass ganzoo's conformance kit, through ganzoo's pytest plugin (pytest11)
    own = run(sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", env=user_env(tmp_path / "own"),
              cwd=EXAMPLE)
    assert own.returncode == 0, own.stdout[-3000:] + own.stderr[-2000:]
    for entry in ("loss-lsgan", "loss-hinge", "loss-rasgan", "loss-ralsgan", "arch-dcgan-sn"):
        assert f"PASSED tests/test_lsgan.py::test_every_entry_passes_ganzoo_conformance[{entry}]" in own.stdout

    # uninstalled: loading the model fails, naming the distribution to install; never a traceback
    assert pip("uninstall", "-y", DISTRIBUTION).returncode == 0 and not installed()
    gone = ganzoo("sample", MODEL, "--out", str(tmp_path / "gone.png"), home=home)
    assert gone.returncode == 2 and f"pip install {DISTRIBUTION}" in gone.stderr, gone.stderr
    assert "dcgan-sn" in gone.stderr and "Traceback" not in gone.stderr and not (tmp_path / "gone.png").exists()
