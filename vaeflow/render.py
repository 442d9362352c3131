"""Density grid → RGB images for a whole batch, matching the study's matplotlib look without it.

The study draws ``contourf(X, Y, p, levels=L, cmap=…)`` of each flow's density on a G×G grid,
axis off, ``tight_layout(pad=0)``, S/100 in at 100 dpi. What Agg paints, and what we reproduce:

1. p(x) on the grid, from the chain's change of variables (`_axis_terms`, checked against the
   chain's `TransformedDistribution` by the tests). Points where it is not finite (the tanh
   edge |x| ≥ 1) are masked, and so are the grid cells touching them.
2. The L-level "nice" levels `contour_levels` picks between the finite min and max.
3. Bands are filled lowest first without antialiasing. Agg paints a band into a pixel when
   it covers at least 1/256 of the pixel, so a pixel shows the highest band that touches its
   square with enough area. We take the maximum of the (bilinearly interpolated) density over
   the pixel's square (`raster.pixel_max`), whose band is the highest band touching it, then
   step down while that band's area is under 1/256 px² (`_painted_band`). The areas come from
   a linear model of the field at the pixel's highest corner (`raster.corner_slopes`): the
   unit square cut by lines of equal density (`_band_area`). Pixels touching no valid cell
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
import functools
import os

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow.colormaps import colormap_bytes
from vaeflow.contour_levels import ContourLevels, contour_levels
from vaeflow.flows.chain import as_factors
from vaeflow.flows.spec import FlowSpec
from vaeflow.raster import PixelGrid, corner_nodes, corner_slopes, edge_node_indices, pixel_max

# Images per compiled call. A batch is padded up to the next bucket (one XLA compilation per
# bucket and geometry), so a 24-image preview computes 32 images, not a full chunk.
_BUCKETS = (16, 32, 64, 128, 256, 512)
_CHUNK = _BUCKETS[-1]
_WORKERS = min(2, os.cpu_count() or 1)
_COMPILED: set[tuple[int, int, int]] = set()  # geometries whose full-chunk stages are compiled
tfb = tfp.bijectors


def grid_coordinates(spec: FlowSpec) -> np.ndarray:
    """The grid's positions along either axis, float64 (G,): ``linspace(−extent, extent, G)``."""
    return np.linspace(-spec.extent, spec.extent, spec.grid_size)


def valid_nodes(spec: FlowSpec) -> np.ndarray:
    """Which grid positions (per axis) have a finite density: |x| < 1 in float32 when tanh is on."""
    g = grid_coordinates(spec).astype(np.float32)
    return np.abs(g) < 1 if spec.tanh else np.ones(g.shape, dtype=bool)


def _empty_pixels(spec: FlowSpec) -> np.ndarray | None:
    """Per axis, pixels meeting no valid grid cell (Agg paints them nothing); None if none is valid.

    A pixel that touches the valid cells only along a line counts as empty too.
    """
    valid = np.flatnonzero(valid_nodes(spec))
    if valid.size < 2:
        return None
    edges = np.arange(spec.image_size + 1) * (spec.grid_size - 1) / spec.image_size
    start, stop = np.maximum(edges[:-1], valid[0]), np.minimum(edges[1:], valid[-1])
    empty = stop <= start
    return None if empty.all() else empty


@dataclasses.dataclass(frozen=True, eq=False)
class _SpecArrays:
    """What the compiled stages need of a spec, as values (never baked into the compiled code).

    u: float32 (G,): pre-tanh grid coordinate atanh(g) (g itself without tanh; 0 where masked).
    ildj: float32 (G,): tanh's inverse log-det at g (0 without tanh or where masked).
    valid: bool (G,): where p is finite (`valid_nodes`).
    pixels: float32 (2, S + 1) tensor: per pixel, 1.0 where it meets no valid cell (last entry
        unused); per pixel edge, 1.0 where its nearest grid node is valid.
    inv_scale, shift: f2 and f1, float32 (2,).
    radius: 1/(√2·base_scale), so that −|z|²/(2σ²) = −|radius·z|².
    log_norm: −log(2π·base_scale²) − log|scale₁·scale₂|, the base's normaliser and f2's log-det.
    """

    u: np.ndarray
    ildj: np.ndarray
    valid: np.ndarray
    pixels: tf.Tensor
    inv_scale: np.ndarray
    shift: np.ndarray
    radius: np.float32
    log_norm: np.float32


