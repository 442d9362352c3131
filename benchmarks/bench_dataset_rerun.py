"""Dataset page speed in a real browser: control change → preview updated and the page idle.

    python benchmarks/bench_dataset_rerun.py [--changes 12] [--width 1280] [--against /work/main]

Starts `streamlit run explorer/app.py` on a free port with an empty data folder, opens the
Dataset page in Chromium and times, for each change, from the input (a key press on the a-mean
slider, or a click on the seed's "+") until the first preview image shows its new source or caption AND
the app's script is idle (`data-test-script-state='notRunning'`). Every change is to a value
not seen before, so no cache answers it. The target of issue 10 is 0.5 s. The machine's load
average is printed beside the figures: on a shared box it moves them.

With --against ROOT, a second server runs ROOT's explorer (another checkout, e.g. the code
before a change) in a second tab, and the two take turns change by change: the ratio of their
medians is measured side by side, under the same load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]
import browser_util as bu  # noqa: E402

TARGET_S = 0.5


def _summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (f"{name:<30} n={len(seconds):<3} median {statistics.median(seconds):5.2f} s   "
            f"min {ordered[0]:5.2f}   max {ordered[-1]:5.2f}   (target {TARGET_S} s)")


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


# The first image of the page: the preview's first (the inspector's comes after it).
PREVIEW = "[data-testid='stMainBlockContainer'] [data-testid='stImageContainer']"
KINDS = ("a-mean slider key", "seed +1")


def open_dataset(browser, url: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 1600})
    page.set_default_timeout(240_000)
    page.goto(url + "/dataset")
    page.wait_for_selector(PREVIEW)
    page.wait_for_selector(bu.IDLE)
    slider = page.locator(".st-key-spec-a_mean input[type='range']").first
    plus = page.locator(".st-key-dataset-seed [data-testid='stNumberInputStepUp']")

    def press_slider() -> None:
        slider.focus()
        slider.press("ArrowRight")  # 3.0, 3.1, ...: a new spec every time

    return page, {KINDS[0]: press_slider, KINDS[1]: plus.click}


def measure(changes: int, width: int, roots: list[Path]) -> list[dict[str, list[float]]]:
    """For each checkout root, {kind of change: seconds to preview + idle}, turn by turn."""
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        data = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-data-"))
        urls = [stack.enter_context(bu.streamlit_server(
            app=root / "explorer" / "app.py", timeout_s=180,
            env={"VAEFLOW_DATA_DIR": data, "PYTHONPATH": str(root)})) for root in roots]
        p = stack.enter_context(sync_playwright())
        browser = p.chromium.launch(executable_path=bu.CHROMIUM, headless=True, args=bu.CHROMIUM_ARGS)
        stack.callback(browser.close)
        pages = [open_dataset(browser, url, width) for url in urls]
        times: list[dict[str, list[float]]] = [{kind: [] for kind in KINDS} for _ in roots]
        for k in range(changes + 1):  # the first of each is a warm-up, not counted
            for kind in KINDS:
                for (page, actions), found in zip(pages, times):
                    time.sleep(0.5)
                    seconds = bu.time_to_idle(page, actions[kind], PREVIEW)
                    if k:
                        found[kind].append(seconds)
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=12, help="timed changes of each kind")
    parser.add_argument("--width", type=int, default=1280, help="browser window width, px")
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout's root, measured turn by turn beside this one")
    args = parser.parse_args()
    reason = bu.browser_missing_reason()
    if reason:
        sys.exit(f"cannot run the browser benchmark: {reason}")
    before = _load()
    roots = [bu.REPO] + ([args.against.resolve()] if args.against else [])
    results = measure(args.changes, args.width, roots)
    print(f"load average (1, 5, 15 min): {before} before, {_load()} after, on {os.cpu_count()} CPUs")
    for root, times in zip(roots, results):
        print(f"{root}:")
        for name, seconds in times.items():
            print(_summary(f"  {name} → preview + idle", seconds))
        print(_summary("  all changes", [s for v in times.values() for s in v]))
    if len(results) == 2:
        medians = [statistics.median([s for v in times.values() for s in v]) for times in results]
        print(f"ratio of medians, {roots[0].name} / {roots[1].name}: {medians[0] / medians[1]:.2f}")


if __name__ == "__main__":
    main()
