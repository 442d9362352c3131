"""Drive the explorer in a real Chromium: start `streamlit run`, open pages, click the latent map.

Shared by tests/test_browser.py and benchmarks/bench_browser.py. Playwright drives Debian's
chromium (`/usr/bin/chromium`); nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "explorer" / "app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
DECODED_IMG = ".st-key-decoded_view img"
FRAME_IMG = ".st-key-interp_frame img"


def browser_missing_reason() -> str | None:
    """Why a real-browser run is impossible here, or None when chromium and playwright exist."""
    if not (Path(CHROMIUM).is_file() or shutil.which("chromium")):
        return f"chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None



def require_browser() -> None:
    """Skip the calling test when Chromium or Playwright is missing; under
    VAEFLOW_REQUIRE_BROWSER=1 (CI) a missing browser fails it instead."""
    import pytest

    reason = browser_missing_reason()
    if reason:
        if os.environ.get("VAEFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail(f"real-browser test required (VAEFLOW_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(reason)

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(port: int | None = None, *, app: Path | None = None, env: dict | None = None,
                     timeout_s: float = 90.0, log_path: Path | None = None) -> Iterator[str]:
    """Run `streamlit run <app>` headless on localhost; yield its URL once /_stcore/health is ok.

    The server (and its process group) is stopped on exit, whatever happens; its output goes
    to `log_path` (its folder is made) when given.
    """
    port = port or free_port()
    app = app or APP
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout_s)
        yield url
    finally:
        stop_process_group(process)
        if log_path:
            log.close()


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before serving")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise TimeoutError(f"streamlit at {url} not healthy after {timeout_s} s")


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1600) -> Iterator["object"]:
    """A headless Chromium page (Playwright), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def open_explore(page, url: str, timeout_ms: int = 120_000) -> None:
    """Open the Explore page and wait until the map, the decoded image and the app are idle.

    The page is reached through its sidebar link, so it works whether or not Explore is the
    app's default page (whose URL is the bare root).
    """
    page.goto(url + "/")
    # The app's navigation titles the page "Explore"; matched exactly so no other link fits.
    link = page.locator("[data-testid='stSidebarNav'] a", has_text=re.compile(r"Explore$"))
    link.wait_for(timeout=timeout_ms)
    if link.get_attribute("aria-current") != "page":
        link.click()
    try:
        page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=timeout_ms)
        page.wait_for_selector(DECODED_IMG, timeout=timeout_ms)
        page.wait_for_selector(IDLE, timeout=timeout_ms)
    except Exception as error:
        alerts = page.locator("[data-testid='stAlert'], [data-testid='stException']").all_inner_texts()
        raise AssertionError(f"the Explore page did not become ready: {error}; alerts: {alerts}") from None


# JS helpers on the latent map. `gd` is Plotly's graph div, which carries the full layout.
_GD = "document.querySelector('.js-plotly-plot')"

_TO_PIXELS = f"""([x, y]) => {{
  const gd = {_GD}; const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)];
}}"""

_TRACE_XY = f"""(name) => {{
  const gd = {_GD}; const trace = gd.data.find(t => t.name === name);
  return trace ? [Array.from(trace.x), Array.from(trace.y)] : null;
}}"""

_AXIS_RANGES = f"""() => {{ const l = {_GD}._fullLayout; return [l.xaxis.range, l.yaxis.range]; }}"""


def latent_to_pixels(page, x: float, y: float) -> tuple[float, float]:
    """Page pixel coordinates of the latent point (x, y) on the map."""
    px, py = page.evaluate(_TO_PIXELS, [x, y])
    return float(px), float(py)


def trace_points(page, name: str) -> list[tuple[float, float]]:
    xy = page.evaluate(_TRACE_XY, name)
    if xy is None:
        raise LookupError(f"no trace named {name!r} on the map")
    return list(zip(xy[0], xy[1]))


def axis_ranges(page) -> tuple[tuple[float, float], tuple[float, float]]:
    (x0, x1), (y0, y1) = page.evaluate(_AXIS_RANGES)
    return (x0, x1), (y0, y1)


