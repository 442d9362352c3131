"""Density grid → RGB images for a whole batch, matching the study's matplotlib look without it.

The study draws ``contourf(X, Y, p, levels=L, cmap=…)`` of each flow's density on a G×G grid,
axis off, ``tight_layout(pad=0)``, S/100 in at 100 dpi. What Agg paints, and what we reproduce:

1. p(x) on the grid, from the chain's change of variables (`axis_terms`, checked against the
   chain's `TransformedDistribution` by the tests). Points where it is not finite (the tanh
   edge |x| ≥ 1) are masked, and so are the grid cells touching them.
2. The L-level "nice" levels `contour_levels` picks between the finite min and max.
3. Bands are filled lowest first without antialiasing. Agg paints a band into a pixel when
   it covers at least 1/256 of the pixel, so a pixel shows the highest band that touches its
   square with enough area. We take the maximum of the (bilinearly interpolated) density over
   the pixel's square (`raster.pixel_max`), whose band is the highest band touching it, then
   step down while that band's area is under 1/256 px² (`painted_band`). The areas come from
   a linear model of the field at the pixel's highest corner (`raster.corner_slopes`): the
   unit square cut by lines of equal density (`band_area`). Pixels touching no valid cell
   stay white.
4. Band k's colour is entry ``int(256 · (mid_k − lev_0) / (lev_last − lev_0))`` of the colour
   map, mid_k the band's midpoint, as Agg paints it (`colormaps.colormap_bytes`).

Steps 1 and 3 run as two XLA-compiled TensorFlow functions per chunk of images; step 2 and the
colour table of step 4 are a few float64 numpy operations per image (matplotlib's exact
arithmetic). Speed comes from three choices:

- Layout (G, G, n): the images are the last, contiguous axis, so every slice along y or x in
  the pixel stage moves whole SIMD vectors of images.
- Separable inputs: tanh acts per axis and the grid is a tensor product, so atanh and its
  log-det are taken once per axis (G values) and cos θ, sin θ once per image; the G² points
  see only multiply-adds and one exp.
- No spec constant is baked into the compiled code: the spec's continuous values (base scale,
  shift, scale, extent, the tanh flag, the colour map) enter as tensors, so only a new grid
  size, image size or level count, or a new batch bucket, compiles again.

The remaining mismatch with matplotlib (a band up or down in a few % of pixels) comes from the
approximate area model and from contourpy cutting cells with straight chords rather than
bilinear curves; README "Performance" quotes the measured figures.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from vaeflow.flows.chain import as_factors
from vaeflow.flows.spec import FlowSpec
from vaeflow.rendering.colormaps import colormap_bytes, colormap_index
from vaeflow.rendering.coverage import painted_band, slopes_at_max
from vaeflow.rendering.density import AxisTerms, axis_terms, density_on_grid, empty_pixels, spec_arrays
from vaeflow.rendering.levels import ContourLevels, contour_levels
from vaeflow.rendering.raster import PixelGrid, corner_nodes, pixel_max

# Images per compiled call. A batch is padded up to the next bucket (one XLA compilation per
# bucket and geometry), so a 24-image preview computes 32 images, not a full chunk.
_BUCKETS = (16, 32, 64, 128, 256, 512)
_CHUNK = _BUCKETS[-1]


def _worker_count() -> int:
    """The cores this process may run on (a container's or `taskset`'s limit, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class PixelField(NamedTuple):
    """What `_field_stage` gives per image, float32; per-pixel arrays are (n, S, S), row 0 is
    y = +extent."""

    zmin_bound: tf.Tensor  # (n,): an upper bound on the density's minimum over the valid nodes
    zmax: tf.Tensor  # (n,): the density's maximum over the grid
    best: tf.Tensor  # each pixel's maximum, −inf where the pixel meets no valid cell
    slope_x: tf.Tensor  # the field's rates per px where the maximum sits (`slopes_at_max`)
    slope_y: tf.Tensor


class Bands(NamedTuple):
    """Each image's contour bands for `_colour_stage`, float32 (n,) each."""

    lowest: tf.Tensor  # level 0
    step: tf.Tensor  # the level step
    top: tf.Tensor  # the highest band's index, count − 2


@tf.function(jit_compile=True)
def _field_stage(terms: AxisTerms, empty, corner_valid, grid_size: int, image_size: int) -> PixelField:
    """The density's pixel field, from `axis_terms`; empty (S,) and corner_valid (S + 1,) are
    `SpecArrays`' masks."""
    grid = PixelGrid(grid_size, image_size)
    p = density_on_grid(terms)
    best = pixel_max(p, grid)
    # The pixels cover every valid cell and the maximum sits on a node: this is the grid's max.
    zmax = tf.reduce_max(best, axis=[0, 1])
    best = tf.where((empty[:, None] | empty[None, :])[..., None], tf.constant(-np.inf, p.dtype), best)
    corners = corner_nodes(p, grid)
    # The min over a subset of the valid nodes bounds the true min from above (see _levels).
    on_valid = (corner_valid[:, None] & corner_valid[None, :])[..., None]
    zmin_bound = tf.reduce_min(tf.where(on_valid, corners, tf.constant(np.inf, p.dtype)), axis=[0, 1])
    image_major = lambda t: tf.transpose(t[::-1], [2, 0, 1])  # (n, S, S), row 0 is y = +extent
    # Corners on masked nodes (the tanh edge) hold 0, not the field: never take their slopes.
    slope_x, slope_y = slopes_at_max(p, best, tf.where(on_valid, corners, tf.constant(-np.inf, p.dtype)), grid)
    return PixelField(zmin_bound, zmax, image_major(best), image_major(slope_x), image_major(slope_y))


@tf.function(jit_compile=True)
def _zmin_stage(terms: AxisTerms):
    """The exact minimum of p over the valid nodes, (n,); only when `_levels` needs it."""
    p = density_on_grid(terms)
    valid = (terms.valid[:, None] * terms.valid[None, :] > 0)[..., None]
    return tf.reduce_min(tf.where(valid, p, tf.constant(np.inf, p.dtype)), axis=[0, 1])


@tf.function(jit_compile=True)
def _colour_stage(field, slope_x, slope_y, bands: Bands, colours):
    """Pixels → RGB: field, slope_x, slope_y (n, S, S) (`PixelField`'s best and slopes);
    colours uint8 (n, K + 1, 3), band k's colour, last row white → (n, S, S, 3)."""
    lowest, step, top = (t[:, None, None] for t in bands)
    # Each pixel's band: level[k] < v ≤ level[k+1]. float32 is enough: the field itself is a
    # float32 interpolation, so ties within 1e-7 of a level are noise either way.
    band = tf.clip_by_value(tf.math.ceil((field - lowest) / step) - 1, 0.0, top)
    band = tf.clip_by_value(painted_band(field, band, lowest, step, slope_x, slope_y), 0.0, top)
    white = tf.shape(colours)[1] - 1
    index = tf.where(tf.math.is_inf(field), white, tf.cast(band, tf.int32))  # no band touches → white
    return tf.gather(colours, index, batch_dims=1)


def trace_count() -> int:
    """How many times the renderer's compiled stages have been traced (retraced) so far."""
    return sum(stage.experimental_get_tracing_count() for stage in (_field_stage, _zmin_stage, _colour_stage))


def _band_colours(levels: ContourLevels, cmap: str, bands: int) -> np.ndarray:
    """Each band's colour, exactly as matplotlib computes it in float64: uint8 (n, bands + 1, 3).

    layer = ½(level[k] + level[k+1]); x = (layer − level[0]) / (level[−1] − level[0]);
    entry `colormap_index(x)` (int(256·x), x = 1 → 255). The extra last row is white (pixels no band touches).
    """
    n = levels.count.size
    level = levels.level(np.broadcast_to(np.arange(bands + 1, dtype=np.float64), (n, bands + 1)))
    lowest, highest = level[:, :1], levels.level((levels.count - 1)[:, None].astype(np.float64))
    entry = colormap_index((0.5 * (level[:, :-1] + level[:, 1:]) - lowest) / (highest - lowest))
    table = np.concatenate([colormap_bytes(cmap), np.full((1, 3), 255, np.uint8)])
    # np.take along rows is ~5× faster than fancy indexing table[index] for this (n, K, 3) gather.
    return np.take(table, np.concatenate([entry, np.full((n, 1), 256)], axis=1), axis=0)


def _split(levels: ContourLevels, n: int) -> tuple[ContourLevels, ContourLevels]:
    """The first n images' levels and the rest's."""
    fields = [getattr(levels, f.name) for f in dataclasses.fields(levels)]
    return ContourLevels(*(x[:n] for x in fields)), ContourLevels(*(x[n:] for x in fields))


def _levels(zmin_bound: np.ndarray, zmax: np.ndarray, exact_zmin, levels: int) -> ContourLevels:
    """contourf's levels for data in [zmin, zmax], computing the exact zmin only when it matters.

    The density is ≥ 0, so zmin ∈ [0, zmin_bound]. Every quantity in matplotlib's level choice
    is monotone in zmin, so when zmin = 0 and zmin = zmin_bound give the same levels, so does
    every zmin between them — the usual case, as the density's tails are far below one level step.
    """
    zmax = zmax.astype(np.float64)
    # Both candidates in one call (the level choice is per image; one call halves its overhead).
    zmin_candidates = np.concatenate([np.zeros_like(zmax), zmin_bound.astype(np.float64)])
    both = contour_levels(zmin_candidates, np.tile(zmax, 2), levels)
    at_zero, at_bound = _split(both, zmax.size)
    if at_zero.equals(at_bound):
        result = at_zero
    else:
        result = contour_levels(exact_zmin().astype(np.float64), zmax, levels)
    if result.count.max() > levels + 4:  # cannot happen for MaxNLocator; guards the colour table
        raise RuntimeError(f"contour_levels gave {result.count.max()} levels for levels={levels}")
    return result


def _render_chunk(a: np.ndarray, theta: np.ndarray, spec: FlowSpec) -> np.ndarray:
    n = a.size
    if empty_pixels(spec) is None:  # no grid cell has a finite density: Agg paints nothing
        return np.full((n, spec.image_size, spec.image_size, 3), 255, np.uint8)
    width = next(b for b in _BUCKETS if b >= n)
    terms = axis_terms(a, theta, spec, width)
    arrays = spec_arrays(spec)
    field = _field_stage(terms, arrays.empty, arrays.corner_valid, spec.grid_size, spec.image_size)
    levels = _levels(field.zmin_bound.numpy(), field.zmax.numpy(), lambda: _zmin_stage(terms).numpy(), spec.levels)
    lowest, step, top = (np.asarray(x, np.float32) for x in (levels.level(0), levels.step, levels.count - 2))
    bands = Bands(tf.constant(lowest), tf.constant(step), tf.constant(top))
    colours = tf.constant(_band_colours(levels, spec.cmap, spec.levels + 3))  # MaxNLocator: ≤ levels + 4 ticks
    return _colour_stage(field.best, field.slope_x, field.slope_y, bands, colours).numpy()[:n]


def render_images(a, theta, spec: FlowSpec | None = None) -> np.ndarray:
    """Render the flows with shear coefficients `a` and angles `theta`, as the study drew them.

    Arguments:
        a, theta: 1-D arrays of equal length N (scalars count as N = 1), finite.
        spec: the flow and its rendering; `FlowSpec()` when None.

    Returns:
        uint8 array (N, S, S, 3), S = ``spec.image_size``; row 0 is y = +extent.

    Raises:
        ValueError: naming `a`, `theta` or `spec` for a wrong shape, length, type or a non-finite value.

    >>> import numpy as np
    >>> images = render_images(np.array([3.0, 2.5]), np.array([0.0, 1.0]))
    >>> images.shape, images.dtype
    ((2, 36, 36, 3), dtype('uint8'))
    """
    spec = FlowSpec() if spec is None else spec
    if not isinstance(spec, FlowSpec):
        raise ValueError(f"spec must be a FlowSpec, got {type(spec).__name__}")
    a, theta = as_factors(a, theta)

    def chunk(i: int) -> np.ndarray:
        return _render_chunk(a[i : i + _CHUNK], theta[i : i + _CHUNK], spec)

    # Chunks are independent and TF releases the GIL, so one chunk is in flight per core. Chunks
    # that meet an uncompiled stage together still trace and compile it once: tf.function traces
    # under a lock and XLA's compilation cache holds a lock per signature while compiling.
    starts = range(0, a.size, _CHUNK)
    if len(starts) == 1:
        return chunk(0)
    with concurrent.futures.ThreadPoolExecutor(max_workers=_worker_count()) as pool:
        return np.concatenate(list(pool.map(chunk, starts)), axis=0)
