"""`ganzoo eval` and the evaluation engine: stored models and run directories, defaults by data kind, results in
the store and the card, the real-feature cache, errors, and evaluation during training (--eval-every)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ganzoo_plugins.extractors as extractors
import pytest
import torch
from data_support import needs_fashion
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from ganzoo import api
from ganzoo.api import train
from ganzoo.cli import app
from ganzoo.errors import ConfigError, GanzooError, UnknownNameError
from ganzoo.eval import engine as evaluate
from ganzoo.plugin.data import images_to_uint8
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.points import exact_w1, mode_statistics
from ganzoo.store import ModelStore
from ganzoo.store.loading import load_generator

runner = CliRunner()
CONTRACT_KEYS = {"metric", "label", "value", "extractor", "n_samples", "reference", "torch_fidelity_version",
                 "ganzoo_version", "measured_at", "higher_is_better"}


@pytest.fixture
def image_model(tiny_image_run) -> str:  # noqa: ANN001
    return ModelStore().register(tiny_image_run.run_dir, "tiny-digits").ref


@pytest.fixture
def points_model(tiny_points_run) -> str:  # noqa: ANN001
    return ModelStore().register(tiny_points_run.run_dir, "tiny-ring").ref


def images_seen() -> int:
    return extractors.fidelity_classifier_class().images_seen


# --- stored image models ------------------------------------------------------------------------------------------


def test_eval_of_a_stored_image_model_prints_saves_and_writes_the_card(image_model: str) -> None:
    result = runner.invoke(app, ["eval", "tiny-digits", "--n", "300"])
    assert result.exit_code == 0, result.output
    for label in ("FID[digits-cnn]", "IS[digits-cnn]", "KID[digits-cnn]"):
        assert label in result.output
    assert "digits-cnn" in result.output and "300" in result.output
    record = ModelStore().get("tiny-digits")
    assert [m["label"] for m in record.metrics] == ["FID[digits-cnn]", "IS[digits-cnn]", "KID[digits-cnn]"]
    for m in record.metrics:
        assert set(m) >= CONTRACT_KEYS
        assert m["extractor"] == "digits-cnn" and m["n_samples"] == 300 and m["reference"] == "digits"
        assert m["torch_fidelity_version"] == extractors.fidelity_version()
        assert m["extractor_sha256"] == extractors.find_classifier_weights("digits-cnn").sha256
    fid, inception_score, kid = record.metrics
    assert fid["higher_is_better"] is False and inception_score["higher_is_better"] is True
    assert fid["value"] > 0 and 1 <= inception_score["value"] <= 10 and "std" in kid
    assert record.headline.startswith("FID[digits-cnn] ")
    card = (record.path / "README.md").read_text()
    assert "FID[digits-cnn]" in card and "KID[digits-cnn]" in card


def test_the_second_evaluation_reads_the_real_features_from_the_cache(image_model: str) -> None:
    before = images_seen()
    first = api.evaluate_model(image_model, ["fid", "is"], n=300)
    assert images_seen() - before == 600, "300 generated + 300 real images through the classifier"
    assert {r["feature_cache_hit"] for r in first.results} == {False}
    before = images_seen()
    second = api.evaluate_model(image_model, ["fid", "is"], n=300)
    assert images_seen() - before == 300, "only the generated images: the real features came from the cache"
    assert {r["feature_cache_hit"] for r in second.results} == {True}
    assert [r["value"] for r in second.results] == [r["value"] for r in first.results]
    cached = sorted(p.name for p in extractors.feature_cache_dir().iterdir())
    sha = extractors.find_classifier_weights("digits-cnn").sha256
    stem = cached[0].rsplit(".", 1)[0]
    assert cached == [f"{stem}.json", f"{stem}.safetensors"]
    assert stem.startswith("digits-all-n300-") and stem.endswith(f"-{sha[:16]}-digits-cnn")
    sidecar = json.loads((extractors.feature_cache_dir() / f"{stem}.json").read_text())
    assert sidecar["extractor_sha256"] == sha and sidecar["n"] == 300 and sidecar["layers"] == {"128": [300, 128]}
    assert sidecar["sha256"] == extractors.sha256_file(extractors.feature_cache_dir() / f"{stem}.safetensors")


def _is_pickle(path: Path) -> bool:
    """A raw pickle (protocol 2+ starts with 0x80) or torch.save's zip archive (it holds a ``data.pkl``)."""
    import zipfile

    data = path.read_bytes()
    head = data[:2]
    if len(data) > 8 and data[8:9] == b"{" and 8 + int.from_bytes(data[:8], "little") <= len(data):
        return False  # safetensors: an 8-byte header length, then its JSON header (the length may start with 0x80)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return True
    if head == b"PK" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith(".pkl") for name in archive.namelist())
    return False