@functools.lru_cache(maxsize=32)
def _spec_arrays(spec: FlowSpec) -> _SpecArrays:
    """`_SpecArrays` of `spec` (cached: the Dataset page asks for the same spec on every rerun)."""
    g = tf.constant(grid_coordinates(spec), tf.float32)
    if spec.tanh:
        tanh = tfb.Tanh()
        u, ildj = tanh.inverse(g).numpy(), tanh.inverse_log_det_jacobian(g, event_ndims=0).numpy()
    else:
        u, ildj = g.numpy(), np.zeros(spec.grid_size, np.float32)
    valid = valid_nodes(spec)
    empty = _empty_pixels(spec)
    empty = np.zeros(spec.image_size, bool) if empty is None else empty
    corner_valid = valid[edge_node_indices(PixelGrid(spec.grid_size, spec.image_size))]
    pixels = tf.constant(np.stack([np.append(empty, False), corner_valid]).astype(np.float32))
    scale = np.array(spec.scale)
    return _SpecArrays(
        u=np.where(valid, u, 0.0).astype(np.float32),  # masked nodes get finite stand-ins
        ildj=np.where(valid, ildj, 0.0).astype(np.float32),
        valid=valid,
        pixels=pixels,
        inv_scale=(1.0 / scale).astype(np.float32),
        shift=np.array(spec.shift, np.float32),
        radius=np.float32(1.0 / (np.sqrt(2.0) * spec.base_scale)),
        log_norm=np.float32(-np.log(2 * np.pi * spec.base_scale**2) - np.log(abs(scale[0] * scale[1]))),
    )


def _axis_terms(a: np.ndarray, theta: np.ndarray, spec: FlowSpec, width: int) -> tuple[tf.Tensor, ...]:
    """The chain's log-density split into per-axis pieces, for `width` images (padded by
    repeating the last one).

    With (x, y) the pre-tanh point (atanh of the image point when tanh is on), undoing the chain
    stage by stage — w = R(−θ)(x, y), w₂ ← w₂ − a·w₁², z = w / scale − shift — gives

        w₁ = cos θ·x + sin θ·y
        z₁ = (cos θ·x / scale₁ − shift₁) + sin θ·y / scale₁
        z₂ = −sin θ·x / scale₂ + (cos θ·y / scale₂ − shift₂) − (a / scale₂)·w₁²
        log p = (ildj(x) + log_norm) + ildj(y) − r²·(z₁² + z₂²),   r = 1/(√2·base_scale)

    (rotation and shear preserve area). Every term but the shear's w₁² is a function of x alone
    plus a function of y alone, so it is computed here once per axis and image (G·n values) and
    the G²·n points only add, square and exponentiate (`_density_on_grid`).

    Returns:
        terms: float32 (6, G, n): [w₁ from x, w₁ from y, r·z₁ from x, r·z₁ from y, r·z₂ from x,
            r·z₂ from y], each indexed [grid position, image].
        shear: float32 (n,): r·a / scale₂.
        log_terms: float32 (3, G): ildj(x) + log_norm, ildj(y), and 1.0 where p is finite.
    """
    arrays = _spec_arrays(spec)
    pad = width - a.size
    a32 = np.pad(a, (0, pad), mode="edge").astype(np.float32)
    t32 = np.pad(theta, (0, pad), mode="edge").astype(np.float32)
    cos, sin = np.cos(t32), np.sin(t32)
    u, r = arrays.u[:, None], arrays.radius
    inv_scale, shift = arrays.inv_scale, arrays.shift
    terms = np.stack([
        u * cos,
        u * sin,
        r * (u * cos * inv_scale[0] - shift[0]),
        r * (u * sin * inv_scale[0]),
        r * (-u * sin * inv_scale[1]),
        r * (u * cos * inv_scale[1] - shift[1]),
    ])
    log_terms = np.stack([arrays.ildj + arrays.log_norm, arrays.ildj, arrays.valid]).astype(np.float32)
    return tf.constant(terms), tf.constant(r * a32 * inv_scale[1]), tf.constant(log_terms)


