"""The Explore page in a real Chromium against `streamlit run explorer/app.py`.

It clicks the latent map on empty space and on a dataset point and checks that the decoded
image changed each time; it drags the interpolation slider and checks that the frame changed.
Screenshots go to artifacts/ (git-ignored). Skipped when chromium or playwright is missing,
unless VAEFLOW_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

import re
from pathlib import Path

import pytest

import browser_util as bu
from explorer.selection import DATA_TRACE

pytestmark = pytest.mark.browser
ARTIFACTS = bu.REPO / "artifacts" / "browser"


@pytest.fixture(scope="module")
def app_url():
    bu.require_browser()
    with bu.streamlit_server(log_path=ARTIFACTS / "streamlit.log", timeout_s=120) as url:
        yield url


@pytest.fixture
def page(app_url):
    with bu.chromium_page() as page:
        bu.open_explore(page, app_url, timeout_ms=150_000)
        yield page


def _shot(page, name: str) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _decoded_caption(page) -> str:
    return page.inner_text(".st-key-decoded_view")


def test_clicks_decode_and_the_slider_moves_the_frame(page):
    _shot(page, "01_explore_loaded.png")
    assert page.locator("[data-testid='stException']").count() == 0
    src = bu.image_src(page, bu.DECODED_IMG)
    assert src

    # 1. A click on empty space (no dataset point within 14 px) decodes that z.
    (x, y) = bu.empty_spots(page, 1)[0]
    bu.click_latent(page, x, y)
    src_empty = bu.wait_image_changed(page, bu.DECODED_IMG, src)
    page.wait_for_selector(bu.IDLE)
    caption = _decoded_caption(page)
    assert "#" not in caption, caption  # not attributed to a dataset point
    shown = [float(v) for v in re.findall(r"[+-]\d+\.\d+", caption)[:2]]
    (x0, x1), (y0, y1) = bu.axis_ranges(page)
    # the decoded z is the grid node under the cursor: within a grid cell of the click
    assert abs(shown[0] - x) <= (x1 - x0) / 40 and abs(shown[1] - y) <= (y1 - y0) / 40, (shown, x, y)
    _shot(page, "02_clicked_empty_space.png")

    # 2. A click on a dataset point decodes its posterior mean and shows its true image and
    #    reconstruction beside the decode.
    row, (x, y), gap_px = bu.isolated_data_point(page)
    bu.click_latent(page, x, y)
    src_point = bu.wait_image_changed(page, bu.DECODED_IMG, src_empty)
    assert src_point != src_empty
    page.wait_for_selector(bu.IDLE)
    match = re.search(r"#(\d+)", _decoded_caption(page))
    assert match, _decoded_caption(page)
    if gap_px >= 10:  # an isolated point: the click can only have hit that one
        assert int(match.group(1)) == row, (row, gap_px, _decoded_caption(page))
    neighbours = page.inner_text(".st-key-decoded_neighbours")
    assert f"true image #{match.group(1)} · its reconstruction · nearest other #" in neighbours, neighbours
    _shot(page, "03_clicked_data_point.png")

    # 3. Dragging the t slider decodes another point of the A → B path.
    frame = bu.image_src(page, bu.FRAME_IMG)
    t_input = page.locator(".st-key-explore_t input[type='range']")
    thumb = t_input.locator("xpath=..")  # the visible knob around the (hidden) range input
    thumb.scroll_into_view_if_needed()
    t_before = t_input.input_value()
    box = thumb.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 90, cy, steps=8)
    page.mouse.up()
    new_frame = bu.wait_image_changed(page, bu.FRAME_IMG, frame)
    assert new_frame != frame
    assert float(t_input.input_value()) > float(t_before)
    page.wait_for_selector(bu.IDLE)
    _shot(page, "04_dragged_t_slider.png")
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_click_sets_endpoint_a_and_its_box_says_which_point(page):
    """In "A" mode a click on empty space makes A a free point (its dataset box empties), a
    click on a data point makes A that row (its box shows the row)."""
    row_box = page.locator(".st-key-explore_row_A input")
    page.locator(".st-key-explore_click_sets").get_by_text("A", exact=True).click()
    page.wait_for_selector(bu.IDLE)
    assert row_box.input_value() != ""  # A starts at a dataset image

    (x, y) = bu.empty_spots(page, 1)[0]
    bu.click_latent(page, x, y)
    page.wait_for_function("(sel) => document.querySelector(sel).value === ''",
                           arg=".st-key-explore_row_A input", timeout=20_000)
    # the caption says A is a free point (it may land a fragment rerun after the box empties)
    page.wait_for_function(r"() => /A: z = \([+-]\d/.test(document.body.innerText)", timeout=20_000)

    row, (x, y), gap_px = bu.isolated_data_point(page)
    bu.click_latent(page, x, y)
    page.wait_for_function("(sel) => document.querySelector(sel).value !== ''",
                           arg=".st-key-explore_row_A input", timeout=20_000)
    if gap_px >= 10:
        assert row_box.input_value() == str(row)
    _shot(page, "05_clicked_sets_A.png")
    assert page.locator("[data-testid='stException']").count() == 0


def test_error_map_toggle_draws_the_heatmap_and_a_cell_click_shows_its_images(page):
    """The error-map toggle puts a heatmap with a colour bar in nats behind the points; a
    click on one of its cells shows that cell's decoded image, true image and difference."""
    has_heatmap = "() => document.querySelector('.js-plotly-plot').data.some(t => t.name === 'error map')"
    assert not page.evaluate(has_heatmap)
    page.locator(".st-key-explore_error_map").get_by_text("Error map").click()
    page.wait_for_function(has_heatmap, timeout=120_000)
    page.wait_for_selector(bu.IDLE)
    assert "decode error (nats)" in page.locator(".js-plotly-plot .infolayer").text_content()
    # A cell whose centre has no dataset point within 14 px: the click lands on empty space.
    xs, ys = page.evaluate(
        "() => { const t = document.querySelector('.js-plotly-plot').data.find(t => t.name === 'error map');"
        " return [Array.from(t.x), Array.from(t.y)]; }")
    data = [bu.latent_to_pixels(page, x, y) for x, y in bu.trace_points(page, DATA_TRACE)]
    target = None
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            px, py = bu.latent_to_pixels(page, x, y)
            if all((px - qx) ** 2 + (py - qy) ** 2 >= 14**2 for qx, qy in data):
                target = (i, j, x, y)
    assert target, "no empty error-map cell"
    i, j, x, y = target
    # heatmap rows go up the y axis; the caption counts rows from the top
    expected = f"(row {len(ys) - j}, column {i + 1})"
    page.wait_for_selector(".st-key-error_cell img", timeout=60_000)
    assert expected not in page.inner_text(".st-key-error_cell")  # the origin's cell before
    bu.click_latent(page, x, y)
    page.wait_for_function("([sel, text]) => document.querySelector(sel).innerText.includes(text)",
                           arg=[".st-key-error_cell", expected], timeout=60_000)
    page.wait_for_selector(bu.IDLE)
    assert page.inner_text(".st-key-error_cell").strip().endswith("nats")
    page.locator(".st-key-error_cell").scroll_into_view_if_needed()
    _shot(page, "06_error_map.png")
    assert page.locator("[data-testid='stException']").count() == 0

    page.locator(".st-key-explore_error_map").get_by_text("Error map").click()
    page.wait_for_function(f"() => !({has_heatmap})()", timeout=60_000)
    page.wait_for_selector(".st-key-error_cell", state="detached", timeout=60_000)