def empty_spots(page, n: int, min_gap_px: float = 14.0) -> list[tuple[float, float]]:
    """Up to n latent points on the map at least `min_gap_px` pixels from every dataset point."""
    from explorer.selection import DATA_TRACE

    data = _pixels_many(page, trace_points(page, DATA_TRACE))
    (x0, x1), (y0, y1) = axis_ranges(page)
    spots = []
    steps = 9
    for i in range(1, steps):
        for j in range(1, steps):
            x = x0 + (x1 - x0) * i / steps
            y = y0 + (y1 - y0) * j / steps
            px, py = latent_to_pixels(page, x, y)
            if all((px - qx) ** 2 + (py - qy) ** 2 >= min_gap_px**2 for qx, qy in data):
                spots.append((x, y))
    # Interleave from both ends so consecutive clicks land far apart (different images).
    ordered = [spots[k // 2] if k % 2 == 0 else spots[-1 - k // 2] for k in range(len(spots))]
    return ordered[:n]


def _pixels_many(page, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    script = f"""(pts) => {{
      const gd = {_GD}; const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
      const box = gd.getBoundingClientRect();
      return pts.map(([x, y]) => [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)]);
    }}"""
    return [tuple(p) for p in page.evaluate(script, [list(p) for p in points])]


def isolated_data_points(page, n: int, min_gap_px: float = 10.0) -> list[tuple[int, tuple[float, float], float]]:
    """Up to n (row, (x, y), gap_px) of dataset points inside the plot, most isolated first.

    `gap_px` is the distance in pixels to the nearest other point; only points with
    gap >= `min_gap_px` are returned, except that with none (a collapsed cloud, e.g. an
    untrained model) the single most isolated point is.
    """
    from explorer.selection import DATA_TRACE

    points = trace_points(page, DATA_TRACE)
    pixels = _pixels_many(page, points)
    (x0, x1), (y0, y1) = axis_ranges(page)
    found = []
    for i, ((x, y), (px, py)) in enumerate(zip(points, pixels)):
        if not (x0 + 0.1 * (x1 - x0) < x < x1 - 0.1 * (x1 - x0) and y0 + 0.1 * (y1 - y0) < y < y1 - 0.1 * (y1 - y0)):
            continue
        gap = min(((px - qx) ** 2 + (py - qy) ** 2 for j, (qx, qy) in enumerate(pixels) if j != i), default=1e9) ** 0.5
        found.append((i, (x, y), gap))
    if not found:
        raise LookupError("no dataset point inside the plot")
    found.sort(key=lambda item: -item[2])
    good = [item for item in found if item[2] >= min_gap_px]
    return good[:n] if good else found[:1]


def isolated_data_point(page, min_gap_px: float = 10.0) -> tuple[int, tuple[float, float], float]:
    """(row, (x, y), gap_px) of the most isolated dataset point inside the plot."""
    return isolated_data_points(page, 1, min_gap_px)[0]


def image_src(page, selector: str) -> str | None:
    return page.evaluate(
        "(sel) => { const img = document.querySelector(sel); return img ? img.src : null; }", selector
    )


def wait_image_changed(page, selector: str, old_src: str | None, timeout_ms: int = 15_000) -> str:
    """Wait until the image at `selector` shows a new, fully loaded source; return it."""
    page.wait_for_function(
        """([sel, old]) => { const img = document.querySelector(sel);
             return img && img.src !== old && img.complete && img.naturalWidth > 0; }""",
        arg=[selector, old_src], polling="raf", timeout=timeout_ms,
    )
    return image_src(page, selector)


def click_latent(page, x: float, y: float) -> None:
    px, py = latent_to_pixels(page, x, y)
    page.mouse.click(px, py)


def stop_process_group(process: subprocess.Popen, timeout: float = 10) -> None:
    """End a server started in its own process group: SIGTERM, then SIGKILL after `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=timeout)


PREVIEW = ".st-key-dataset_preview"  # the Dataset page's preview images, with their captions

_SHOWN = """(sel) => { const img = document.querySelector(sel + ' img');
  const caption = document.querySelector(sel + ' [data-testid="stImageCaption"]');
  return img && caption ? [img.src, caption.innerText] : null; }"""
_CHANGED_AND_IDLE = f"""([sel, old]) => {{ const now = ({_SHOWN})(sel);
  const img = document.querySelector(sel + ' img');
  return now !== null && (now[0] !== old[0] || now[1] !== old[1]) && img.complete
         && img.naturalWidth > 0 && document.querySelector("{IDLE}") !== null; }}"""


def time_to_idle(page, action, selector: str, timeout_ms: int = 30_000) -> float:
    """Seconds from `action()` (a control change) until the first image under `selector` shows
    a new source or caption, loaded, and the app's script is idle again: what a user waits for
    after a change. (Two nearby values can draw the same picture; their captions differ.)"""
    before = page.evaluate(_SHOWN, selector)
    start = time.perf_counter()
    action()
    page.wait_for_function(_CHANGED_AND_IDLE, arg=[selector, before], polling="raf",
                           timeout=timeout_ms)
    return time.perf_counter() - start
