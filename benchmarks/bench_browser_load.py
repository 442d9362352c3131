"""Explore under load: click → decoded image with one browser session, then with several at once.

    python benchmarks/bench_browser_load.py [--sessions 5] [--clicks 12] [--rounds 1]

One `streamlit run explorer/app.py` serves every session. One Chromium opens `--sessions`
pages, each in its own browser context (its own Streamlit session), all on Explore. Then,
per round:

* one session: the first page clicks `--clicks` empty spots of the latent map, one after the
  other, timing each click → new decoded image on screen;
* all sessions at once: every page does the same at the same time (each its own spots).

No two clicks of the whole run land on the same node of the click grid, so every click
decodes a new z (the decode cache never answers). Printed: each phase's median and p90, and
the ratio of the medians (the issue's aim: ≤ 2× with five sessions). The machine's load
average is printed too: on a shared box it moves every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]
import browser_util as bu  # noqa: E402

_GD = "document.querySelector('.js-plotly-plot')"
# Grid nodes at least `gap` px from every dataset point, as [x, y] latent pairs.
_EMPTY_NODES = f"""([gap, dataName, gridName]) => {{
  const gd = {_GD}; const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const px = (x, y) => [xa.l2p(x), ya.l2p(y)];
  const data = gd.data.find(t => t.name === dataName), grid = gd.data.find(t => t.name === gridName);
  const pts = Array.from(data.x, (x, i) => px(x, data.y[i]));
  const out = [];
  for (let i = 0; i < grid.x.length; i++) {{
    const [gx, gy] = px(grid.x[i], grid.y[i]);
    // clear of the edges, and of the mode bar that Plotly shows over the top on hover
    if (gx < 10 || gy < 40 || gx > xa._length - 10 || gy > ya._length - 10) continue;
    if (pts.every(([qx, qy]) => (gx - qx) ** 2 + (gy - qy) ** 2 >= gap * gap)) out.push([grid.x[i], grid.y[i]]);
  }}
  return out;
}}"""
_CHANGED = """([sel, old]) => { const img = document.querySelector(sel);
  return img && img.src !== old && img.complete && img.naturalWidth > 0; }"""


async def _open_explore(page, url: str) -> None:
    await page.goto(url + "/")
    link = page.locator("[data-testid='stSidebarNav'] a", has_text=re.compile(r"Explore$"))
    await link.wait_for(timeout=300_000)
    if await link.get_attribute("aria-current") != "page":
        await link.click()
    await page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=300_000)
    await page.wait_for_selector(bu.DECODED_IMG, timeout=300_000)
    await page.wait_for_selector(bu.IDLE, timeout=300_000)


async def _click_series(page, spots: list[tuple[float, float]]) -> list[float]:
    """Click each latent spot in turn; ms from the click to its decoded image on screen."""
    samples = []
    for x, y in spots:
        await asyncio.sleep(0.3)  # beyond Plotly's double-click window; not timed
        before = await page.evaluate("(s) => document.querySelector(s).src", bu.DECODED_IMG)
        px, py = await page.evaluate(bu._TO_PIXELS, [x, y])
        start = time.perf_counter()
        await page.mouse.click(px, py)
        try:
            await page.wait_for_function(_CHANGED, arg=[bu.DECODED_IMG, before], polling="raf",
                                         timeout=60_000)
        except Exception as error:
            shot = Path(__file__).resolve().parents[1] / "artifacts" / "bench_load_timeout.png"
            shot.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(shot))
            raise RuntimeError(f"no new image 60 s after a click at z = ({x}, {y}) (page {page.url}); "
                               f"screenshot {shot}") from error
        samples.append((time.perf_counter() - start) * 1000.0)
        await page.wait_for_selector(bu.IDLE, timeout=60_000)
    return samples


def _summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return (f"{name:<26} n={len(ms):<4} median {statistics.median(ms):6.0f} ms   p90 {p90:6.0f} ms   "
            f"min {ordered[0]:5.0f}   max {ordered[-1]:5.0f}")


async def _run(url: str, sessions: int, clicks: int, rounds: int, seed: int) -> tuple[list[float], list[float]]:
    from playwright.async_api import async_playwright

    from explorer.selection import DATA_TRACE, GRID_TRACE

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=bu.CHROMIUM, headless=True, args=bu.CHROMIUM_ARGS)
        try:
            pages = []
            for _ in range(sessions):  # one at a time: the first load builds the caches
                context = await browser.new_context(viewport={"width": 1400, "height": 1200})
                page = await context.new_page()
                await _open_explore(page, url)
                pages.append(page)
            nodes = await pages[0].evaluate(_EMPTY_NODES, [10.0, DATA_TRACE, GRID_TRACE])
            needed = rounds * clicks * (1 + sessions)
            if len(nodes) < needed:
                raise SystemExit(f"only {len(nodes)} empty grid nodes for {needed} distinct clicks")
            order = np.random.default_rng(seed).permutation(len(nodes))
            spots = iter([tuple(nodes[i]) for i in order])
            take = lambda: [next(spots) for _ in range(clicks)]  # noqa: E731
            single, loaded = [], []
            for _ in range(rounds):
                single += await _click_series(pages[0], take())
                batches = [take() for _ in pages]
                results = await asyncio.gather(*(_click_series(pg, b) for pg, b in zip(pages, batches)))
                loaded += [ms for result in results for ms in result]
            return single, loaded
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=5, help="browser sessions clicking at once")
    parser.add_argument("--clicks", type=int, default=12, help="clicks per session per phase")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate the one-session and all-session phases this many times")
    parser.add_argument("--seed", type=int, default=0, help="which empty spots are clicked")
    args = parser.parse_args()
    reason = bu.browser_missing_reason()
    if reason:
        sys.exit(f"cannot run the browser benchmark: {reason}")
    load_before = os.getloadavg()
    with bu.streamlit_server(timeout_s=180) as url:
        single, loaded = asyncio.run(_run(url, args.sessions, args.clicks, args.rounds, args.seed))
    print(f"load average (1, 5, 15 min) before: {', '.join(f'{v:.1f}' for v in load_before)}, after: "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(_summary("1 session", single))
    print(_summary(f"{args.sessions} sessions at once", loaded))
    print(f"ratio of medians ({args.sessions} sessions / 1): "
          f"{statistics.median(loaded) / statistics.median(single):.2f}")


if __name__ == "__main__":
    main()
