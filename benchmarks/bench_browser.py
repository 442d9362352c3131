"""Explore page speed in a real browser: cold start, click → decoded image, slider → frame.

    python benchmarks/bench_browser.py [--clicks 20] [--slides 10]

It starts a fresh `streamlit run explorer/app.py` on a free port, with Chromium already open,
and measures:

* cold start: from launching `streamlit run` to the Explore page (the app's first page)
  being interactive: map drawn, decoded image shown, script idle. Measured twice: first with
  an empty home folder for the server (HOME points to a fresh temp dir, so no disk cache of
  the held-out images, as on a new machine), then again in a second fresh process on the same
  home (the disk cache the first start wrote);
* click → image: from the mouse click on the latent map to the new decoded image loaded
  on screen, for clicks on empty space and on dataset points (separately);
* slider → frame: from a key press on the t slider to the new interpolation frame loaded;
* with --baseline, the same click → image timing on a minimal Streamlit app (a button in a
  fragment that redraws one image): the floor this machine sets under its current load;
* with --compare, click → both images in compare mode (the pretrained model beside a copy
  of it under another run name: the same cost as any second model of its size) against click
  → image on one model, the two pages open side by side on one server, clicks alternating.

Timings are taken in this process around Playwright calls (so they include its round trips
of a few ms). The machine's load average is printed too: on a shared box it moves every
figure.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]
import browser_util as bu  # noqa: E402


def _summary(name: str, ms: list[float]) -> str:
    if not ms:
        return f"{name:<28} (no samples)"
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return (f"{name:<28} n={len(ms):<3} median {statistics.median(ms):7.0f} ms   "
            f"p90 {p90:7.0f} ms   min {ordered[0]:6.0f}   max {ordered[-1]:6.0f}")


def _cache_note(home: Path) -> str:
    """What the server left in its home's cache folders (~/.streamlit/cache, ~/.cache/...)."""
    files = [f for f in home.rglob("*") if f.is_file()
             and any("cache" in part for part in f.relative_to(home).parts[:-1])]
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    return f"{len(files)} file(s), {size_mb:.1f} MB in the server's cache folders after it"


def _timed_change(page, action, selector: str) -> float:
    # Not timed: a pause longer than Plotly's double-click window between two clicks.
    time.sleep(0.3)
    before = bu.image_src(page, selector)
    start = time.perf_counter()
    action()
    bu.wait_image_changed(page, selector, before, timeout_ms=20_000)
    return (time.perf_counter() - start) * 1000.0


_BASELINE_APP = """
import io
import numpy as np
import streamlit as st
from PIL import Image

@st.fragment
def view():
    n = st.session_state.setdefault("n", 0)
    if st.button("next"):
        st.session_state.n = n = n + 1
    buffer = io.BytesIO()
    Image.fromarray(np.full((288, 288, 3), (37 * n) % 256, np.uint8)).save(buffer, format="PNG")
    with st.container(key="decoded_view"):
        st.image(buffer.getvalue())

view()
"""