def _density_on_grid(terms: tf.Tensor, shear: tf.Tensor, log_terms: tf.Tensor) -> tf.Tensor:
    """p on the grid for every image, float32 (G, G, n): [row i = y_i, column j = x_j, image].

    From `_axis_terms`'s pieces. Masked nodes (the tanh edge) are 0: the density is ≥ 0, so
    cells touching them never raise a pixel's maximum.
    """
    x, y = (lambda t: t[None, :, :]), (lambda t: t[:, None, :])  # (G, n) → along columns / rows
    w1 = x(terms[0]) + y(terms[1])
    rz1 = x(terms[2]) + y(terms[3])
    rz2 = x(terms[4]) + y(terms[5]) - shear * tf.square(w1)
    log_x, log_y, valid = log_terms[0][None, :, None], log_terms[1][:, None, None], log_terms[2]
    p = tf.exp(log_x + log_y - (tf.square(rz1) + tf.square(rz2)))
    return p * (valid[None, :, None] * valid[:, None, None])


_trace_counts: dict[str, int] = {}


def _traced(name: str) -> None:
    """Count a trace of stage `name` (Python code in a tf.function body runs only when tracing)."""
    _trace_counts[name] = _trace_counts.get(name, 0) + 1


def trace_count() -> int:
    """How many times the renderer's compiled stages have been traced (retraced) so far."""
    return sum(_trace_counts.values())


@tf.function(jit_compile=True)
def _field_stage(terms, shear, log_terms, pixels, grid_size: int, image_size: int):
    """→ (an upper bound on zmin (n,), zmax (n,), per-pixel max (n, S, S), and the slopes at
    it along x and y (n, S, S) each, `_slopes_at_max`).

    Rows of the outputs are image rows: row 0 is y = +extent. Pixels meeting no valid cell
    have max −inf.
    """
    _traced("field")
    grid = PixelGrid(grid_size, image_size)
    p = _density_on_grid(terms, shear, log_terms)
    best = pixel_max(p, grid)
    # The pixels cover every valid cell and the maximum sits on a node: this is the grid's max.
    zmax = tf.reduce_max(best, axis=[0, 1])
    empty = pixels[0, :-1] > 0
    best = tf.where((empty[:, None] | empty[None, :])[..., None], tf.constant(-np.inf, p.dtype), best)
    corners = corner_nodes(p, grid)
    corner_valid = pixels[1] > 0
    # The min over a subset of the valid nodes bounds the true min from above (see _levels).
    on_valid = (corner_valid[:, None] & corner_valid[None, :])[..., None]
    zmin_bound = tf.reduce_min(tf.where(on_valid, corners, tf.constant(np.inf, p.dtype)), axis=[0, 1])
    image_major = lambda t: tf.transpose(t[::-1], [2, 0, 1])  # (n, S, S), row 0 is y = +extent
    # Corners on masked nodes (the tanh edge) hold 0, not the field: never take their slopes.
    slope_x, slope_y = _slopes_at_max(p, best, tf.where(on_valid, corners, tf.constant(-np.inf, p.dtype)), grid)
    return zmin_bound, zmax, image_major(best), image_major(slope_x), image_major(slope_y)


def _slopes_at_max(p, best, corners, grid: PixelGrid):
    """|∂f/∂x|, |∂f/∂y| (S, S, n) each where each pixel's maximum `best` sits: at its highest
    corner, inside the pixel, for most pixels. `corners` (`corner_nodes`) is −inf at corners
    whose slopes must not be used. A pixel whose maximum is over 3× its highest corner holds a
    spike (a thin density ridge the grid resolves as a node or two): the field falls from it by
    best − (highest corner) within about half a pixel, so its slopes are at least twice that
    drop per px; the corner's gentle slopes would keep the spike's top band over the pixel."""
    values, slopes = corner_slopes(p, corners, grid)

    def higher(first, second):
        (v, (gx, gy)), (w, (hx, hy)) = first, second
        pick = w > v
        return tf.where(pick, w, v), (tf.where(pick, hx, gx), tf.where(pick, hy, gy))

    c = list(zip(values, slopes))
    top, (gx, gy) = higher(higher(c[0], c[1]), higher(c[2], c[3]))
    peak = tf.where(best > 3.0 * top, 2.0 * (best - top), 0.0)  # a spike: far above every corner
    peak = tf.where(tf.math.is_finite(peak), peak, 0.0)
    return tf.maximum(tf.abs(gx), peak), tf.maximum(tf.abs(gy), peak)


