"""Explore at 1100, 1280 and 1440 px in a real Chromium: no image runs past its column or the
window, no control label is cut short, and a run that finishes while the page is open joins
the model list without a reload. Screenshots: artifacts/browser/layout_<width>.png.

Skipped when chromium or playwright is missing, unless VAEFLOW_REQUIRE_BROWSER=1.
"""

import shutil
import time

import pytest

import browser_util as bu

pytestmark = pytest.mark.browser
ARTIFACTS = bu.REPO / "artifacts" / "browser"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def app_url(runs):
    bu.require_browser()
    with bu.streamlit_server(log_path=ARTIFACTS / "streamlit_layout.log", timeout_s=120,
                             env={"VAEFLOW_RUNS_DIR": str(runs)}) as url:
        yield url


# Images wider than their column or the window, and labels whose text is cut (ellipsis).
_OVERFLOWS = """() => {
  const out = []; const width = document.documentElement.clientWidth;
  for (const img of document.querySelectorAll('[data-testid="stImage"] img')) {
    const r = img.getBoundingClientRect();
    const col = img.closest('[data-testid="stColumn"]') || img.closest('[data-testid="stMainBlockContainer"]');
    const c = col.getBoundingClientRect();
    if (r.right > c.right + 1 || r.right > width) out.push('image ' + (img.alt || '') + ' ' + r.right + ' > ' + c.right);
  }
  for (const label of document.querySelectorAll('[data-testid="stWidgetLabel"] p, [data-testid="stWidgetLabel"] div')) {
    if (label.scrollWidth > label.clientWidth + 1) out.push('label ' + label.innerText);
  }
  return out; }"""


@pytest.mark.parametrize("width", [1100, 1280, 1440])
def test_nothing_overflows_or_is_cut_short(app_url, width):
    with bu.chromium_page(width=width, height=2600) as page:
        bu.open_explore(page, app_url, timeout_ms=180_000)
        time.sleep(1.0)
        page.screenshot(path=str(ARTIFACTS / f"layout_{width}.png"), full_page=True)
        assert page.evaluate(_OVERFLOWS) == []


def test_a_run_finishing_while_the_page_is_open_joins_the_model_list(app_url, runs):
    with bu.chromium_page(width=1280, height=1600) as page:
        bu.open_explore(page, app_url, timeout_ms=180_000)
        shutil.copytree(bu.REPO / "pretrained", runs / "just-finished" / "model")
        (runs / "just-finished" / "config.json").write_text('{"train": {"data": null}, "model": {}}')
        deadline = time.monotonic() + 60
        while True:
            page.wait_for_selector(bu.IDLE)
            page.locator(".st-key-explore_model").click()
            found = page.get_by_role("option", name="just-finished").count() > 0
            page.keyboard.press("Escape")
            if found or time.monotonic() > deadline:
                break
            time.sleep(2.0)
        assert found, "the finished run never joined the model list"
