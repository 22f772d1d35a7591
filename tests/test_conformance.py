"""The conformance kit (ganzoo.testing): every built-in passes it, and it catches each kind of broken plugin.

The first test is parametrised over the registry, so a new built-in entry is checked the moment it registers.
The rest hand the kit deliberately broken entries and assert that it fails them with a message that names the
problem: a kit that cannot fail proves nothing.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ganzoo_plugins.architectures import dcgan, mlp
from ganzoo_plugins.datasets import gaussians8
from ganzoo_plugins.losses import GAN_TRAINING, GradientPenalty, WassersteinObjective, non_saturating
from PIL import Image
from torch import Tensor, nn

from ganzoo.errors import ConfigError, DataError
from ganzoo.plugin.data import IMAGES, POINTS, RealData, SampledData, TensorData
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.loss import ComposedLoss, CriticStep, Objective
from ganzoo.plugin.metric import Metric
from ganzoo.plugin.specs import ArchitectureSpec, DatasetSpec, LossSpec, MetricSpec, TrainingDefaults
from ganzoo.testing import (
    check_architecture,
    check_dataset,
    check_entry,
    check_loss,
    check_metric,
    check_plugin,
    entry_id,
)

#: Exact values on the kit's known case (fakes = the very real samples compute() draws).
KNOWN = {"modes": {"known": {"modes": 8.0}}, "w1": {"known": {"w1": 0.0}}}
#: Image metrics: 128 samples is the least FID takes with a 128-feature extractor, and the quickest.
IMAGE_METRIC_SETTINGS = {"n": 128}
#: torch-fidelity's KID computes 100 subset kernels per call: ~10 s a call on a busy 2-core machine.
SLOW = {"kid"}
ENTRIES = [pytest.param(spec, id=entry_id(spec), marks=[pytest.mark.slow] if spec.name in SLOW else [])
           for spec in get_registry().entries()]




@pytest.fixture(scope="module")
def png_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough small images for the folder data set's batches."""
    folder = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8), "RGB").save(folder / f"{i:02}.png")
    return folder


@pytest.mark.parametrize("spec", ENTRIES)
def test_every_builtin_passes_the_conformance_kit(spec: Any, png_folder: Path) -> None:
    settings: dict[str, Any] = dict(KNOWN.get(spec.name, {}))
    if isinstance(spec, MetricSpec) and IMAGES in spec.data_kinds:
        settings.update(IMAGE_METRIC_SETTINGS)
    if spec.name == "folder":  # the one entry with no working default: it needs the user's folder
        settings["options"] = {"path": str(png_folder), "size": 16}
    if spec.name == "ray":  # built and described here; tests/test_sweep_ray.py runs it on a real Ray cluster
        settings["run"] = False
    check_entry(spec, **settings)


def test_check_plugin_runs_every_check_and_lists_every_failure() -> None:
    registry = get_registry()
    assert check_plugin(registry, ["wgan-gp", "mlp", "gaussians8", "modes"]) == [
        "loss-wgan-gp", "arch-mlp", "dataset-gaussians8", "metric-modes"]
    broken = LossSpec(name="backwards", factory=lambda: ComposedLoss(Backwards()))
    flat = ArchitectureSpec(name="flat", factory=column_critic, points=True, image_sizes=(8,))
    with pytest.raises(AssertionError) as err:
        check_plugin(FakeRegistry([broken, flat, registry.loss("minimax")]))
    text = str(err.value)
    assert "2 of 3 entries fail" in text and "'backwards'" in text and "'flat'" in text and "'minimax'" not in text
    with pytest.raises(AssertionError, match="no entry is called 'nope'"):
        check_plugin(registry, ["nope"])


class FakeRegistry:
    """Just what check_plugin reads of a registry."""

    def __init__(self, specs: list[Any]) -> None:
        self.specs = specs

    def entries(self, kind: str | None = None) -> list[Any]:
        return [s for s in self.specs if kind is None or s.kind == kind]


def assert_kit_fails(check: Callable[[], object], words: list[str]) -> None:
    """``check`` raises the kit's AssertionError and its message holds every one of ``words``."""
    with pytest.raises(AssertionError) as err:
        check()
    for word in words:
        assert word in str(err.value)


# --- losses the kit must fail ---------------------------------------------------------------------------------


class Backwards(WassersteinObjective):
    """The WGAN critic objective with the sign flipped: the critic would learn to prefer fakes."""

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return real_scores.mean() - fake_scores.mean()


class SelfTraining(ComposedLoss):
    """Calls backward itself: the trainer's own backward would then double the gradients."""

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        step = super().critic_loss(critic, real, fake)
        step.loss.backward(retain_graph=True)
        return step