@tf.function(jit_compile=True)
def _zmin_stage(terms, shear, log_terms):
    """The exact minimum of p over the valid nodes, (n,); only when `_levels` needs it."""
    _traced("zmin")
    p = _density_on_grid(terms, shear, log_terms)
    valid = (log_terms[2][:, None] * log_terms[2][None, :] > 0)[..., None]
    return tf.reduce_min(tf.where(valid, p, tf.constant(np.inf, p.dtype)), axis=[0, 1])


# Agg paints a band into a pixel only if it covers at least 1/256 of the pixel's area.
_MIN_COVER = 1.0 / 256.0


def _band_area(low, high):
    """A(t): the area (px²) of the part of a unit pixel within t of its maximum, the field
    falling linearly from a corner at rates low ≤ high per px along the pixel's two axes — the
    unit square cut by the line low·u + high·w = t: a corner triangle t²/(2·low·high) while
    t ≤ low, then a strip (t − low/2)/high, then the square less a triangle. Written per piece
    so that low → 0 (a contour parallel to a pixel edge) stays exact."""
    tiny = tf.constant(1e-30, low.dtype)
    per_triangle = 1.0 / tf.maximum(2.0 * low * high, tiny)
    per_strip = 1.0 / tf.maximum(high, tiny)

    def area(t):
        t = tf.maximum(t, 0.0)
        triangle = t * t * per_triangle
        strip = (t - 0.5 * low) * per_strip
        rest = 1.0 - tf.square(tf.maximum(low + high - t, 0.0)) * per_triangle
        return tf.where(t <= low, triangle, tf.where(t <= high, strip, rest))

    return area, per_triangle


def _painted_band(v, band, lowest, step, slope_x, slope_y):
    """The highest band Agg actually paints in each pixel, given the highest band `band` that
    touches it (float32, per pixel; lowest, step per image; slope_x, slope_y the field's
    rates per px at the pixel's maximum, `_slopes_at_max`).

    The band j steps below the top covers A(d + j·s) − A(d + (j − 1)·s) of the pixel, with
    d = v − level[band], s the level step and A `_band_area`. These increments grow while the
    cut is a corner triangle (t ≤ low), stay at s/high along the strip, then shrink, so the
    first band reaching 1/256 px² is the top one, one in the triangle (closed form: the
    increment is (2·d·s + (2j − 1)·s²)/(2·low·high)), or one of the first two bands that reach
    the strip. Flat pixels keep their top band. Should no band reach 1/256 (a pixel crossing
    over 256 bands, high > 256·s) it gets the second band into the strip, where they are largest.
    """
    low, high = tf.minimum(slope_x, slope_y), tf.maximum(slope_x, slope_y)
    area, per_triangle = _band_area(low, high)
    per_step = 1.0 / step
    depth = v - (lowest + band * step)
    in_triangle = tf.maximum(tf.math.ceil(0.5 * (_MIN_COVER / per_triangle * per_step * per_step - 2.0 * depth * per_step + 1.0)), 1.0)
    to_strip = tf.maximum(tf.math.ceil((low - depth) * per_step), 1.0)  # first band whose range passes low
    entering = depth + (to_strip - 1.0) * step
    strip_covers = area(entering + step) - area(entering) >= _MIN_COVER
    steps_down = tf.where(in_triangle < to_strip, in_triangle, tf.where(strip_covers, to_strip, to_strip + 1.0))
    return tf.where(area(depth) >= _MIN_COVER, band, band - steps_down)


