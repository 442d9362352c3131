"""The Train page in a real Chromium: the runs table fits a 1100 px window without a sideways
scroll, and Resume continues a stopped run to its last epoch. Screenshots: artifacts/train/.

Skipped when chromium or playwright is missing, unless VAEFLOW_REQUIRE_BROWSER=1.
"""

import threading
import time

import pytest

import browser_util as bu
from training_util import TINY, small_config, small_dataset
from vaeflow.training import RunDir, train

pytestmark = pytest.mark.browser
ARTIFACTS = bu.REPO / "artifacts" / "train"
TIMEOUT_MS = 240_000  # the first run of a page imports TensorFlow; the box is shared
RUN = "resumable"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder holding one run stopped after its first step, with 3 epochs planned."""
    bu.require_browser()
    root = tmp_path_factory.mktemp("train")
    data = small_dataset(root / "small.npz", n=160)
    stop = threading.Event()
    stop.set()  # already requested: the loop stops after its first step
    result = train(small_config(data, epochs=3), TINY, RunDir(root / "runs", RUN), stop_event=stop)
    assert result.state == "stopped"
    return root / "runs"


@pytest.fixture(scope="module")
def app_url(runs):
    with bu.streamlit_server(env={"VAEFLOW_RUNS_DIR": str(runs)}, timeout_s=180,
                             log_path=ARTIFACTS / "streamlit_train.log") as url:
        yield url


def open_train(page, url: str) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/train")
    page.wait_for_selector("h1:has-text('Train')")
    page.wait_for_selector("[data-testid='stDataFrame']")
    page.wait_for_selector(bu.IDLE)


# The runs table's scrolling box: wider content than box means a sideways scroll.
_TABLE_WIDTHS = """() => { const s = document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller');
  return s.length === 1 ? [s[0].scrollWidth, s[0].clientWidth] : s.length; }"""


@pytest.mark.parametrize("width", [1100, 1440])
def test_the_runs_table_fits_the_window_without_a_sideways_scroll(app_url, width):
    with bu.chromium_page(width=width, height=1400) as page:
        open_train(page, app_url)
        time.sleep(1.0)
        page.screenshot(path=str(ARTIFACTS / f"runs_table_{width}.png"), full_page=True)
        scroll_width, client_width = page.evaluate(_TABLE_WIDTHS)  # the page's one table
        assert scroll_width <= client_width, (scroll_width, client_width)
        headers = page.locator("[data-testid='stDataFrame'] [role='columnheader']").all_inner_texts()
        assert headers == ["run", "status", "epochs", "ELBO", "KL", "recon.", "time", "setup"], headers


def test_resume_continues_a_stopped_run_to_its_last_epoch(app_url, runs):
    run = RunDir(runs, RUN)
    epochs_before = sum(r.get("kind") == "epoch" for r in run.read_metrics())
    assert run.read_status()["state"] == "stopped" and epochs_before < 3
    with bu.chromium_page(width=1280, height=1600) as page:
        open_train(page, app_url)
        page.get_by_role("button", name="Resume").click()
        states, deadline = [], time.monotonic() + 180
        while time.monotonic() < deadline:
            state = run.read_status().get("state")
            if not states or states[-1] != state:
                states.append(state)
            if state in ("done", "failed"):
                break
            time.sleep(0.2)
        assert states[-1] == "done" and "running" in states, states
        epochs = [r["epoch"] for r in run.read_metrics() if r.get("kind") == "epoch"]
        assert len(epochs) > epochs_before and max(epochs) == 3, epochs
        # the page follows: the live panel redraws the page once the run ends
        page.wait_for_selector("[data-testid='stHeading']:has-text('done')", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "resumed.png"), full_page=True)
