"""Explore's compare mode in a real Chromium: two maps, a click on either decodes in both
models and marks the carried point on the other map, and one interpolation strip per model.

The second model is a copy of the pretrained one under another run name, so where the
carried point must land is known exactly: on the clicked image's own point.
Skipped when chromium or playwright is missing, unless VAEFLOW_REQUIRE_BROWSER=1.
"""

import re
import shutil

import pytest

import browser_util as bu

pytestmark = pytest.mark.browser
ARTIFACTS = bu.REPO / "artifacts" / "browser"
COPY = "pretrained-copy"
DECODED_2 = ".st-key-decoded_view_2 img"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    bu.require_browser()
    runs = tmp_path_factory.mktemp("runs")
    shutil.copytree(bu.REPO / "pretrained", runs / COPY / "model")
    (runs / COPY / "config.json").write_text('{"train": {"data": null}, "model": {}}')
    with bu.streamlit_server(log_path=ARTIFACTS / "streamlit_compare.log", timeout_s=120,
                             env={"VAEFLOW_RUNS_DIR": str(runs)}) as url:
        yield url


# Latent (x, y) -> page pixels on the i-th map, and a named trace's points there.
_TO_PIXELS = """([i, x, y]) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis; const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)]; }"""
_TRACE = """([i, name]) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
  const t = gd.data.find(t => t.name === name); return t ? [Array.from(t.x), Array.from(t.y)] : null; }"""


def _trace(page, i, name):
    return page.evaluate(_TRACE, [i, name])


def _click(page, i, x, y):
    px, py = page.evaluate(_TO_PIXELS, [i, x, y])
    page.mouse.click(px, py)


def _wait_both_changed(page, before):
    page.wait_for_function(
        """([s1, s2, o1, o2]) => { const a = document.querySelector(s1), b = document.querySelector(s2);
             return a && b && a.src !== o1 && b.src !== o2 && a.complete && b.complete
                    && a.naturalWidth > 0 && b.naturalWidth > 0; }""",
        arg=[bu.DECODED_IMG, DECODED_2, *before], polling="raf", timeout=30_000)
    page.wait_for_selector(bu.IDLE)


def test_a_click_on_either_map_decodes_in_both_and_marks_the_other(app_url):
    with bu.chromium_page(width=1440, height=2000) as page:
        page.goto(app_url + f"/?vs={COPY}")
        try:
            page.wait_for_selector(DECODED_2, timeout=300_000)
            page.wait_for_selector(bu.IDLE, timeout=120_000)
        except Exception as error:
            alerts = page.locator("[data-testid='stAlert'], [data-testid='stException']").all_inner_texts()
            page.screenshot(path=str(ARTIFACTS / "compare_00_not_ready.png"), full_page=True)
            raise AssertionError(f"compare mode did not become ready: {error}; alerts: {alerts}") from None
        assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot .nsewdrag').length") == 2
        assert page.locator(".st-key-interp_strip img").count() == 1
        assert page.locator(".st-key-interp_strip_2 img").count() == 1

        # a data point of the first map: its image decodes in both models, and the copy
        # marks that image's own point on its map
        row, (x, y), gap_px = bu.isolated_data_point(page)
        before = (bu.image_src(page, bu.DECODED_IMG), bu.image_src(page, DECODED_2))
        _click(page, 0, x, y)
        _wait_both_changed(page, before)
        first = page.inner_text(".st-key-decoded_view")
        second = page.inner_text(".st-key-decoded_view_2")
        clicked = re.search(r"clicked · #(\d+)", first)
        assert clicked, first
        assert f"nearest image ◇ · #{clicked.group(1)} " in second, second
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot')[1].data.some(t => t.name === 'mark')",
            timeout=30_000)
        (mx,), (my,) = _trace(page, 1, "mark")
        xs, ys = _trace(page, 1, "dataset")
        r = int(clicked.group(1))
        assert (mx, my) == pytest.approx((xs[r], ys[r]), abs=1e-4)
        page.screenshot(path=str(ARTIFACTS / "compare_01_clicked_first_map.png"), full_page=True)

        # empty space on the second map: decoded in both, the mark moves to the first map
        gx, gy = _trace(page, 1, "click grid")
        k = len(gx) // 2 + 7
        before = (bu.image_src(page, bu.DECODED_IMG), bu.image_src(page, DECODED_2))
        _click(page, 1, gx[k], gy[k])
        _wait_both_changed(page, before)
        assert "clicked" in page.inner_text(".st-key-decoded_view_2")
        assert "nearest image ◇" in page.inner_text(".st-key-decoded_view")
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot')[0].data.some(t => t.name === 'mark')",
            timeout=30_000)
        assert "zmap=2" in page.url
        page.screenshot(path=str(ARTIFACTS / "compare_02_clicked_second_map.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0