@tf.function(jit_compile=True)
def _colour_stage(field, slope_x, slope_y, bands, colours):
    """Pixels → RGB: field, slope_x, slope_y (n, S, S); bands (3, n) = lowest level, step, top
    band (all float32); colours uint8 (n, K + 1, 3), band k's colour, last row white
    → (n, S, S, 3)."""
    _traced("colour")
    lowest, step, top = bands[0, :, None, None], bands[1, :, None, None], bands[2, :, None, None]
    # Each pixel's band: level[k] < v ≤ level[k+1]. float32 is enough: the field itself is a
    # float32 interpolation, so ties within 1e-7 of a level are noise either way.
    band = tf.clip_by_value(tf.math.ceil((field - lowest) / step) - 1, 0.0, top)
    band = tf.clip_by_value(_painted_band(field, band, lowest, step, slope_x, slope_y), 0.0, top)
    white = tf.shape(colours)[1] - 1
    index = tf.where(tf.math.is_inf(field), white, tf.cast(band, tf.int32))  # no band touches → white
    return tf.gather(colours, index, batch_dims=1)


def _band_colours(levels: ContourLevels, cmap: str, bands: int) -> np.ndarray:
    """Each band's colour, exactly as matplotlib computes it in float64: uint8 (n, bands + 1, 3).

    layer = ½(level[k] + level[k+1]); x = (layer − level[0]) / (level[−1] − level[0]);
    entry int(256·x), with x = 1 → 255. The extra last row is white (pixels no band touches).
    """
    n = levels.count.size
    level = levels.level(np.broadcast_to(np.arange(bands + 1, dtype=np.float64), (n, bands + 1)))
    lowest, highest = level[:, :1], levels.level((levels.count - 1)[:, None].astype(np.float64))
    x = (0.5 * (level[:, :-1] + level[:, 1:]) - lowest) / (highest - lowest) * 256.0
    x = np.where(x == 256.0, 255.0, x)
    entry = np.clip(x, 0.0, 255.0).astype(np.intp)
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
    if _empty_pixels(spec) is None:  # no grid cell has a finite density: Agg paints nothing
        return np.full((n, spec.image_size, spec.image_size, 3), 255, np.uint8)
    width = next(b for b in _BUCKETS if b >= n)
    terms = _axis_terms(a, theta, spec, width)
    pixels = _spec_arrays(spec).pixels
    zmin_bound, zmax, field, slope_x, slope_y = _field_stage(*terms, pixels, spec.grid_size, spec.image_size)
    levels = _levels(zmin_bound.numpy(), zmax.numpy(), lambda: _zmin_stage(*terms).numpy(), spec.levels)
    bands = np.stack([levels.level(0), levels.step, levels.count - 2]).astype(np.float32)
    colours = _band_colours(levels, spec.cmap, spec.levels + 3)  # MaxNLocator: ≤ levels + 4 ticks
    return _colour_stage(field, slope_x, slope_y, tf.constant(bands), tf.constant(colours)).numpy()[:n]


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

    # Chunks are independent and TF releases the GIL, so one chunk is in flight per core. The
    # first full chunk of a geometry runs alone the first time (it compiles the stages once).
    starts = range(0, a.size, _CHUNK)
    if len(starts) == 1:
        return chunk(0)
    geometry = (spec.grid_size, spec.image_size, spec.levels)
    done = [] if geometry in _COMPILED else [chunk(0)]
    _COMPILED.add(geometry)
    with concurrent.futures.ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        return np.concatenate([*done, *pool.map(chunk, starts[len(done):])], axis=0)


def density_grid(a, theta, spec: FlowSpec | None = None) -> np.ndarray:
    """p(x) of each flow on the spec's grid: float32 (N, G, G), row i is y_i, column j is x_j.

    The values the renderer contours. Non-finite values (the tanh edge) are NaN, as in the study.
    """
    spec = FlowSpec() if spec is None else spec
    a, theta = as_factors(a, theta)
    chunks = []
    for i in range(0, a.size, _CHUNK):
        n = min(_CHUNK, a.size - i)
        p = _density_on_grid(*_axis_terms(a[i : i + n], theta[i : i + n], spec, n)).numpy()
        chunks.append(np.moveaxis(p, -1, 0))
    valid = valid_nodes(spec)
    return np.where(valid[None, :, None] & valid[None, None, :], np.concatenate(chunks), np.nan).astype(np.float32)