class DetachedGenerator(ComposedLoss):
    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        return self.objective.generator(critic(fake.detach()))  # with the critic frozen: no graph at all


class ZeroGradient(ComposedLoss):
    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        return self.objective.generator(critic(fake.detach())) + 0.0 * fake.mean()  # a graph, but zero gradient


class UnfreezesCritic(ComposedLoss):
    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        critic.requires_grad_(True)
        return super().generator_loss(critic, fake)


class LogsWithGraph(ComposedLoss):
    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        step = super().critic_loss(critic, real, fake)
        return CriticStep(loss=step.loss, objective=step.loss)  # the logged value keeps the graph alive


class LogOfSigmoid(Objective):
    """log(sigmoid(l)) underflows to -inf for confident critics: the reason the built-ins use softplus."""

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return -torch.log(torch.sigmoid(real_scores * 1e4)).mean() - torch.log(1 - torch.sigmoid(fake_scores)).mean()

    def generator(self, fake_scores: Tensor) -> Tensor:
        return -torch.log(torch.sigmoid(fake_scores)).mean()


class TouchesInputs(GradientPenalty):
    """A penalty that switches on requires_grad of the caller's fake batch instead of a fresh interpolate."""

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        fake.requires_grad_(True)
        return super().penalty(critic, real, fake)


class NotALoss:
    def critic_loss(self, *args: Any) -> None:
        return None


def loss_spec(factory: Any, **fields: Any) -> LossSpec:
    return LossSpec(name="broken", factory=factory, **fields)


@pytest.mark.parametrize(("spec", "words"), [
    (loss_spec(lambda: ComposedLoss(Backwards())), ["sign", "critic loss"]),
    (loss_spec(lambda: SelfTraining(WassersteinObjective())), ["must not call backward()"]),
    (loss_spec(lambda: DetachedGenerator(WassersteinObjective())), ["generator_loss(...) carries no graph"]),
    (loss_spec(lambda: ZeroGradient(WassersteinObjective())), ["gives the generator no gradient"]),
    (loss_spec(lambda: UnfreezesCritic(WassersteinObjective())), ["switched the frozen critic's requires_grad"]),
    (loss_spec(lambda: LogsWithGraph(WassersteinObjective())), ["objective is logged, so it must be detached"]),
    (loss_spec(lambda: ComposedLoss(LogOfSigmoid())), ["not finite"]),
    (loss_spec(lambda: ComposedLoss(WassersteinObjective(), TouchesInputs(10.0, one_sided=False))),
     ["switched on requires_grad of the caller's real or fake batch"]),
    (loss_spec(NotALoss), ["not a ganzoo.GANLoss"]),
    (loss_spec(non_saturating, options={"lambda": 10.0}), ["factory(**{'lambda': 10.0}) raised"]),
    (loss_spec(non_saturating, training=TrainingDefaults(betas=(0, 0.9))), ["malformed", "betas"]),
    (loss_spec(non_saturating, options={"schedule": object()}), ["not JSON-serialisable"]),
], ids=["wrong-sign", "own-backward", "detached-fake", "zero-gradient", "unfreezes-critic", "logged-graph",
        "non-finite", "touches-inputs", "not-a-loss", "unknown-option", "bad-betas", "non-json-option"])
def test_the_kit_fails_a_broken_loss_naming_the_problem(spec: LossSpec, words: list[str]) -> None:
    assert_kit_fails(lambda: check_loss(spec), [*words, "loss 'broken'"])


def test_a_good_third_party_loss_passes() -> None:
    check_loss(LossSpec(name="ok", factory=lambda: ComposedLoss(WassersteinObjective()), training=GAN_TRAINING))


# --- architectures the kit must fail -------------------------------------------------------------------------


def no_tanh(shape: Any, latent_dim: int, width: int = 8) -> tuple[nn.Module, nn.Module]:
    generator, critic = dcgan(shape, latent_dim, width=width)
    generator.body = generator.body[:-1]  # drop the final tanh
    return generator, critic


def column_critic(shape: Any, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    generator, _ = mlp(shape, latent_dim, hidden=8, layers=1)
    return generator, nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 1))


