"""A real browser on the sampling page: headless Debian Chromium, driven by Playwright, against `ganzoo serve`.

The server is the real command in a subprocess (free port, a store made by tiny training runs). The test opens the
page, picks a model, clicks Generate, waits for the image and saves a screenshot. It needs /usr/bin/chromium
(`bash scripts/setup.sh` as root installs Debian's `chromium`; `playwright install` cannot download a browser
offline). In CI a missing browser fails the test; elsewhere it is skipped with that reason.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from serve_support import make_store, serve_command

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
    with serve_command(make_store(root), root) as url:
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
        finally:
            browser.close()
    assert elsewhere == [], f"the page asked other hosts for: {elsewhere}"
