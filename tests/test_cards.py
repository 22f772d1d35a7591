"""Model cards: every generated card has the Hugging Face front matter and every section, offline."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import torch

from ganzoo.errors import GanzooError
from ganzoo.store import ModelStore
from ganzoo.store.cards import SECTIONS, parse_front_matter, render_card, template_text

ROOT = Path(__file__).resolve().parents[1]

FID = {"metric": "fid", "label": "FID[fashion-cnn]", "value": 41.2, "extractor": "fashion-cnn", "n_samples": 2000,
       "reference": "fashion-mnist/test", "torch_fidelity_version": "0.4.0", "ganzoo_version": "0.1.0",
       "measured_at": "2026-01-01T00:00:00+00:00", "higher_is_better": False}
MODES = {"metric": "modes", "label": "modes", "value": 7, "extractor": None, "n_samples": 2500,
         "reference": "gaussians8", "higher_is_better": True}


def sections(card: str) -> list[str]:
    return re.findall(r"^## (.+)$", card, flags=re.MULTILINE)


def section(card: str, title: str) -> str:
    body = card.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def check_card(card: str, record, results: list[dict]) -> dict:
    """Every required field of a card; returns the parsed front matter."""
    meta = parse_front_matter(card)
    assert meta["library_name"] == "ganzoo"
    assert meta["license"]
    assert {"gan", record.arch, record.loss, record.dataset} <= set(meta["tags"])
    assert meta["datasets"] == [record.dataset]
    (index,) = meta["model-index"]
    assert index["name"] == record.name
    measured = [m for entry in index["results"] for m in entry["metrics"]]
    assert len(measured) == len(results)
    for entry in index["results"]:
        assert entry["task"]["type"] and entry["dataset"]["name"]
    for result, metric in zip(results, measured, strict=True):
        assert (metric["type"], metric["name"], metric["value"]) == (result["metric"], result["label"],
                                                                      float(result["value"]))
        for how in ("extractor", "n_samples", "reference"):  # how it was measured
            assert metric["args"][how] == result.get(how)
    assert sections(card) == list(SECTIONS)
    assert f"# {record.ref}" in card
    details = section(card, "Model details")
    for name in (record.arch, record.loss, record.dataset):
        assert f"`{name}`" in details
    papers = [record.config["plugins"][kind]["paper"] for kind in ("arch", "loss", "dataset")]
    assert "Gulrajani" in papers[1]  # wgan-gp's paper, read from the loss plugin's spec
    for paper in papers:
        assert paper in details and paper in section(card, "Citation")
    training = section(card, "Training")
    for field in ("**Data**", "**Steps**", "**Device**: cpu", "**Arithmetic**: fp32", "**Wall time**", "| lr |",
                  "| n_critic |", "| batch_size |", "| latent_dim |", "| loss.lambda |"):
        assert field in training, field
    evaluation = section(card, "Evaluation")
    if not results:
        assert "Not evaluated yet" in evaluation
    for result in results:
        row = next(line for line in evaluation.splitlines() if line.startswith(f"| {result['label']}"))
        assert str(result["n_samples"]) in row and result["reference"] in row
        assert (result["extractor"] or "-") in row
    assert "![samples](samples.png)" in section(card, "Samples")
    assert "not a production model" in section(card, "Uses and limitations")
    assert "@software{ganzoo" in section(card, "Citation")
    return meta


def test_the_template_in_model_cards_is_the_one_the_package_uses():
    assert (ROOT / "model_cards" / "TEMPLATE.md").read_text(encoding="utf-8") == template_text()


@pytest.mark.parametrize("run", ["tiny_points_run", "tiny_image_run"])
def test_every_card_has_every_required_field_before_and_after_evaluation(run, request):
    store = ModelStore()
    record = store.register(request.getfixturevalue(run).run_dir)
    card = store.file(record, "README.md").read_text(encoding="utf-8")
    meta = check_card(card, record, [])
    assert meta["model-index"][0]["results"] == []
    results = [FID] if record.config["data_kind"] == "images" else [MODES]
    record = store.add_metrics(record.ref, results)
    check_card(store.file(record, "README.md").read_text(encoding="utf-8"), record, list(record.metrics))


def test_image_cards_declare_the_pipeline_and_group_results_by_reference_split(tiny_image_run):
    store = ModelStore()
    record = store.register(tiny_image_run.run_dir, name="fashion")
    other = {**FID, "label": "FID[inception]", "extractor": "inception", "reference": "fashion-mnist/train"}
    record = store.add_metrics(record.ref, [FID, other])
    meta = parse_front_matter(store.file(record, "README.md").read_text())
    assert meta["pipeline_tag"] == "unconditional-image-generation"
    results = meta["model-index"][0]["results"]
    assert [r["dataset"] for r in results] == [
        {"name": "fashion-mnist", "type": "fashion-mnist", "split": "test"},
        {"name": "fashion-mnist", "type": "fashion-mnist", "split": "train"}]
    assert results[0]["metrics"][0]["args"]["torch_fidelity_version"] == "0.4.0"
    assert results[0]["metrics"][0]["args"]["higher_is_better"] is False


def test_cards_quote_awkward_values_safely(tiny_points_run):
    store = ModelStore()
    record = store.register(tiny_points_run.run_dir)
    tricky = {**MODES, "label": "modes: 'quoted' # not a comment\n---", "reference": "a: b"}
    card = render_card(record.config, [tricky], record.ref)
    metric = parse_front_matter(card)["model-index"][0]["results"][0]["metrics"][0]
    assert metric["name"] == tricky["label"] and metric["args"]["reference"] == "a: b"


@pytest.mark.parametrize("text", ["# no front matter\n", "---\nlibrary_name: ganzoo\n", "---\n- a list\n---\n"])
def test_front_matter_reader_refuses_malformed_cards(text):
    with pytest.raises(GanzooError, match="front matter"):
        parse_front_matter(text)


def test_the_card_says_how_to_train_the_model_again_and_that_command_does(tmp_path):
    from typer.testing import CliRunner

    from ganzoo.api import train
    from ganzoo.cli import app
    from ganzoo.runs.checkpoint import load_checkpoint
    from ganzoo.store.cards import train_command

    first = train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "first", steps=4, lr=3e-4, seed=7, device="cpu",
                  sets={"hidden": 16, "layers": 2, "betas": [0.5, 0.9], "lambda": 5}, progress=False,
                  echo=lambda _: None)
    command = train_command(first.record.config)
    assert command == ("ganzoo train mlp wgan-gp --dataset gaussians8 --steps 4 --seed 7 --device cpu "
                       "--set arch.hidden=16 --set arch.layers=2 --set 'betas=[0.5,0.9]' --set loss.lambda=5 "
                       "--set lr=0.0003")
    card = ModelStore().file(first.record, "README.md").read_text(encoding="utf-8")
    assert f"`{command}`" in section(card, "Training")
    words = shlex.split(command)[1:] + ["--out", str(tmp_path / "again"), "--no-register", "--quiet"]
    again = CliRunner().invoke(app, words)
    assert again.exit_code == 0, again.output
    _, expected = load_checkpoint(first.run_dir / "checkpoints")
    _, actual = load_checkpoint(tmp_path / "again" / "checkpoints")
    for name, tensor in expected["generator"].items():
        assert torch.equal(tensor, actual["generator"][name]), name


# --- the reference models' cards in model_cards/ ---------------------------------------------------------------

REFERENCE_CARDS = sorted((ROOT / "model_cards").glob("*/README.md"))


def test_the_project_publishes_reference_model_cards():
    assert {path.parent.name for path in REFERENCE_CARDS} >= {
        "mlp-wgan-gp-gaussians8", "dcgan-wgan-gp-fashion-mnist", "dcgan-non-saturating-fashion-mnist"}


@pytest.mark.parametrize("path", REFERENCE_CARDS, ids=lambda path: path.parent.name)
def test_reference_cards_are_complete_measured_and_reproducible_with_todays_plugins(path):
    from ganzoo.api import make_config

    card = path.read_text(encoding="utf-8")
    meta = parse_front_matter(card)
    (index,) = meta["model-index"]
    assert meta["library_name"] == "ganzoo" and index["name"] == path.parent.name
    measured = [metric for entry in index["results"] for metric in entry["metrics"]]
    assert measured, "a reference model is published with its evaluation"
    assert all(metric["args"]["n_samples"] and metric["args"]["reference"] for metric in measured)
    assert sections(card) == list(SECTIONS)
    for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card):
        assert (path.parent / picture).is_file(), f"{path.parent.name} shows {picture} but does not ship it"
    # the command in the card still resolves with the plugins as they are now, to the steps the card reports
    command = re.search(r"To train it again[^`]*`(ganzoo train [^`]+)`", section(card, "Training")).group(1)
    words = shlex.split(command)[2:]
    arch, loss, flags = words[0], words[1], dict(zip(words[2::2], words[3::2], strict=False))
    sets = [value for flag, value in zip(words[2::2], words[3::2], strict=True) if flag == "--set"]
    config = make_config(arch, loss, flags["--dataset"], sets=sets, steps=int(flags["--steps"]),
                         seed=int(flags["--seed"]), device=flags["--device"])
    assert f"**Steps**: {config.steps} generator steps" in section(card, "Training")
