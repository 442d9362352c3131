"""Explore's view in a real Chromium: it survives a visit to another page, and its link
opened in a fresh browser context shows the same decoded image, frame and map.

Skipped when chromium or playwright is missing, unless VAEFLOW_REQUIRE_BROWSER=1.
"""

import base64
import io
import re

import numpy as np
import pytest

import browser_util as bu

pytestmark = pytest.mark.browser
ARTIFACTS = bu.REPO / "artifacts" / "browser"


@pytest.fixture(scope="module")
def app_url():
    bu.require_browser()
    with bu.streamlit_server(log_path=ARTIFACTS / "streamlit_link.log", timeout_s=120) as url:
        yield url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=bu.CHROMIUM, headless=True, args=bu.CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _pixels(page, selector: str) -> np.ndarray:
    """The image at `selector` as decoded pixels (fetched by the page itself)."""
    from PIL import Image

    data = page.evaluate("""async (sel) => {
        const img = document.querySelector(sel);
        const blob = await (await fetch(img.src)).blob();
        return await new Promise(ok => { const r = new FileReader();
            r.onload = () => ok(r.result.split(',')[1]); r.readAsDataURL(blob); });
    }""", selector)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def _colour_bar(page) -> str:
    return page.evaluate("() => document.querySelector('.js-plotly-plot').data[0].marker.colorbar.title.text")


def _go(page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav'] a", has_text=re.compile(title + "$")).click()
    page.wait_for_selector(bu.IDLE, timeout=60_000)


def test_view_survives_another_page_and_its_link_reopens_it(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    bu.open_explore(page, app_url, timeout_ms=150_000)
    # a non-default view: colour by a, a clicked free point, t moved
    page.locator(".st-key-explore_colour_by").click()
    page.get_by_role("option", name="a", exact=True).click()
    page.wait_for_selector(bu.IDLE)
    page.wait_for_selector(bu.DECODED_IMG)
    src = bu.image_src(page, bu.DECODED_IMG)
    (x, y) = bu.empty_spots(page, 1)[0]
    bu.click_latent(page, x, y)
    bu.wait_image_changed(page, bu.DECODED_IMG, src)
    page.wait_for_selector(bu.IDLE)
    t_input = page.locator(".st-key-explore_t input[type='range']")
    t_input.focus()
    frame = bu.image_src(page, bu.FRAME_IMG)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    bu.wait_image_changed(page, bu.FRAME_IMG, frame)
    page.wait_for_selector(bu.IDLE)
    page.wait_for_function("() => new URL(location.href).searchParams.get('t') === '0.53'", timeout=20_000)
    decoded = _pixels(page, bu.DECODED_IMG)
    frame = _pixels(page, bu.FRAME_IMG)
    caption = page.inner_text(".st-key-decoded_view")
    link = page.url
    assert "z=" in link and "colour=a" in link, link

    # Explore -> Train -> Explore: the same view
    _go(page, "Train")
    _go(page, "Explore")
    page.wait_for_selector(bu.DECODED_IMG)
    assert page.inner_text(".st-key-decoded_view") == caption
    assert np.array_equal(_pixels(page, bu.DECODED_IMG), decoded)
    assert np.array_equal(_pixels(page, bu.FRAME_IMG), frame)
    assert _colour_bar(page) == "a"
    page.screenshot(path=str(ARTIFACTS / "link_01_back_from_train.png"), full_page=True)

    # the link in a fresh browser context (another session, no shared state)
    other = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    other.goto(link)
    other.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=120_000)
    other.wait_for_selector(bu.DECODED_IMG)
    other.wait_for_selector(bu.IDLE)
    assert other.inner_text(".st-key-decoded_view") == caption
    assert np.array_equal(_pixels(other, bu.DECODED_IMG), decoded)
    assert np.array_equal(_pixels(other, bu.FRAME_IMG), frame)
    assert _colour_bar(other) == "a"
    assert other.locator("[data-testid='stAlert']").count() == 0
    other.screenshot(path=str(ARTIFACTS / "link_02_fresh_context.png"), full_page=True)

    # a bad link: the defaults and one warning, no exception
    other.goto(app_url + "/?z=abc&t=7&model=deleted-run")
    other.wait_for_selector(bu.DECODED_IMG, timeout=120_000)
    other.wait_for_selector(bu.IDLE)
    alerts = other.locator("[data-testid='stAlert']").all_inner_texts()
    assert len(alerts) == 1 and 'z = "abc"' in alerts[0] and 't = "7"' in alerts[0], alerts
    assert other.locator("[data-testid='stException']").count() == 0
    assert "origin" in other.inner_text(".st-key-decoded_view")
