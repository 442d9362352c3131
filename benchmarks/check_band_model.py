"""How well a per-pixel area model predicts the band Agg paints, against exact polygon areas.

For each pixel of a few default-spec images, the truth is the highest band whose matplotlib
contour polygon (contourpy's chords, as `contourf` draws them) covers ≥ 1/256 of the pixel,
measured exactly with shapely. Two models of those areas, both stepping down from the band of
the pixel's exact bilinear maximum:

- "pixel-average": one |∂f/∂x|·|∂f/∂y| product per pixel, from its four corners (the renderer's
  model before 2026-11-26 09:00 UTC);
- "corner": the unit square cut by a line, with the slopes of the grid cell just inside the
  pixel at the point of its maximum (what `render._band_area` / `raster.corner_slopes` do; the
  renderer reads those slopes on the grid row nearest the corner, this check at the maximum).

Pure numpy/Python (~1.5 s per image). Needs shapely, which vaeflow does not:

    pip install shapely && python benchmarks/check_band_model.py [--images 4] [--seed 20261126]
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")]

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reference_render import draw_study_figure  # noqa: E402
from vaeflow.datasets import sample_factors  # noqa: E402
from vaeflow.flows.spec import FlowSpec  # noqa: E402

MIN_COVER = 1 / 256


def area_below_max(t: float, low: float, high: float) -> float:
    """The unit square's part within t of its maximum, the field falling at rates low ≤ high."""
    t = max(t, 0.0)
    if t <= low:
        return t * t / max(2 * low * high, 1e-30)
    if t <= high:
        return (t - 0.5 * low) / max(high, 1e-30)
    return min(1.0, 1 - max(low + high - t, 0) ** 2 / max(2 * low * high, 1e-30))


def painted(v: float, top: int, level0: float, step: float, slopes: tuple[float, float]) -> int:
    low, high = sorted(abs(s) for s in slopes)
    depth = v - (level0 + top * step)
    for j in range(0, 400):
        below = area_below_max(depth + (j - 1) * step, low, high) if j else 0.0
        if area_below_max(depth + j * step, low, high) - below >= MIN_COVER:
            return max(top - j, 0)
    return max(top, 0)


def band_polygons(a: float, theta: float, spec: FlowSpec):
    import shapely

    fig = Figure(figsize=(spec.image_size / 100,) * 2, dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax, cs, p = draw_study_figure(fig, a, theta, spec)
    canvas.draw()
    polygons = []
    for path in cs.get_paths():  # one path per band; rings filled even-odd, in pixel units
        geometry = shapely.Polygon()
        for ring in path.to_polygons(closed_only=True):
            ring = ax.transData.transform(ring)
            if len(ring) >= 3:
                geometry = geometry.symmetric_difference(shapely.Polygon(ring).buffer(0))
        polygons.append(geometry)
    return p.astype(np.float64), polygons, cs.levels


def check_image(a: float, theta: float, spec: FlowSpec) -> list[tuple[int, int, int, bool]]:
    from shapely.geometry import box

    p, polygons, levels = band_polygons(a, theta, spec)
    G, S = spec.grid_size, spec.image_size
    r = (G - 1) / S  # cells per pixel
    field = np.nan_to_num(p, nan=-np.inf)
    level0, step = levels[0], levels[1] - levels[0]

    def f(x, y):  # bilinear, grid-index units, row 0 = lowest y
        x0, y0 = min(int(x), G - 2), min(int(y), G - 2)
        wx, wy = x - x0, y - y0
        return (field[y0, x0] * (1 - wx) * (1 - wy) + field[y0, x0 + 1] * wx * (1 - wy)
                + field[y0 + 1, x0] * (1 - wx) * wy + field[y0 + 1, x0 + 1] * wx * wy)

    rows = []
    for py in range(S):  # pixel rows from the bottom, as matplotlib's display coordinates
        for px in range(S):
            square = box(px, py, px + 1, py + 1)
            covering = [k for k, poly in enumerate(polygons) if poly.intersection(square).area >= MIN_COVER]
            truth = max(covering) if covering else -1
            xs = [px * r, *range(math.floor(px * r) + 1, math.ceil((px + 1) * r)), (px + 1) * r]
            ys = [py * r, *range(math.floor(py * r) + 1, math.ceil((py + 1) * r)), (py + 1) * r]
            values = np.array([[f(x, y) for x in xs] for y in ys])
            if not np.isfinite(values).all():
                continue
            iy, ix = np.unravel_index(np.argmax(values), values.shape)
            v, xm, ym = values[iy, ix], xs[ix], ys[iy]
            top = max(min(math.ceil((v - level0) / step) - 1, len(levels) - 2), 0)
            # The corner model: the cell inside the pixel at the maximum.
            cx = min(max(math.floor(xm) if xm < (px + 0.5) * r else math.ceil(xm) - 1, 0), G - 2)
            cy = min(max(math.floor(ym) if ym < (py + 0.5) * r else math.ceil(ym) - 1, 0), G - 2)
            wx, wy = min(max(xm - cx, 0), 1), min(max(ym - cy, 0), 1)
            gx = ((field[cy, cx + 1] - field[cy, cx]) * (1 - wy) + (field[cy + 1, cx + 1] - field[cy + 1, cx]) * wy) * r
            gy = ((field[cy + 1, cx] - field[cy, cx]) * (1 - wx) + (field[cy + 1, cx + 1] - field[cy, cx + 1]) * wx) * r
            # The pixel-average model: one slope per axis from the pixel's corners.
            c00, c01 = f(px * r, py * r), f((px + 1) * r, py * r)
            c10, c11 = f(px * r, (py + 1) * r), f((px + 1) * r, (py + 1) * r)
            average = (0.5 * (c01 + c11 - c00 - c10), 0.5 * (c10 + c11 - c00 - c01))
            at_corner = ix in (0, len(xs) - 1) and iy in (0, len(ys) - 1)
            rows.append((truth, painted(v, top, level0, step, average),
                         painted(v, top, level0, step, (gx, gy)), at_corner))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()
    try:
        import shapely  # noqa: F401
    except ImportError:
        sys.exit("error: this check needs shapely (pip install shapely); vaeflow itself does not")
    spec = FlowSpec()
    factors = sample_factors(args.images, seed=args.seed, spec=spec)
    with np.errstate(invalid="ignore"):  # −inf · 0 at the tanh edge's masked nodes: skipped pixels
        rows = np.array([row for a, theta in factors for row in check_image(float(a), float(theta), spec)])
    truth, average, corner, at_corner = rows.T
    print(f"{len(rows)} pixels of {args.images} images; band wrong in")
    for name, model in (("pixel-average model", average), ("corner model", corner)):
        print(f"  {name}: {np.mean(model != truth):.2%} of pixels "
              f"({np.mean(model[at_corner == 1] != truth[at_corner == 1]):.2%} where the maximum is a corner, "
              f"{np.mean(model[at_corner == 0] != truth[at_corner == 0]):.2%} elsewhere; "
              f"{np.mean(at_corner == 0):.1%} of pixels)")


if __name__ == "__main__":
    main()
