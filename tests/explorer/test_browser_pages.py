"""The Dataset and Train pages in a real Chromium against `streamlit run explorer/app.py`.

Controls set on a page survive a trip to another page and back, the Dataset page's address
opens the same view in a fresh browser, Reset moves the sliders themselves, and a control
change leaves the Dataset page idle quickly with the inspector following the new spec. Skipped when
chromium or playwright is missing, unless VAEFLOW_REQUIRE_BROWSER=1.
"""

import re
import time

import pytest

import browser_util as bu
import vaeflow

pytestmark = pytest.mark.browser
ARTIFACTS = bu.REPO / "artifacts" / "pages"
TIMEOUT_MS = 240_000  # the first run of a page imports TensorFlow; the box is shared


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    bu.require_browser()
    root = tmp_path_factory.mktemp("pages")
    (root / "data").mkdir()
    vaeflow.save_dataset(vaeflow.generate_dataset(96, seed=0), root / "data" / "tiny.npz")
    env = {"VAEFLOW_DATA_DIR": str(root / "data"), "VAEFLOW_RUNS_DIR": str(root / "runs")}
    with bu.streamlit_server(env=env, log_path=ARTIFACTS / "streamlit.log", timeout_s=120) as url:
        yield url


@pytest.fixture
def browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=bu.CHROMIUM, headless=True,
                                    args=bu.CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, width=1280, height=1600):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def settle(page) -> None:
    """Wait until the app has taken the last input and finished its reruns."""
    for _ in range(2):  # a widget's value is sent after a debounce, and may rerun twice
        time.sleep(0.7)
        page.wait_for_selector(bu.IDLE)


def eventually(read, expected, timeout_s: float = 60.0):
    """`read()` once it returns `expected` (polled; the last value when time runs out)."""
    deadline = time.monotonic() + timeout_s
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return value


def open_page(page, url: str, title: str) -> None:
    page.goto(url)
    page.wait_for_selector(f"h1:has-text('{title}')")
    settle(page)