def test_no_file_under_ganzoo_home_is_a_pickle(image_model: str, tmp_path: Path) -> None:
    """torch-fidelity's own cache (torch.save files it reads back with weights_only=False) is never used."""
    torch.save({"x": torch.zeros(1)}, tmp_path / "probe.pt")
    assert _is_pickle(tmp_path / "probe.pt"), "the detector recognises torch.save output"
    api.evaluate_model(image_model, ["fid", "is", "kid", "prc"], n=200)
    api.evaluate_model(image_model, ["fid", "is", "kid", "prc"], n=200)  # the cached path, too
    home = Path(os.environ["GANZOO_HOME"])
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in extractors.feature_cache_dir().iterdir())
    assert [p for p in files if _is_pickle(p) or p.suffix in (".pt", ".pth", ".pkl")] == []
    assert not (home / "cache" / "fidelity").exists()


def test_other_extractor_weights_never_reuse_the_cache(image_model: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Same extractor NAME, different weights (a retrained digits-cnn): the cache key differs by the sha256."""
    api.evaluate_model(image_model, ["fid"], n=200)
    shipped = extractors.shipped_weights_dir()
    state = load_file(shipped / "digits-cnn.safetensors")
    state["head.bias"] = state["head.bias"] + 0.01
    save_file(state, tmp_path / "digits-cnn.safetensors")
    meta = json.loads((shipped / "digits-cnn.json").read_text())
    meta["sha256"] = extractors.sha256_file(tmp_path / "digits-cnn.safetensors")
    (tmp_path / "digits-cnn.json").write_text(json.dumps(meta))
    monkeypatch.setenv(extractors.EXTRACTOR_DIR_ENV, str(tmp_path))
    before = images_seen()
    [result] = api.evaluate_model(image_model, ["fid"], n=200).results
    assert images_seen() - before == 400 and result["feature_cache_hit"] is False
    assert result["extractor_sha256"] == meta["sha256"]


def test_generated_samples_are_the_stored_generators_samples(image_model: str) -> None:
    generator = load_generator(image_model)
    batched = evaluate.generate(generator, generator.latent_dim, 700, seed=3)  # two batches of at most 500
    assert torch.allclose(batched, generator.sample(700, seed=3), atol=1e-6)
    uint8 = images_to_uint8(torch.tensor([[-1.0, -0.2, 0.0, 0.5, 1.0, 3.0]]))
    assert uint8.tolist() == [[0, 102, 128, 191, 255, 255]]


def test_inception_is_never_a_silent_fallback(image_model: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(extractors.INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    result = runner.invoke(app, ["eval", "tiny-digits", "--extractor", "inception", "--is", "--n", "50"])
    assert isinstance(result.exception, GanzooError)
    assert extractors.inception_url() in result.exception.hint and "--extractor fashion-cnn" in result.exception.hint
    assert ModelStore().get("tiny-digits").metrics == (), "nothing measured, nothing stored"


def test_fid_refuses_fewer_samples_than_feature_dimensions(image_model: str) -> None:
    with pytest.raises(GanzooError, match="at least 128") as caught:
        api.evaluate_model(image_model, ["fid"], n=100)
    assert "--n 10000" in caught.value.hint


@pytest.mark.parametrize(("args", "error", "words"), [
    (["eval", "tiny-digits", "--run", "somewhere"], ConfigError, "not both"),
    (["eval", "tiny-digits", "--split", "train"], ConfigError, "no train/test split"),
    (["eval", "tiny-digits", "--metric", "fidd"], UnknownNameError, "fid"),
    (["eval", "tiny-digits", "--metric", "w1"], ConfigError, "scores points"),
    (["eval", "tiny-digits", "--extractor", "fashion-cn"], ConfigError, "unknown extractor"),
    (["eval", "tiny-digits", "--n", "1"], ConfigError, "--n must be"),
    (["eval", "no-such-model"], UnknownNameError, "no-such-model"),
])
def test_bad_eval_requests_are_clear_errors(image_model: str, args: list[str], error: type, words: str) -> None:
    result = runner.invoke(app, args)
    assert isinstance(result.exception, error), result.output
    assert words in str(result.exception)


def test_eval_without_a_name_scores_the_model_stored_last(tiny_image_run, tiny_points_run, tmp_path) -> None:  # noqa: ANN001
    empty = runner.invoke(app, ["eval", "--metric", "w1"])
    assert isinstance(empty.exception, UnknownNameError) and "holds no model yet" in str(empty.exception)
    assert "ganzoo train" in empty.exception.hint
    store = ModelStore()
    store.register(tiny_points_run.run_dir, "tiny-ring")
    store.register(tiny_image_run.run_dir, "tiny-digits")
    store.import_(store.export("tiny-ring:1", tmp_path / "copy"), "tiny-ring")  # stored last: not the newest name
    result = runner.invoke(app, ["eval", "--metric", "w1", "--n", "400"])
    assert result.exit_code == 0, result.output
    assert "evaluating tiny-ring:2, the model stored last" in result.output
    assert [m["label"] for m in store.get("tiny-ring:2").metrics] == ["w1"]
    assert store.get("tiny-ring:1").metrics == () and store.get("tiny-digits").metrics == ()


def test_the_real_command_exits_2_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": ""}
    done = subprocess.run([sys.executable, "-m", "ganzoo.cli", "eval", "--run", str(tmp_path / "nope")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr and "ganzoo train" in done.stderr


# --- points and run directories -----------------------------------------------------------------------------------


def test_eval_of_a_run_directory_uses_the_toy_metrics_and_writes_results_json(tiny_points_run,  # noqa: ANN001
                                                                               tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_points_run.run_dir, run_dir)  # the session's run stays untouched
    result = runner.invoke(app, ["eval", "--run", str(run_dir), "--n", "400", "--seed", "5"])
    assert result.exit_code == 0, result.output
    saved = json.loads((run_dir / "results.json").read_text())
    assert [r["label"] for r in saved] == ["modes", "hq_percent", "reverse_kl", "w1"]
    assert all(set(r) >= CONTRACT_KEYS and r["reference"] == "gaussians8" and r["extractor"] is None for r in saved)
    # the numbers are the metric functions' on the same samples: the generator rebuilt from the newest checkpoint
    subject = evaluate.subject_from_run(run_dir)
    fake = evaluate.generate(subject.generator, subject.latent_dim, 400, seed=5)
    real = evaluate.reference_data(get_registry(), "gaussians8", {}, None)
    values = {r["label"]: r["value"] for r in saved}
    expected = mode_statistics(fake, real.modes, real.mode_std)
    assert values["modes"] == expected["modes"] and values["hq_percent"] == expected["hq_percent"]
    assert values["w1"] == pytest.approx(exact_w1(fake, real.sample(400, torch.Generator().manual_seed(5))),
                                         abs=1e-9)
    assert {r["label"]: r["higher_is_better"] for r in saved} == {
        "modes": True, "hq_percent": True, "reverse_kl": False, "w1": False}
    runner.invoke(app, ["eval", "--run", str(run_dir), "--n", "300", "-m", "w1", "--no-save"])
    assert json.loads((run_dir / "results.json").read_text()) == saved
    # registering the run afterwards carries its results into the store and the card
    record = ModelStore().register(run_dir, "evaluated-run")
    assert [m["label"] for m in record.metrics] == ["modes", "hq_percent", "reverse_kl", "w1"]


def test_a_points_model_rejects_image_options(points_model: str) -> None:
    with pytest.raises(ConfigError, match="scores images"):
        api.evaluate_model(points_model, ["fid"], n=200)
    with pytest.raises(ConfigError, match="has no effect"):
        api.evaluate_model(points_model, ["w1"], n=200, extractor="fashion-cnn")


def test_json_output_and_table(points_model: str) -> None:
    result = runner.invoke(app, ["eval", points_model, "-m", "w1", "-m", "wasserstein", "--n", "300", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)  # an alias of a chosen metric does not score it twice
    assert row["label"] == "w1" and row["n_samples"] == 300
    table = evaluate.format_table([row, {**row, "label": "IS[x]", "value": 7.123456, "std": 0.05,
                                         "higher_is_better": True, "extractor": "x"}]).splitlines()
    assert table[0].split() == ["metric", "value", "better", "samples", "reference", "extractor"]
    assert table[3].split()[:5] == ["IS[x]", "7.123", "+-", "0.05", "higher"]
    assert ModelStore().get(points_model).metrics[0]["label"] == "w1"


# --- during training ----------------------------------------------------------------------------------------------


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_eval_every_logs_the_metric_without_changing_training(tmp_path: Path) -> None:
    common = {"steps": 6, "batch_size": 32, "device": "cpu", "progress": False, "echo": lambda _: None,
              "register": False, "sets": {"hidden": 16, "layers": 2}}
    plain = train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "plain", **common)
    scored = train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "scored", eval_every=3, eval_n=300, **common)
    records = _records(scored.run_dir)
    assert [r["step"] for r in records if "eval/w1" in r] == [0, 3, 6]
    assert records[0] == {"step": 0, "time": 0.0, "eval/w1": records[0]["eval/w1"]}
    losses = ["critic_loss", "generator_loss", "w_estimate"]
    assert [[r[k] for k in losses] for r in records[1:]] == [[r[k] for k in losses] for r in _records(plain.run_dir)]
    assert scored.curves.is_file()
    config = json.loads((scored.run_dir / "config.json").read_text())["config"]
    assert config["eval_every"] == 3 and config["sources"]["eval_every"] == "command line"


def test_eval_every_on_images_logs_the_labelled_classifier_fid(tmp_path: Path) -> None:
    result = train("dcgan", "wgan-gp", "digits", out=tmp_path / "run", steps=2, batch_size=16, device="cpu",
                   progress=False, echo=lambda _: None, register=False, sets={"width": 8}, eval_every=1,
                   eval_n=200)
    records = _records(result.run_dir)
    values = [r["eval/FID[digits-cnn]"] for r in records]
    assert [r["step"] for r in records] == [0, 1, 2] and all(v > 0 for v in values)


def test_eval_every_checks_its_metric_before_training(tmp_path: Path) -> None:
    common = {"steps": 2, "device": "cpu", "progress": False, "echo": lambda _: None, "register": False}
    with pytest.raises(ConfigError, match="scores images"):
        train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "a", eval_every=1, eval_metric="fid", **common)
    with pytest.raises(UnknownNameError):
        train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "b", eval_every=1, eval_metric="nope", **common)
    with pytest.raises(ConfigError, match="eval_every"):
        train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "c", eval_every=-1, **common)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_train_command_takes_eval_every_and_eval_metric(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "mlp", "wgan-gp", "-d", "gaussians8", "--steps", "2", "--eval-every", "1",
                                 "--eval-metric", "modes", "--set", "hidden=8", "--set", "layers=2", "--set",
                                 "eval_n=100", "-q", "--out", str(tmp_path / "run"), "--no-register"])
    assert result.exit_code == 0, result.output
    records = _records(tmp_path / "run")
    assert [sorted(k for k in r if k.startswith("eval/")) for r in records] == [
        ["eval/hq_percent", "eval/modes", "eval/reverse_kl"]] * 3
    assert all(0 <= r["eval/modes"] <= 8 for r in records)


@needs_fashion
def test_the_eval_benchmark_runs_and_its_cached_run_skips_the_real_features() -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_eval.py"
    done = subprocess.run([sys.executable, str(script), "--n", "300", "--threads", "1", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    cold, cached = report["runs"]
    assert (cold["classifier_images"], cached["classifier_images"]) == (600, 300)
    assert (cold["cache_hit"], cached["cache_hit"]) == (False, True) and cold["values"] == cached["values"]
    assert report["real_features_recomputed_in_cached_run"] is False
