"""--precision fp32|bf16|fp16, --channels-last and --compile: validated settings with clear errors, bf16 training for
every registered loss, the record in config.json and the model card, bit-identical resume with the gradient
scalers' state, the conformance kit's bf16 check, and the refusal to compile a critic a penalty differentiates."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ganzoo.api import make_config, make_trainer, resume, train
from ganzoo.cli import app, main
from ganzoo.errors import ConfigError
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.specs import LossSpec
from ganzoo.runs import precision as precision_module
from ganzoo.runs.checkpoint import LATEST, load_checkpoint
from ganzoo.runs.folder import read_run
from ganzoo.runs.precision import Precision, cpu_flags, differentiates_critic_gradient, fast_bf16
from ganzoo.serve.service import SamplingService
from ganzoo.store import ModelStore
from ganzoo.store.loading import load_generator
from ganzoo.testing import check_loss
from ganzoo.testing.losses import BF16_TOLERANCE

TINY = {"hidden": 8, "layers": 2}
LOSSES = [spec.name for spec in get_registry().entries("loss")]


def tiny_train(tmp_path: Path, loss: str = "wgan-gp", name: str = "run", **overrides):
    settings = {"steps": 2, "batch_size": 16, "device": "cpu", **overrides}
    return train("mlp", loss, "gaussians8", out=tmp_path / name, sets=TINY, progress=False, echo=lambda _: None,
                 register=False, **settings)


# --- settings and their errors --------------------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "value", "words"), [
    ("precision", "fp64", ["precision must be one of fp32, bf16, fp16", "--precision bf16"]),
    ("precision", "BF16", ["precision must be one of"]),
    ("compile", "all", ["compile must be one of none, generator, critic, both"]),
    ("channels_last", "yes", ["channels_last must be true or false"]),
])
def test_bad_arithmetic_settings_are_config_errors(registry, setting, value, words):
    with pytest.raises(ConfigError) as caught:
        make_config("mlp", "wgan", "gaussians8", registry=registry, sets={setting: value})
    text = f"{caught.value} {caught.value.hint}"
    for word in words:
        assert word in text


def test_the_cli_has_the_flags_and_refuses_fp16_on_a_cpu_with_exit_2(tmp_path, capsys, monkeypatch):
    help_text = CliRunner().invoke(app, ["train", "--help"], terminal_width=200).output
    for flag in ("--precision", "--channels-last", "--compile"):
        assert flag in help_text
    for args, words in (
        (["--precision", "fp16"], ["--precision fp16 needs a CUDA GPU; this run is on cpu", "--precision bf16"]),
        (["--compile", "critic", "--set", "lambda=1"], ["torch.compile cannot do", "--compile generator"]),
        (["--precision", "half"], ["precision must be one of fp32, bf16, fp16"]),
    ):
        monkeypatch.setattr(sys, "argv", ["ganzoo", "train", "mlp", "wgan-gp", "-d", "gaussians8", "--device", "cpu",
                                          "--steps", "2", "--out", str(tmp_path / "r"), "--no-register", "--quiet",
                                          *args])
        with pytest.raises(SystemExit) as exited:
            main()
        output = capsys.readouterr().err
        assert exited.value.code == 2, output
        assert "Traceback" not in output
        for word in words:
            assert word in output
        assert not (tmp_path / "r" / "config.json").exists()


def test_serve_refuses_fp16_before_it_binds_a_port(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ganzoo", "serve", "--precision", "fp16", "--port", "1"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "--precision fp16 needs a CUDA GPU; this run is on cpu" in capsys.readouterr().err


def test_compiling_a_critic_whose_penalty_needs_the_double_backward_is_refused_with_the_reason(registry, tmp_path):
    for target in ("critic", "both"):
        config = make_config("mlp", "wgan-gp", "gaussians8", registry=registry, sets={**TINY, "compile": target},
                             device="cpu")
        with pytest.raises(ConfigError) as caught:
            make_trainer(config, registry, tmp_path / target, progress=False)
        message = str(caught.value)
        assert f"--compile {target}: loss 'wgan-gp' differentiates the critic's input gradient" in message
        assert "double backward" in message and "torch.compile cannot do" in message
        assert "--compile generator" in caught.value.hint
    # the losses without a penalty may compile their critic (compilation itself happens lazily, at the first step)
    assert not differentiates_critic_gradient(registry.loss("wgan").factory())
    assert not differentiates_critic_gradient(registry.loss("non-saturating").factory())
    assert differentiates_critic_gradient(registry.loss("wgan-lp").factory(**{"lambda": 10.0}))
    config = make_config("mlp", "wgan", "gaussians8", registry=registry, sets={**TINY, "compile": "both"},
                         device="cpu")
    trainer = make_trainer(config, registry, tmp_path / "ok", progress=False)
    assert trainer.precision.compiled == ("generator", "critic")
    # the compiled forward shares the network's parameters: the state dicts keep their plain names
    assert set(trainer.state_dict()["critic"]) == set(trainer.critic.state_dict())


# --- training in bf16 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES)
def test_every_registered_loss_trains_in_bf16_with_float32_losses_and_weights(tmp_path, loss):
    result = tiny_train(tmp_path, loss, precision="bf16")
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert all(record[k] is not None and abs(record[k]) < 1e6 for k in ("critic_loss", "generator_loss"))
    _, state = load_checkpoint(result.run_dir / "checkpoints")
    assert all(t.dtype == torch.float32 for t in state["critic"].values())  # weights stay float32 (clipping too)
    config = json.loads((result.run_dir / "config.json").read_text())["config"]
    assert config["precision"] == "bf16" and config["sources"]["precision"] == "command line"


def test_bf16_changes_the_numbers_only_a_little_and_fp32_is_the_default_loop(tmp_path, registry):
    fp32, bf16 = tiny_train(tmp_path, name="fp32"), tiny_train(tmp_path, name="bf16", precision="bf16")
    a, b = (load_checkpoint(r.run_dir / "checkpoints")[1]["generator"] for r in (fp32, bf16))
    assert any(not torch.equal(a[k], b[k]) for k in a)  # bf16 really ran
    assert all(torch.allclose(a[k], b[k], rtol=0.05, atol=1e-3) for k in a)
    trainer = make_trainer(make_config("mlp", "wgan", "gaussians8", registry=registry, sets=TINY, device="cpu"),
                           registry, tmp_path / "plain", progress=False)
    assert trainer.run_generator is trainer.generator and trainer.run_critic is trainer.critic  # nothing added
    assert trainer.train_generator is trainer.generator and trainer.train_critic is trainer.critic


def test_the_wrapped_network_returns_float32_and_shares_its_parameters():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    net(torch.zeros(2, 1, 6, 6))
    precision = Precision("bf16", channels_last=True)
    wrapped = precision.wrap(precision.prepare(net), "critic")
    assert precision.wrap(net, "critic") is wrapped  # one wrapper (and one compilation) per network
    x = torch.rand(2, 1, 6, 6, requires_grad=True)
    out = wrapped(x)
    assert out.dtype == torch.float32
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)  # the penalty's gradient arrives in float32
    assert grad.dtype == torch.float32 and grad.shape == x.shape
    assert [p.data_ptr() for p in wrapped.parameters()] == [p.data_ptr() for p in net.parameters()]
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, net(x), rtol=0.05, atol=0.02)


def test_a_machine_without_fast_bf16_says_so_and_still_runs(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert cpu_flags(info) == {"fpu", "sse2", "avx2", "avx512f"}
    assert cpu_flags(tmp_path / "missing") is None
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: {"avx2", "avx512f"})
    fast, why = fast_bf16(torch.device("cpu"))
    assert fast is False and "without AMX or AVX-512 BF16" in why
    notes: list[str] = []
    result = train("mlp", "wgan", "gaussians8", out=tmp_path / "slow", sets=TINY, steps=2, batch_size=16,
                   device="cpu", precision="bf16", progress=False, echo=notes.append, register=False)
    assert result.step == 2
    assert any("without fast bf16 arithmetic" in note and "slower than fp32" in note for note in notes)
    assert any("without fast bf16" in n for n in json.loads((result.run_dir / "config.json").read_text())
               ["config"]["notes"])
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert fast_bf16(torch.device("cpu")) == (True, "CPU with avx512_bf16")


def test_the_model_card_records_the_precision(tmp_path):
    result = train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "run", sets=TINY, steps=2, batch_size=16,
                   device="cpu", precision="bf16", progress=False, echo=lambda _: None)
    card = ModelStore().file(result.record, "README.md").read_text(encoding="utf-8")
    assert "**Arithmetic**: bf16 (networks under bfloat16 autocast; losses, penalty and weights float32)" in card
    assert "--set precision=bf16" in card  # the command that trains it again
    # sampling in bf16 (ganzoo serve --precision bf16): float32 samples close to fp32's, the weights untouched
    exact = load_generator(result.record.ref).sample(32, seed=3)
    low = load_generator(result.record.ref, precision="bf16").sample(32, seed=3)
    assert low.dtype == torch.float32 and not torch.equal(low, exact)
    assert torch.allclose(low, exact, rtol=0.05, atol=0.05)
    service = SamplingService(precision="bf16")
    try:
        assert service._generator_for(result.record.ref).precision == "bf16"
    finally:
        service.close()
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        load_generator(result.record.ref, precision="fp16")


# --- resume ---------------------------------------------------------------------------------------------------

def cut_back_to(run: Path, step: int) -> None:
    """Make ``run`` look killed right after its checkpoint at ``step``: later checkpoints gone."""
    checkpoints = run / "checkpoints"
    for path in checkpoints.glob("step_*"):
        if int(path.name[5:12]) > step:
            path.unlink()
    (checkpoints / LATEST).write_text(json.dumps({"step": step, "stem": f"step_{step:07d}"}))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_resume_is_bit_identical_and_keeps_the_gradient_scalers(tmp_path, monkeypatch, precision):
    if precision == "fp16":  # the fp16 path (autocast + GradScaler) on the CPU, where ganzoo does not offer it
        monkeypatch.setattr(precision_module, "FP16_DEVICES", ("cuda", "cpu"))
    whole = tiny_train(tmp_path, "wgan-gp", name="whole", steps=6, checkpoint_every=3, precision=precision)
    shutil.copytree(whole.run_dir, tmp_path / "cut")
    cut_back_to(tmp_path / "cut", 3)
    resumed = resume(tmp_path / "cut", progress=False, echo=lambda _: None)
    assert resumed.step == 6
    _, expected = load_checkpoint(whole.run_dir / "checkpoints")
    _, actual = load_checkpoint(tmp_path / "cut" / "checkpoints")
    for part in ("generator", "critic"):
        for name, tensor in expected[part].items():
            assert torch.equal(tensor, actual[part][name]), f"{part}.{name}"
    assert expected["precision"] == actual["precision"]
    if precision == "fp16":
        assert set(expected["precision"]) == {"generator", "critic"}
        assert expected["precision"]["critic"]["scale"] > 0
    else:
        assert expected["precision"] == {}
    # what a resumed trainer starts from: the scalers' state of the checkpoint (for fp16 it has counted the
    # unskipped steps and lowered the scale after skipped ones), not fresh scalers
    cut_back_to(tmp_path / "cut", 3)
    _, at_3 = load_checkpoint(tmp_path / "cut" / "checkpoints")
    config, _ = read_run(tmp_path / "cut")
    restored = make_trainer(config, get_registry(), tmp_path / "cut", progress=False).restore()
    assert restored.precision.state_dict() == at_3["precision"]
    if precision == "fp16":
        assert at_3["precision"] != Precision("fp16").state_dict()  # 3 x 5 critic steps moved the scaler


# --- the conformance kit --------------------------------------------------------------------------------------

def test_the_kit_checks_a_loss_under_bf16_against_float32():
    import torch.nn.functional as F
    from ganzoo_plugins.losses import GAN_TRAINING

    from ganzoo import GANLoss
    from ganzoo.plugin.loss import CriticStep

    class IllConditioned(GANLoss):
        """exp(10 (f(x~) - f(x))): the scores' rounding error is multiplied by about 10 |f(x~) - f(x)|."""

        def critic_loss(self, critic, real, fake):
            loss = torch.exp(10 * (critic(fake) - critic(real))).mean()
            return CriticStep(loss=loss, objective=loss.detach())

        def generator_loss(self, critic, fake):
            return F.softplus(-critic(fake)).mean()

    with pytest.raises(AssertionError) as caught:
        check_loss(LossSpec(name="ill", factory=IllConditioned, training=GAN_TRAINING))
    message = str(caught.value)
    assert "under --precision bf16 the" in message and "differs from float32 by" in message
    assert f"the tolerance is {BF16_TOLERANCE}" in message
    assert "loss 'ill'" in message
    check_loss(get_registry().loss("wgan-gp"))  # the built-ins pass (tests/test_conformance.py runs them all)