def deep_error(shape: Any, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    steps = {32: 3, 64: 4}[shape[-1]]  # declares 28 but has no entry for it: a KeyError instead of a ConfigError
    return mlp(shape, latent_dim, hidden=steps, layers=1)


def accepts_anything(shape: Any, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    return mlp(shape, latent_dim, hidden=8, layers=1)


def fresh_randomness(shape: Any, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(time.perf_counter_ns())  # reseeds: the same options and seed no longer give the same weights
    return mlp(shape, latent_dim, hidden=8, layers=1)


class HiddenScale(nn.Module):
    """Output depends on a random factor kept outside the state dict: a reloaded copy computes something else."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.scale = torch.rand(())  # a plain attribute, not a buffer

    def forward(self, z: Tensor) -> Tensor:
        return self.inner(z) * self.scale


def hidden_state(shape: Any, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    generator, critic = mlp(shape, latent_dim, hidden=8, layers=1)
    return HiddenScale(generator), critic


def arch_spec(factory: Any, **fields: Any) -> ArchitectureSpec:
    return ArchitectureSpec(name="broken", factory=factory, latent_dim=4, **fields)


@pytest.mark.parametrize(("spec", "words"), [
    (arch_spec(no_tanh, image_sizes=(32,), options={"width": 8}), ["outside [-1, 1]", "tanh"]),
    (arch_spec(column_critic, points=True, image_sizes=(8,)), ["one score per sample"]),
    (arch_spec(deep_error, image_sizes=(28,)), ["raised", "ConfigError"]),
    (arch_spec(accepts_anything, image_sizes=(8,), points=True), ["builds 17x17 images although image_sizes"]),
    (arch_spec(accepts_anything, image_sizes=(8,)), ["builds networks for 2-D points but declares points=False"]),
    (arch_spec(fresh_randomness, points=True), ["same options and seed give different"]),
    (arch_spec(hidden_state, points=True), ["computes different outputs", "state_dict"]),
    (arch_spec(dcgan, image_sizes=(28,), options={"width": 8}, critic_norm_option="norm"), ["names 'norm'"]),
    (arch_spec(dcgan, image_sizes=(28,), options={"width": 8, "fn": len}), ["not JSON-serialisable"]),
], ids=["no-tanh", "score-column", "deep-error", "undeclared-size", "undeclared-points", "unseeded",
        "state-outside-state-dict", "bad-norm-option", "non-json-option"])
def test_the_kit_fails_a_broken_architecture_naming_the_problem(spec: ArchitectureSpec, words: list[str]) -> None:
    assert_kit_fails(lambda: check_architecture(spec), words)


def test_an_architecture_refusing_one_channel_count_with_a_config_error_passes() -> None:
    def grey_only(shape: Any, latent_dim: int) -> tuple[nn.Module, nn.Module]:
        if shape[0] != 1:
            raise ConfigError("grey images only", hint="convert the data set to grey")
        return dcgan(shape, latent_dim, width=8)

    check_architecture(arch_spec(grey_only, image_sizes=(28,)))


# --- data sets the kit must fail ------------------------------------------------------------------------------


class Unscaled(TensorData):
    def batch(self, batch_size: int, generator: torch.Generator) -> Tensor:
        return super().batch(batch_size, generator).add(1).mul(127.5)  # back to [0, 255]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        return super().sample(n, generator).add(1).mul(127.5)


class ForgetsPosition(TensorData):
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._order = None


def images(cls: type[TensorData] = TensorData) -> TensorData:
    return cls("toy", torch.randint(0, 256, (64, 1, 8, 8), generator=torch.Generator().manual_seed(0),
                                    dtype=torch.uint8), kind=IMAGES)


def unseeded_points() -> SampledData:
    return SampledData("toy", lambda n, generator, device: torch.randn(n, 2), (2,), kind=POINTS)


def missing_file() -> TensorData:
    return TensorData("toy", torch.from_numpy(np.load("/nonexistent/toy.npy")))


def offline() -> TensorData:
    raise DataError("toy files not found under /data", hint="download them once with download=true")


def dataset_spec(factory: Any, **fields: Any) -> DatasetSpec:
    return DatasetSpec(name="broken", factory=factory, **fields)


@pytest.mark.parametrize(("spec", "words"), [
    (dataset_spec(lambda: images(Unscaled)), ["not within [-1, 1]"]),
    (dataset_spec(unseeded_points), ["different samples", "given generator"]),
    (dataset_spec(lambda: images(ForgetsPosition)), ["a resumed run would not see the data"]),
    (dataset_spec(missing_file), ["raised", "DataError"]),
    (dataset_spec(lambda: torch.zeros(4, 2)), ["not a ganzoo.RealData"]),
    (dataset_spec(lambda: TensorData("toy", torch.zeros(64, 3, 8), kind=IMAGES)), ["does not fit kind 'images'"]),
], ids=["unscaled", "unseeded", "forgets-position", "deep-error", "not-real-data", "bad-shape"])
def test_the_kit_fails_a_broken_dataset_naming_the_problem(spec: DatasetSpec, words: list[str]) -> None:
    assert_kit_fails(lambda: check_dataset(spec), words)


def test_a_dataset_whose_data_is_missing_is_skipped_with_its_own_error() -> None:
    with pytest.raises(pytest.skip.Exception, match="toy files not found under /data"):
        check_dataset(dataset_spec(offline))


def test_the_kit_never_downloads() -> None:
    seen = {}

    def recorder(download: bool = True) -> SampledData:
        seen["download"] = download
        return gaussians8()

    check_dataset(dataset_spec(recorder, options={"download": True}))
    assert seen == {"download": False}


# --- metrics the kit must fail --------------------------------------------------------------------------------


class MeanDistance(Metric):
    """|mean(fake) - mean(real)|: a distance, lower is better; variants below break one promise each."""

    headline = "distance"
    higher_is_better = False

    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        reference = real.sample(len(fake), generator)
        return {"distance": float((fake.mean(0) - reference.mean(0)).norm())}


class Noisy(MeanDistance):
    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        return {"distance": super().compute(fake, real, generator)["distance"] + float(torch.rand(()))}


class WrongDirection(MeanDistance):
    higher_is_better = True


class TensorValues(MeanDistance):
    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, Any]:
        return {"distance": torch.tensor(super().compute(fake, real, generator)["distance"])}


def metric_spec(factory: Any, **fields: Any) -> MetricSpec:
    return MetricSpec(name="broken", factory=factory, **{"data_kinds": (POINTS,), **fields})


@pytest.mark.parametrize(("spec", "known", "words"), [
    (metric_spec(Noisy), None, ["give different values", "generator passed to compute()"]),
    (metric_spec(WrongDirection), None, ["not better than", "higher_is_better=True"]),
    (metric_spec(TensorValues), None, ["is not a finite float"]),
    (metric_spec(MeanDistance), {"distance": 0.5}, ["distance=0.0, expected 0.5"]),
    (metric_spec(MeanDistance, data_kinds=("audio",)), None, ["data_kinds must name"]),
], ids=["non-deterministic", "wrong-direction", "tensor-values", "known-value", "bad-kind"])
def test_the_kit_fails_a_broken_metric_naming_the_problem(spec: MetricSpec, known: Any, words: list[str]) -> None:
    assert_kit_fails(lambda: check_metric(spec, known=known), words)


def test_a_correct_metric_passes_with_its_known_value() -> None:
    check_metric(metric_spec(MeanDistance), known={"distance": 0.0})


def test_checks_do_not_move_the_callers_random_stream() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_loss(get_registry().loss("wgan-gp"))
    check_architecture(get_registry().arch("mlp"), options={"hidden": 8, "layers": 1})
    assert torch.equal(torch.rand(3), expected)


# --- the pytest plugin (entry point pytest11), as a plugin author's test run sees it ----------------------------

AUTHOR_TESTS = {
    "test_good.py": '''
import os
import pytest

@pytest.mark.ganzoo_entries("ganzoo", kind="loss")
def test_losses(ganzoo_entry, ganzoo_check):
    ganzoo_check(ganzoo_entry)

def test_home(ganzoo_home):
    assert os.environ["GANZOO_HOME"] == str(ganzoo_home) and not any(ganzoo_home.iterdir())

def test_registry(ganzoo_registry):
    assert ganzoo_registry.loss("wgan-gp").provider.distribution == "ganzoo"
''',
    "test_missing.py": '''
import pytest

@pytest.mark.ganzoo_entries("ganzoo-not-installed")
def test_missing(ganzoo_entry):
    pass
''',
    "test_unmarked.py": "def test_unmarked(ganzoo_entry):\n    pass\n",
}


def test_the_pytest_plugin_parametrises_over_a_distribution_and_reports_misuse(tmp_path: Path) -> None:
    for name, source in AUTHOR_TESTS.items():
        (tmp_path / name).write_text(source)
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                             "--continue-on-collection-errors", str(tmp_path)], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=600)
    out = result.stdout
    losses = [s.name for s in get_registry().entries("loss")]
    for name in losses:  # one test per entry of the distribution, ids from the entries
        assert f"PASSED test_good.py::test_losses[loss-{name}]" in out, out[-2000:]
    assert "PASSED test_good.py::test_home" in out and "PASSED test_good.py::test_registry" in out
    assert "distribution 'ganzoo-not-installed' is not installed in this environment" in out
    assert "test_unmarked.py::test_unmarked takes `ganzoo_entry` but has no @pytest.mark.ganzoo_entries" in out
    # the summary line counts passed tests and errors; other installed pytest plugins may add a warnings count
    summary = out.strip().splitlines()[-1]
    assert f"{len(losses) + 2} passed" in summary and "2 errors" in summary and "failed" not in summary, summary
    assert "Traceback" not in out