def go_to(page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav'] a", has_text=re.compile(rf"{title}$")).click()
    page.wait_for_selector(f"h1:has-text('{title}')")
    settle(page)


def slider_value(page, key: str) -> str:
    return page.locator(f".st-key-{key} input[type='range']").first.input_value()


def press_slider(page, key: str, *keys: str) -> None:
    """Move a slider with the keyboard, one key and one rerun at a time (keys pressed during a
    rerun can be dropped): "Home", "End", "ArrowLeft", ..."""
    thumb = page.locator(f".st-key-{key} input[type='range']").first
    for name in keys:
        thumb.focus()
        thumb.press(name)
        settle(page)


def number_value(page, key: str) -> str:
    return page.locator(f".st-key-{key} input").input_value()


def type_number(page, key: str, value) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def _dataset_view(page) -> dict:
    return {"a_mean": slider_value(page, "spec-a_mean"),
            "theta_span": slider_value(page, "spec-theta_span"),
            "seed": number_value(page, "dataset-seed"),
            "split_seed": number_value(page, "dataset-split_seed")}


def test_dataset_controls_survive_a_page_switch_and_travel_in_the_link(browser, app_url):
    page = new_page(browser)
    open_page(page, app_url + "/dataset", "Dataset")
    press_slider(page, "spec-a_mean", "Home")  # 3.0 -> -8.0
    press_slider(page, "spec-theta_span", "Home")  # 360 -> 1
    type_number(page, "dataset-seed", 3)
    type_number(page, "dataset-split_seed", 4)
    view = _dataset_view(page)
    assert view == {"a_mean": "-8", "theta_span": "1", "seed": "3", "split_seed": "4"}
    link = "a_mean=-8&theta_span=1&seed=3&split_seed=4"
    assert eventually(lambda: page.url.split("?")[-1], link) == link

    go_to(page, "Train")
    assert number_value(page, "train-split_seed") == "4"  # the split seed is shared
    go_to(page, "Dataset")
    assert _dataset_view(page) == view

    other = new_page(browser)  # a colleague opening the link
    open_page(other, page.url, "Dataset")
    assert eventually(lambda: _dataset_view(other), view) == view
    assert other.locator("[data-testid='stAlert']").count() == 0
    first_caption = "[data-testid='stImageCaption']"
    assert other.locator(first_caption).first.inner_text() == page.locator(first_caption).first.inner_text()

    broken = new_page(browser)
    open_page(broken, app_url + "/dataset?a_mean=abc&seed=5", "Dataset")
    assert eventually(lambda: (slider_value(broken, "spec-a_mean"), number_value(broken, "dataset-seed")),
                      ("3", "5")) == ("3", "5")
    alerts = broken.locator("[data-testid='stAlert']").all_inner_texts()
    assert len(alerts) == 1 and "a_mean='abc'" in alerts[0], alerts


def test_reset_moves_the_sliders_back_and_the_next_touch_keeps_the_reset(browser, app_url):
    page = new_page(browser)
    open_page(page, app_url + "/dataset", "Dataset")
    press_slider(page, "spec-a_mean", "Home")
    press_slider(page, "spec-base_scale", "End")
    assert (slider_value(page, "spec-a_mean"), slider_value(page, "spec-base_scale")) == ("-8", "1")
    page.get_by_role("button", name="Reset to the study's chain").click()
    settle(page)
    assert (slider_value(page, "spec-a_mean"), slider_value(page, "spec-base_scale")) == ("3", "0.3")
    press_slider(page, "spec-a_std", "ArrowRight")  # the next touch must not bring the old spec back
    assert (slider_value(page, "spec-a_mean"), slider_value(page, "spec-base_scale")) == ("3", "0.3")
    assert "a_mean" not in page.url and "a_std=1.01" in page.url


# The inspector's picture caption and the first points of its shear panel's cloud.
_INSPECTED = """() => { const gd = document.querySelector('.st-key-inspect_panels .js-plotly-plot');
  const caption = document.querySelector('.st-key-inspect_picture [data-testid="stImageCaption"]');
  return gd && gd._fullData && caption ? [caption.innerText, Array.from(gd._fullData[6].y).slice(0, 5)] : null; }"""
_FOLLOWED = f"""([old, first]) => {{ const v = ({_INSPECTED})();
  return v !== null && v[0] === first && JSON.stringify(v[1]) !== JSON.stringify(old); }}"""


def test_after_a_control_change_the_page_goes_idle_and_the_inspector_follows(browser, app_url):
    # How fast is measured side by side by benchmarks/bench_dataset_rerun.py, not here.
    page = new_page(browser)
    open_page(page, app_url + "/dataset", "Dataset")
    slider = page.locator(".st-key-spec-a_mean input[type='range']").first
    plus = page.locator(".st-key-dataset-seed [data-testid='stNumberInputStepUp']")

    def press_slider():
        slider.focus()
        slider.press("ArrowRight")

    for action in [press_slider, plus.click] * 3:
        time.sleep(0.5)
        page.wait_for_function(f"() => ({_INSPECTED})() !== null", timeout=60_000)
        before = page.evaluate(_INSPECTED)
        bu.time_to_idle(page, action, bu.PREVIEW)
        first = page.locator(".st-key-dataset_preview [data-testid='stImageCaption']").first.inner_text()
        # the inspector follows the first preview image of the new spec: its picture and its
        # shear panel's cloud (the points after a·z1², which a new a or a new image moves)
        page.wait_for_function(_FOLLOWED, arg=[before[1], first], timeout=10_000)
    assert slider_value(page, "spec-a_mean") == "3.3" and number_value(page, "dataset-seed") == "3"


def test_the_train_form_survives_a_page_switch(browser, app_url):
    page = new_page(browser)
    open_page(page, app_url + "/train", "Train")
    type_number(page, "train-beta", 2.5)
    type_number(page, "train-epochs", 7)
    name = page.locator(".st-key-train-name input")
    name.fill("kept-name")
    name.press("Enter")
    settle(page)
    go_to(page, "Dataset")
    go_to(page, "Train")
    assert number_value(page, "train-beta") == "2.50"
    assert number_value(page, "train-epochs") == "7"
    assert page.locator(".st-key-train-name input").input_value() == "kept-name"


# Tables that scroll sideways and button labels cut short (an ellipsis keeps innerText whole),
# and the labels checked.
_CUT = """() => { const out = [], seen = [];
  for (const s of document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
    if (s.scrollWidth > s.clientWidth) out.push('table ' + s.scrollWidth + ' > ' + s.clientWidth);
  for (const b of document.querySelectorAll('button [data-testid="stMarkdownContainer"] p')) {
    seen.push(b.innerText);
    if (b.scrollWidth > b.clientWidth + 1) out.push('button ' + b.innerText); }
  return [out, seen]; }"""


def test_the_saved_datasets_fit_a_1100_px_window(browser, app_url):
    page = new_page(browser, width=1100)
    open_page(page, app_url + "/dataset", "Dataset")
    page.wait_for_selector("[data-testid='stDataFrame'] .dvn-scroller")
    cut, seen = page.evaluate(_CUT)
    assert cut == [] and "Delete" in seen, (cut, seen)