def baseline_ms(clicks: int) -> list[float]:
    """Button → new image on a minimal fragment app: what any click costs here right now."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        app = Path(tmp) / "baseline_app.py"
        app.write_text(_BASELINE_APP)
        with bu.chromium_page() as page, bu.streamlit_server(app=app) as url:
            page.goto(url)
            page.wait_for_selector(bu.DECODED_IMG, timeout=60_000)
            page.wait_for_selector(bu.IDLE)
            button = page.get_by_role("button", name="next")
            samples = []
            for _ in range(clicks):
                samples.append(_timed_change(page, button.click, bu.DECODED_IMG))
                page.wait_for_selector(bu.IDLE)
            return samples


_BOTH_CHANGED = """([s1, s2, o1, o2]) => { const a = document.querySelector(s1), b = document.querySelector(s2);
  return a && b && a.src !== o1 && b.src !== o2 && a.complete && b.complete
         && a.naturalWidth > 0 && b.naturalWidth > 0; }"""
DECODED_2 = ".st-key-decoded_view_2 img"


def compare_ms(clicks: int) -> tuple[list[float], list[float]]:
    """(click → image with one model, click → both images in compare mode), alternating."""
    import shutil

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-runs-") as runs:
        copy = Path(runs) / "pretrained-copy"
        shutil.copytree(bu.REPO / "pretrained", copy / "model")
        (copy / "config.json").write_text('{"train": {"data": null}, "model": {}}')
        with bu.streamlit_server(timeout_s=120, env={"VAEFLOW_RUNS_DIR": runs}) as url, \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=bu.CHROMIUM, headless=True, args=bu.CHROMIUM_ARGS)
            try:
                single = browser.new_page(viewport={"width": 1400, "height": 1600})
                bu.open_explore(single, url, timeout_ms=300_000)
                both = browser.new_page(viewport={"width": 1400, "height": 1600})
                both.goto(url + "/?vs=pretrained-copy")
                both.wait_for_selector(DECODED_2, timeout=300_000)
                both.wait_for_selector(bu.IDLE, timeout=120_000)
                time.sleep(1.0)
                spots_single = bu.empty_spots(single, clicks, min_gap_px=8.0)
                spots_both = bu.empty_spots(both, clicks, min_gap_px=8.0)
                single_ms, both_ms = [], []
                for k in range(min(clicks, len(spots_single), len(spots_both))):
                    x, y = spots_single[k]
                    single_ms.append(_timed_change(single, lambda x=x, y=y: bu.click_latent(single, x, y),
                                                   bu.DECODED_IMG))
                    single.wait_for_selector(bu.IDLE)
                    x, y = spots_both[k]
                    time.sleep(0.3)
                    before = [bu.image_src(both, bu.DECODED_IMG), bu.image_src(both, DECODED_2)]
                    start = time.perf_counter()
                    bu.click_latent(both, x, y)
                    both.wait_for_function(_BOTH_CHANGED, arg=[bu.DECODED_IMG, DECODED_2, *before],
                                           polling="raf", timeout=30_000)
                    both_ms.append((time.perf_counter() - start) * 1000.0)
                    both.wait_for_selector(bu.IDLE)
                return single_ms, both_ms
            finally:
                browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=20, help="clicks of each kind")
    parser.add_argument("--slides", type=int, default=10, help="t-slider key presses")
    parser.add_argument("--baseline", action="store_true",
                        help="also time a minimal Streamlit app's button → image")
    parser.add_argument("--compare", action="store_true",
                        help="only time click → both images in compare mode against one model")
    args = parser.parse_args()
    reason = bu.browser_missing_reason()
    if reason:
        sys.exit(f"cannot run the browser benchmark: {reason}")
    if args.compare:
        single_ms, both_ms = compare_ms(args.clicks)
        print(f"load average (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
              f"on {os.cpu_count()} CPUs")
        print(_summary("click → image, one model", single_ms))
        print(_summary("click → both images, two", both_ms))
        if single_ms and both_ms:
            print(f"{'ratio of medians':<28} {statistics.median(both_ms) / statistics.median(single_ms):.2f}×")
        if args.baseline:
            print(_summary("baseline button → image", baseline_ms(args.clicks)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-home-") as home, bu.chromium_page() as page:
        env = {"HOME": home}  # an empty disk cache for the first start, shared by the second
        start = time.perf_counter()
        with bu.streamlit_server(timeout_s=120, env=env) as url:
            empty_healthy_s = time.perf_counter() - start
            bu.open_explore(page, url, timeout_ms=180_000)
            empty_interactive_s = time.perf_counter() - start
        page.goto("about:blank")
        cache_note = _cache_note(Path(home))
        start = time.perf_counter()
        with bu.streamlit_server(timeout_s=120, env=env) as url:
            healthy_s = time.perf_counter() - start
            bu.open_explore(page, url, timeout_ms=180_000)
            interactive_s = time.perf_counter() - start
            time.sleep(1.0)

            spots = bu.empty_spots(page, 64, min_gap_px=8.0)
            empty_ms = []
            for k in range(min(args.clicks, len(spots))):
                x, y = spots[k]
                empty_ms.append(_timed_change(page, functools.partial(bu.click_latent, page, x, y), bu.DECODED_IMG))
                page.wait_for_selector(bu.IDLE)

            data_ms = []
            for _row, (x, y), _ in bu.isolated_data_points(page, args.clicks, min_gap_px=6.0):
                data_ms.append(_timed_change(page, functools.partial(bu.click_latent, page, x, y), bu.DECODED_IMG))
                page.wait_for_selector(bu.IDLE)

            slide_ms = []
            t_input = page.locator(".st-key-explore_t input[type='range']")
            t_input.scroll_into_view_if_needed()
            t_input.focus()
            for k in range(args.slides):
                key = "ArrowRight" if (k // 5) % 2 == 0 else "ArrowLeft"
                slide_ms.append(_timed_change(page, functools.partial(page.keyboard.press, key), bu.FRAME_IMG))
                page.wait_for_selector(bu.IDLE)

    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    print(f"{'cold start, empty cache':<28} healthy {empty_healthy_s:5.1f} s, Explore ready "
          f"{empty_interactive_s:5.1f} s after `streamlit run`")
    print(f"{'':<28} ({cache_note})")
    print(f"{'cold start, warm disk cache':<28} healthy {healthy_s:5.1f} s, Explore ready "
          f"{interactive_s:5.1f} s after `streamlit run`")
    print(_summary("click empty space → image", empty_ms))
    print(_summary("click data point → image", data_ms))
    print(_summary("click (all) → image", empty_ms + data_ms))
    print(_summary("t slider key → frame", slide_ms))
    if args.baseline:
        print(_summary("baseline button → image", baseline_ms(args.clicks)))


if __name__ == "__main__":
    main()
