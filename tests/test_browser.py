"""A real browser on the sampling page: headless Debian Chromium, driven by Playwright, against `ganzoo serve`.

The server is the real command in a subprocess (free port, a store made by tiny training runs). The test opens the
page, picks a model, clicks Generate, waits for the image and saves a screenshot; then compares two scored models
in the Compare tab and waits for its table and pictures. It needs /usr/bin/chromium
(`bash scripts/setup.sh` as root installs Debian's `chromium`; `playwright install` cannot download a browser
offline). In CI a missing browser fails the test; elsewhere it is skipped with that reason.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from serve_support import make_store, serve_command

from ganzoo.api import evaluate_model

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


def require_chromium() -> None:
    if CHROMIUM.is_file():
        return
    message = (f"{CHROMIUM} is missing: run `bash scripts/setup.sh` as root (it installs Debian's chromium package; "
               "`playwright install` cannot download a browser offline)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    """`ganzoo serve` on a free port over a fresh store, as a user starts it; stopped with SIGTERM afterwards."""
    require_chromium()
    root = tmp_path_factory.mktemp("browser")
    store = make_store(root)
    for ref in ("toy", "toy-bare"):  # scored, so that the Compare tab has a metric to compare them on
        evaluate_model(ref, ["w1"], n=100, store=store)
    with serve_command(store, root) as url:
        yield url


def test_pick_a_model_generate_and_see_the_image(page_url, tmp_path):
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.on("request", lambda request: None if request.url.startswith((page_url, "data:", "blob:"))
                    else elsewhere.append(request.url))
            page.goto(page_url)
            picker = page.locator("#model input")
            picker.wait_for(timeout=120_000)

            picker.click()
            page.get_by_role("option", name=re.compile(r"^digits:1: dcgan \+ wgan-gp on digits")).click()
            assert picker.input_value().startswith("digits:1: dcgan + wgan-gp on digits")
            page.locator("#n input").fill("16")
            page.locator("#generate").click()
            page.wait_for_function("() => { const i = document.querySelector('#samples img');"
                                   " return i !== null && i.complete && i.naturalWidth > 0; }", timeout=120_000)
            width, height, src = page.evaluate("() => { const i = document.querySelector('#samples img');"
                                               " return [i.naturalWidth, i.naturalHeight, i.src]; }")
            assert (width, height) == (122, 122)  # 4 x 4 pictures of 28 px with 2 px padding
            assert page.request.get(src).body()[:8] == PNG
            shot = tmp_path / "sampling-page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            page.get_by_role("tab", name="Model card").click()  # picking the model also loaded its card
            page.locator("#card").get_by_text("digits:1").first.wait_for(timeout=60_000)

            page.get_by_role("tab", name="Compare").click()  # two scored models: the table and the three pictures
            chooser = page.locator("#compare-models input")
            for ref in ("toy:1", "toy-bare:1"):
                chooser.click()
                page.get_by_role("option", name=re.compile(rf"^{ref}: mlp \+ wgan-gp")).click()
            page.locator("#compare-run").click()
            page.locator("#compare-table").get_by_text("mlp on gaussians8: w1, lower is better").wait_for(
                timeout=120_000)
            for picture in ("#compare-distribution", "#compare-curves", "#compare-samples"):
                page.wait_for_function(f"() => {{ const i = document.querySelector('{picture} img');"
                                       " return i !== null && i.complete && i.naturalWidth > 0; }", timeout=60_000)
            page.screenshot(path=str(tmp_path / "compare-tab.png"), full_page=True)
        finally:
            browser.close()
    assert elsewhere == [], f"the page asked other hosts for: {elsewhere}"
