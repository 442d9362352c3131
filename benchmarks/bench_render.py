"""Time `render_images` against the study's per-image matplotlib loop, side by side, and check fidelity.

    python benchmarks/bench_render.py [--n 20000] [--n-reference 300] [--seed 0]

Both renderers draw the same kind of random (a, θ) pairs in the same run (so both see the same
machine load). The fast path renders all n (after one warm-up call that compiles it); the
reference renders the first n_reference of them. Prints images/s of each, the speed-up per
image, and the fidelity on the pairs both rendered (mean |Δ| over pixels and channels in /255
units, and the worst image's mean).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import numpy as np  # noqa: E402

from reference_render import reference_render_many  # noqa: E402
from vaeflow.datasets import sample_factors  # noqa: E402
from vaeflow.flows.spec import FlowSpec  # noqa: E402
from vaeflow.render import render_images  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="pairs for the fast renderer")
    parser.add_argument("--n-reference", type=int, default=300, help="pairs for the matplotlib loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    spec = FlowSpec()
    factors = sample_factors(args.n, args.seed, spec)
    a, theta = factors[:, 0], factors[:, 1]
    render_images(a[:300], theta[:300], spec)  # compile once; a user pays this once per spec

    start = time.perf_counter()
    fast = render_images(a, theta, spec)
    fast_s = time.perf_counter() - start

    m = min(args.n_reference, args.n)
    start = time.perf_counter()
    ref = reference_render_many(a[:m], theta[:m], spec)
    ref_s = time.perf_counter() - start

    fast_rate, ref_rate = args.n / fast_s, m / ref_s
    err = np.abs(fast[:m].astype(np.int16) - ref.astype(np.int16))
    per_image = err.mean(axis=(1, 2, 3))
    print(f"fast render_images: {args.n} images in {fast_s:.2f} s = {fast_rate:,.0f} images/s")
    print(f"matplotlib reference: {m} images in {ref_s:.2f} s = {ref_rate:,.1f} images/s")
    print(f"speed-up per image: {fast_rate / ref_rate:,.0f}x")
    print(
        f"fidelity on {m} images: mean |error| {err.mean():.3f}/255, worst image {per_image.max():.3f}/255, "
        f"pixels differing {np.mean(err.max(axis=-1) > 0):.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
