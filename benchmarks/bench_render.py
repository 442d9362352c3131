"""Time `render_images` against the study's per-image matplotlib loop, side by side, and check fidelity.

    python benchmarks/bench_render.py [--n 20000] [--n-reference 300] [--seed 0]

Both renderers draw the same random (a, θ) pairs in the same run, interleaved in `--rounds`
rounds (each round: n/rounds images through the fast path, then n_reference/rounds through the
study's pyplot loop, `tests/reference_render.study_render`), so both see the same machine load even when other jobs come and go. The fast path
is compiled once before timing (a user pays that once per grid/image size, level count and
batch bucket; other spec values are tensors). Prints images/s of each, the
speed-up per image (wall clock, and CPU time of all threads), and the fidelity on the pairs both rendered (mean |Δ| over pixels and
channels in /255 units, the worst image's mean, the share of pixels that differ at all).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")]

import numpy as np  # noqa: E402

from reference_render import study_render_many  # noqa: E402
from vaeflow.datasets import sample_factors  # noqa: E402
from vaeflow.flows.spec import FlowSpec  # noqa: E402
from vaeflow.rendering import render_images  # noqa: E402


class _Timed:
    """Calls a renderer, keeping its outputs and summing its wall-clock and CPU seconds."""

    def __init__(self, render):
        self.render, self.parts, self.wall, self.cpu = render, [], 0.0, 0.0

    def __call__(self, *args) -> None:
        start, cpu = time.perf_counter(), time.process_time()
        self.parts.append(self.render(*args))
        self.wall += time.perf_counter() - start
        self.cpu += time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="pairs for the fast renderer")
    parser.add_argument("--n-reference", type=int, default=300, help="pairs for the matplotlib loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    spec = FlowSpec()
    factors = sample_factors(args.n, args.seed, spec)
    a, theta = factors[:, 0], factors[:, 1]
    render_images(a[:600], theta[:600], spec)  # compile once
    m = min(args.n_reference, args.n)

    fast_timer, ref_timer = _Timed(render_images), _Timed(study_render_many)
    fast_cuts = np.linspace(0, args.n, args.rounds + 1).astype(int)
    ref_cuts = np.linspace(0, m, args.rounds + 1).astype(int)
    for r in range(args.rounds):
        fast_timer(a[fast_cuts[r] : fast_cuts[r + 1]], theta[fast_cuts[r] : fast_cuts[r + 1]], spec)
        ref_timer(a[ref_cuts[r] : ref_cuts[r + 1]], theta[ref_cuts[r] : ref_cuts[r + 1]], spec)
    fast, ref = np.concatenate(fast_timer.parts), np.concatenate(ref_timer.parts)
    fast_s, fast_cpu, ref_s, ref_cpu = fast_timer.wall, fast_timer.cpu, ref_timer.wall, ref_timer.cpu

    fast_rate, ref_rate = args.n / fast_s, m / ref_s
    err = np.abs(fast[:m].astype(np.int16) - ref.astype(np.int16))
    per_image = err.mean(axis=(1, 2, 3))
    print(f"fast render_images: {args.n} images in {fast_s:.2f} s = {fast_rate:,.0f} images/s")
    print(f"matplotlib reference: {m} images in {ref_s:.2f} s = {ref_rate:,.1f} images/s")
    print(f"speed-up per image: {fast_rate / ref_rate:,.0f}x (wall clock)")
    # CPU seconds (all threads of this process) per image: less sensitive to other jobs' load.
    fast_cpu_img, ref_cpu_img = fast_cpu / args.n, ref_cpu / m
    print(
        f"CPU time per image: fast {fast_cpu_img * 1e6:.0f} us, reference {ref_cpu_img * 1e3:.1f} ms, "
        f"ratio {ref_cpu_img / fast_cpu_img:,.0f}x"
    )
    print(
        f"fidelity on {m} images: mean |error| {err.mean():.3f}/255, worst image {per_image.max():.3f}/255, "
        f"pixels differing {np.mean(err.max(axis=-1) > 0):.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
