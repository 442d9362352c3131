"""Density grid → RGB images for a whole batch, matching the study's matplotlib look without it.

The study draws ``contourf(X, Y, p, levels=L, cmap=…)`` of each flow's density on a G×G grid,
axis off, ``tight_layout(pad=0)``, S/100 in at 100 dpi. What Agg paints, and what we reproduce:

1. p(x) on the grid, from the chain's exact ``TransformedDistribution.prob``. Points where it is
   not finite (the tanh edge |x| ≥ 1) are masked, and so are the grid cells touching them.
2. The L-level "nice" levels `contour_levels` picks between the finite min and max.
3. Bands are filled lowest first without antialiasing. Agg paints a band into a pixel when
   it covers at least 1/256 of the pixel, so a pixel shows the highest band that touches its
   square with enough area. We take the maximum of the (bilinearly interpolated) density over
   the pixel's square (`raster.pixel_max`), whose band is the highest band touching it, then
   step down while that band's area — modelled as a corner triangle from the pixel's slopes
   (`raster.slope_product`) — is under 1/256 px² (`_painted_band`). Pixels touching no valid
   cell stay white.
4. Band k's colour is entry ``int(256 · (mid_k − lev_0) / (lev_last − lev_0))`` of the colour
   map, mid_k the band's midpoint, as Agg paints it (`colormaps.colormap_bytes`).

Steps 1, 3 and 4 run as XLA-compiled TensorFlow over chunks of images; step 2 is a few numpy
operations per image. The remaining mismatch with matplotlib (a band up or down in a few % of
pixels) comes from the approximate area model and from contourpy cutting cells with straight
chords rather than bilinear curves; README "Performance" quotes the measured figures.
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
from vaeflow.flows.chain import as_factors, chain_distribution
from vaeflow.flows.spec import FlowSpec
from vaeflow.raster import PixelGrid, corner_nodes, edge_node_indices, pixel_max, slope_product

# Images per compiled call. Fixed shapes mean one XLA compilation per spec; the last chunk is padded.
_CHUNK = 256
_SMALL_CHUNK = 16
_WORKERS = min(2, os.cpu_count() or 1)
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


def _density_on_grid(a: tf.Tensor, theta: tf.Tensor, spec: FlowSpec) -> tf.Tensor:
    """p(x) of each image's flow on the grid, float32 (n, G, G): [image, row i = y_i, column j = x_j].

    The chain's exact log-density by the change of variables. The last stage, tanh, acts on each
    coordinate alone and the grid is a product of two axes, so its inverse and log-det are taken
    once per axis (G values) and the rest of the chain — itself a `TransformedDistribution` — is
    evaluated at the G² pre-tanh points:  log p(x, y) = log p_u(atanh x, atanh y) + ildj(x) + ildj(y).
    Non-finite values (the tanh edge) come out as inf/NaN; callers mask them.
    """
    g = tf.constant(grid_coordinates(spec), tf.float32)
    if spec.tanh:
        tanh = tfb.Tanh()
        u, ildj = tanh.inverse(g), tanh.inverse_log_det_jacobian(g, event_ndims=0)
        inner = dataclasses.replace(spec, tanh=False)
    else:
        u, ildj, inner = g, tf.zeros_like(g), spec
    U, V = tf.meshgrid(u, u)  # U[i, j] = u_j (x), V[i, j] = u_i (y)
    points = tf.reshape(tf.stack([U, V], axis=-1), [1, -1, 2])
    # Batch [n, 1] against points [1, G², 2]: image-major output, which XLA vectorises best.
    log_p = chain_distribution(a[:, None], theta[:, None], inner).log_prob(points)
    log_p = tf.reshape(log_p, [-1, spec.grid_size, spec.grid_size])
    return tf.exp(log_p + ildj[None, :, None] + ildj[None, None, :])


# Agg paints a band into a pixel only if it covers at least 1/256 of the pixel's area.
_MIN_COVER = 1.0 / 256.0


def _painted_band(v, band, lowest, step, slopes):
    """The highest band Agg actually paints in each pixel, given the highest band `band` that
    touches it (all float32, broadcast per pixel).

    Model: near the pixel's maximum v the region above level l covers c·(v − l)² px² with
    c = 1/(2·slopes) (a corner triangle; `raster.slope_product`). With d = v − level[band], the
    top band covers c·d² and the band j steps lower covers c·((d + j·s)² − (d + (j−1)·s)²)
    = c·(2·d·s + (2j − 1)·s²), growing with j; return the first band reaching 1/256 px².
    Flat pixels (slopes → 0) keep their top band.
    """
    c = 0.5 / tf.maximum(slopes, tf.constant(1e-30, slopes.dtype))
    depth = v - (lowest + band * step)
    # Smallest j ≥ 1 with c·(2·d·s + (2j − 1)·s²) ≥ 1/256.
    steps_down = tf.maximum(tf.math.ceil((_MIN_COVER / (c * step * step) - 2 * depth / step + 1) / 2), 1.0)
    return tf.where(c * depth * depth >= _MIN_COVER, band, band - steps_down)


@functools.lru_cache(maxsize=8)
def _compiled_stages(spec: FlowSpec):
    """The XLA-compiled stages for one spec: density (n, G, G); per-pixel max, slopes and the
    data range; the exact data minimum (only when `_levels` needs it); bands → RGB."""
    empty = _empty_pixels(spec)
    grid = PixelGrid(spec.grid_size, spec.image_size)
    valid = valid_nodes(spec)
    node_mask = tf.constant(valid[None, :, None] & valid[None, None, :])
    size = spec.image_size

    # Two compiled functions, not one: inside a single XLA program the density would be fused
    # into (recomputed by) each of the pixel stage's consumers.
    @tf.function(jit_compile=True, reduce_retracing=True)
    def density_stage(a, theta):
        p = _density_on_grid(a, theta, spec)  # (n, G, G)
        # Masked nodes become 0: the density is ≥ 0, so cells touching them never raise a
        # pixel's maximum, and pixels meeting only masked cells are blanked via `empty`.
        return tf.where(node_mask, p, tf.zeros_like(p))

    corner_valid = valid[edge_node_indices(grid)]
    corner_mask = tf.constant(corner_valid[None, :, None] & corner_valid[None, None, :])

    @tf.function(jit_compile=True, reduce_retracing=True)
    def pixel_stage(p):
        """→ (an upper bound on zmin, zmax, per-pixel max (n, S, S), slopes (n, S, S))."""
        if empty is None:
            blank = tf.fill([tf.shape(p)[0], size, size], tf.constant(-np.inf, p.dtype))
            inf = tf.fill([tf.shape(p)[0]], tf.constant(np.inf, p.dtype))
            return inf, tf.reduce_max(p, axis=[1, 2]), blank, tf.zeros_like(blank)
        best = pixel_max(p, grid)
        # The pixels cover every valid cell and the maximum sits on a node: this is the grid's max.
        zmax = tf.reduce_max(best, axis=[1, 2])
        best = tf.where(tf.constant(empty[None, :, None] | empty[None, None, :]), tf.constant(-np.inf, p.dtype), best)
        corners = corner_nodes(p, grid)
        # The min over a subset of the valid nodes bounds the true min from above (see _levels).
        zmin_bound = tf.reduce_min(tf.where(corner_mask, corners, tf.constant(np.inf, p.dtype)), axis=[1, 2])
        # Image row 0 is y = +extent.
        return zmin_bound, zmax, best[:, ::-1], slope_product(corners, grid)[:, ::-1]

    @tf.function(jit_compile=True, reduce_retracing=True)
    def zmin_stage(p):
        # Masked nodes are 0 ≤ every density: excluded from the min.
        return tf.reduce_min(tf.where(node_mask, p, tf.constant(np.inf, p.dtype)), axis=[1, 2])

    lut = tf.constant(np.concatenate([colormap_bytes(spec.cmap), np.full((1, 3), 255, np.uint8)]))

    bands = spec.levels + 3  # MaxNLocator(levels + 1) yields at most levels + 4 ticks

    @tf.function(jit_compile=True, reduce_retracing=True)
    def colour_stage(field, slopes, first, step, best_vmin, offset, count):
        def level(k):  # (n, 1) parameters against k of shape (n, m)
            ticks = (first[:, None] + k) * step[:, None] + best_vmin[:, None]
            return tf.where(offset[:, None] == 0, ticks, ticks + offset[:, None])

        # Each band's colour entry, exactly as matplotlib computes it in float64:
        # layer = ½(level[k] + level[k+1]); x = (layer − level[0]) / (level[−1] − level[0]);
        # entry int(256·x), with x = 1 → 255.
        k = tf.range(bands, dtype=tf.float64)[None, :]
        lowest = level(tf.zeros_like(k[:, :1]))
        highest = level(tf.cast(count[:, None] - 1, tf.float64))
        x = (0.5 * (level(k) + level(k + 1)) - lowest) / (highest - lowest) * 256.0
        x = tf.where(x == 256.0, tf.constant(255.0, tf.float64), x)
        entry = tf.cast(tf.clip_by_value(x, 0.0, 255.0), tf.int32)  # (n, bands)
        # Each pixel's band: level[k] < v ≤ level[k+1]. float32 is enough: the field itself is a
        # float32 interpolation, so ties within 1e-7 of a level are noise either way.
        v = tf.cast(field, tf.float32)
        lowest32, step32 = tf.cast(lowest, tf.float32)[:, :, None], tf.cast(step, tf.float32)[:, None, None]
        top = tf.cast(count - 2, tf.float32)[:, None, None]
        band = tf.clip_by_value(tf.math.ceil((v - lowest32) / step32) - 1, 0.0, top)
        band = tf.cast(tf.clip_by_value(_painted_band(v, band, lowest32, step32, slopes), 0.0, top), tf.int32)
        index = tf.gather(entry, band, batch_dims=1)
        index = tf.where(tf.math.is_inf(field), 256, index)  # no band touches → white
        return tf.gather(lut, index)

    return density_stage, pixel_stage, zmin_stage, colour_stage


def _levels(zmin_bound: np.ndarray, zmax: np.ndarray, exact_zmin, levels: int) -> ContourLevels:
    """contourf's levels for data in [zmin, zmax], computing the exact zmin only when it matters.

    The density is ≥ 0, so zmin ∈ [0, zmin_bound]. Every quantity in matplotlib's level choice
    is monotone in zmin, so when zmin = 0 and zmin = zmin_bound give the same levels, so does
    every zmin between them — the usual case, as the density's tails are far below one level step.
    """
    zmax = zmax.astype(np.float64)
    at_zero = contour_levels(np.zeros_like(zmax), zmax, levels)
    at_bound = contour_levels(zmin_bound.astype(np.float64), zmax, levels)
    if at_zero.equals(at_bound):
        result = at_zero
    else:
        result = contour_levels(exact_zmin().astype(np.float64), zmax, levels)
    if result.count.max() > levels + 4:  # cannot happen for MaxNLocator; guards the colour table
        raise RuntimeError(f"contour_levels gave {result.count.max()} levels for levels={levels}")
    return result


def _render_chunk(a: np.ndarray, theta: np.ndarray, spec: FlowSpec) -> np.ndarray:
    n = a.size
    width = _SMALL_CHUNK if n <= _SMALL_CHUNK else _CHUNK
    pad = width - n
    a32 = np.pad(a, (0, pad), mode="edge").astype(np.float32)
    t32 = np.pad(theta, (0, pad), mode="edge").astype(np.float32)
    density_stage, pixel_stage, zmin_stage, colour_stage = _compiled_stages(spec)
    p = density_stage(tf.constant(a32), tf.constant(t32))
    zmin_bound, zmax, field, slopes = pixel_stage(p)
    levels = _levels(zmin_bound.numpy(), zmax.numpy(), lambda: zmin_stage(p).numpy(), spec.levels)
    rgb = colour_stage(field, slopes, *(tf.constant(x) for x in (levels.first, levels.step, levels.best_vmin, levels.offset)),
                       tf.constant(levels.count))
    return rgb.numpy()[:n]


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

    # The first chunk runs alone (it compiles the stages once); the rest are independent and TF
    # releases the GIL, so one chunk in flight per core.
    first, rest = chunk(0), range(_CHUNK, a.size, _CHUNK)
    if not rest:
        return first
    with concurrent.futures.ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        return np.concatenate([first, *pool.map(chunk, rest)], axis=0)


def density_grid(a, theta, spec: FlowSpec | None = None) -> np.ndarray:
    """p(x) of each flow on the spec's grid: float32 (N, G, G), row i is y_i, column j is x_j.

    The values the renderer contours. Non-finite values (the tanh edge) are NaN, as in the study.
    """
    spec = FlowSpec() if spec is None else spec
    a, theta = as_factors(a, theta)
    p = _density_on_grid(tf.constant(a, tf.float32), tf.constant(theta, tf.float32), spec).numpy()
    return np.where(np.isfinite(p), p, np.nan).astype(np.float32)
