"""The sampling page's Compare tab through a real server (gradio_client, free port) over the comparison tests' tiny
scored models (tests/compare_support.py): the same numbers as `ganzoo compare`, the pictures, and its input checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compare_support import REFS
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from ganzoo.compare.make import make_comparison
from ganzoo.compare.report import tables_markdown
from ganzoo.serve.app import build_app
from ganzoo.serve.compare_tab import CompareActions
from ganzoo.serve.server import serving
from ganzoo.serve.service import SamplingService

pytestmark = [  # pandas deprecations raised inside Gradio's queue, not ours
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def page(compare_models, tmp_path_factory):
    store = compare_models[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-cache")))
        patch.setenv("GANZOO_HOME", str(store.home))
        service = SamplingService(store, cache_size=4)
        app = build_app(service=service)
        try:
            with serving(app) as url:
                client = Client(url, verbose=False, analytics_enabled=False,
                                download_files=str(tmp_path_factory.mktemp("downloads")))
                yield {"client": client, "service": service, "store": store}
        finally:
            service.close()


def test_compare_tab_shows_the_tables_plots_and_grids(page):
    text, distribution, curves, samples, data = page["client"].predict(None, REFS, "", api_name="/compare")
    expected = make_comparison(REFS, store=page["store"])
    assert text.strip() == tables_markdown(expected).strip()
    assert data["tables"] == expected.to_dict()["tables"] and data["metric"]["key"] == "w1"
    for path in (distribution, curves, samples):
        assert Path(path).read_bytes()[:8] == PNG
    with Image.open(samples) as image:
        assert image.width >= 600  # the two losses' best models side by side
    # the best models came through the page's generator cache, not a second loader
    assert {row.best.outcome.model_ref for row in expected.tables[0].rows} <= set(page["service"].generators.keys())


def test_compare_tab_with_a_metric_and_a_single_model_name(page):
    text, *_ , data = page["client"].predict("", [REFS[0].split(":")[0], REFS[2]], "w1", api_name="/compare")
    assert data["sources"] == [REFS[0].split(":")[0], REFS[2]] and len(data["trials"]) == 2
    assert "no standard deviation or interval" in text


@pytest.mark.parametrize(("sweep", "models", "metric", "message"), [
    (None, [], "", "nothing to compare"),
    ("../../etc", [], "", "is not a sweep id; this page opens sweeps by id only"),
    ("/tmp/sweep", [], "", "is not a sweep id"),
    (None, ["/etc/passwd"], "", "looks like a file path"),
    (None, "toy", 3, "metric must be a result key"),
    ("no-such-sweep", [], "", "is neither a sweep nor a model in the store"),
    (None, [REFS[0]], "fid", "metric 'fid' is missing for 1 of 1 finished trials"),
])
def test_compare_tab_refuses_bad_input_with_a_message(page, sweep, models, metric, message):
    with pytest.raises(AppError, match=message):
        page["client"].predict(sweep, models, metric, api_name="/compare")


def test_sweeps_listed_are_the_ids_the_store_knows(compare_models, tmp_path):
    service = SamplingService(compare_models[0])
    try:
        actions = CompareActions(service)
        pointer = compare_models[0].home / "sweeps" / "toy-sweep-1.json"
        created = not pointer.parent.exists()
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.write_text(json.dumps({"folder": str(tmp_path)}), encoding="utf-8")
        try:
            assert "toy-sweep-1" in actions.sweeps()
        finally:
            pointer.unlink()
            if created:
                pointer.parent.rmdir()
    finally:
        service.close()
