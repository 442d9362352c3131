"""Density grid → RGB images for a whole batch, matching the study's matplotlib look without it.

The study draws ``contourf(X, Y, p, levels=L, cmap=…)`` of each flow's density on a G×G grid,
axis off, ``tight_layout(pad=0)``, S/100 in at 100 dpi. What Agg paints, and what we reproduce:

1. p(x) on the grid, from the chain's exact ``TransformedDistribution.prob``. Points where it is
   not finite (the tanh edge |x| ≥ 1) are masked, and so are the grid cells touching them.
2. The L-level "nice" levels `contour_levels` picks between the finite min and max.
3. Bands are filled lowest first without antialiasing, and Agg paints every pixel a polygon
   touches, so a pixel ends up with the highest band that touches its area: the band of the
   maximum of the (bilinearly interpolated) density over the pixel's square. That maximum is
   attained at the corners of the pixel ∩ grid-cell rectangles, so we sample the field on the
   union of pixel edges and grid lines and max-pool per pixel. Pixels touching no valid cell
   stay white.
4. Band k's colour is entry ``int(256 · (mid_k − lev_0) / (lev_last − lev_0))`` of the colour
   map, mid_k the band's midpoint, as Agg paints it (`colormaps.colormap_bytes`).

Steps 1 and 3 run as XLA-compiled TensorFlow over chunks of images; step 2 and the colour
table are tiny numpy arrays per image.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow.colormaps import colormap_bytes
from vaeflow.contour_levels import contour_levels
from vaeflow.flows.chain import as_factors, chain_distribution
from vaeflow.flows.spec import FlowSpec

# Images per compiled call. Fixed shapes mean one XLA compilation per spec; the last chunk is padded.
_CHUNK = 256
_SMALL_CHUNK = 16
tfb = tfp.bijectors


@dataclasses.dataclass(frozen=True)
class _AxisSampling:
    """Where to sample the density along one axis (both axes share it), in grid-index units 0 … G−1.

    coords (M,): pixel edges (clipped to the valid cells) and the grid nodes between them.
    lower (M,) int32, weight (M,) float32: coords = lower + weight, lower ≤ G − 2.
    owned (S, K) int32: indices into coords of the samples inside pixel j (padded by repeats).
    off_grid (M,) bool: coords strictly between grid nodes (these are pixel edges).
    corners (C,): the distinct clipped pixel edges; corner_lower, corner_weight as above.
    corner_of (S, 2) int32: indices into corners of pixel j's first and last edge.
    empty (S,) bool: pixels whose span meets no valid grid cell.
    """

    coords: np.ndarray
    lower: np.ndarray
    weight: np.ndarray
    owned: np.ndarray
    off_grid: np.ndarray
    corners: np.ndarray
    corner_lower: np.ndarray
    corner_weight: np.ndarray
    corner_of: np.ndarray
    empty: np.ndarray


def grid_coordinates(spec: FlowSpec) -> np.ndarray:
    """The grid's positions along either axis, float64 (G,): ``linspace(−extent, extent, G)``."""
    return np.linspace(-spec.extent, spec.extent, spec.grid_size)


def valid_nodes(spec: FlowSpec) -> np.ndarray:
    """Which grid positions (per axis) have a finite density: |x| < 1 in float32 when tanh is on."""
    g = grid_coordinates(spec).astype(np.float32)
    return np.abs(g) < 1 if spec.tanh else np.ones(g.shape, dtype=bool)


def _split(coords: np.ndarray, grid_size: int) -> tuple[np.ndarray, np.ndarray]:
    lower = np.clip(np.floor(coords), 0, grid_size - 2).astype(np.int32)
    return lower, (coords - lower).astype(np.float32)


def _axis_sampling(spec: FlowSpec) -> _AxisSampling | None:
    """Sampling plan for one axis, or None when no grid cell is valid."""
    valid = np.flatnonzero(valid_nodes(spec))
    if valid.size < 2:
        return None
    lo, hi = float(valid[0]), float(valid[-1])
    size, cells = spec.image_size, spec.grid_size - 1
    edges = np.arange(size + 1) * cells / size  # pixel edges in grid-index units
    spans = []
    for j in range(size):
        start, stop = max(edges[j], lo), min(edges[j + 1], hi)
        if stop <= start:  # touches the valid square in at most a line: Agg paints nothing
            spans.append(None)
            continue
        inner = np.arange(np.floor(start) + 1, np.ceil(stop))
        spans.append(np.concatenate([[start], inner, [stop]]))
    if all(s is None for s in spans):
        return None
    used = [s for s in spans if s is not None]
    coords = np.unique(np.concatenate(used))
    corners = np.unique(np.concatenate([[s[0], s[-1]] for s in used]))
    width = max(len(s) for s in used)
    owned = np.zeros((size, width), dtype=np.int32)
    corner_of = np.zeros((size, 2), dtype=np.int32)
    for j, s in enumerate(spans):
        if s is not None:
            idx = np.searchsorted(coords, s)
            owned[j] = np.concatenate([idx, np.full(width - len(idx), idx[-1])])
            corner_of[j] = np.searchsorted(corners, [s[0], s[-1]])
    lower, weight = _split(coords, spec.grid_size)
    corner_lower, corner_weight = _split(corners, spec.grid_size)
    return _AxisSampling(
        coords=coords,
        lower=lower,
        weight=weight,
        owned=owned,
        off_grid=coords != np.round(coords),
        corners=corners,
        corner_lower=corner_lower,
        corner_weight=corner_weight,
        corner_of=corner_of,
        empty=np.array([s is None for s in spans]),
    )


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


def _lerp_rows(values: tf.Tensor, lower: np.ndarray, weight: np.ndarray, axis: int) -> tf.Tensor:
    """Linear interpolation of `values` along `axis` at positions lower + weight (grid-index units)."""
    shape = [1] * len(values.shape)
    shape[axis] = -1
    w = tf.reshape(tf.constant(weight), shape)
    below = tf.gather(values, tf.constant(lower), axis=axis)
    above = tf.gather(values, tf.constant(lower + 1), axis=axis)
    return below * (1 - w) + above * w


def _contour_field_at(p: tf.Tensor, plan: _AxisSampling) -> tf.Tensor:
    """The contour polygons' implied field φ at every (corner y, corner x): float32 (n, Cy, Cx).

    Within a grid cell matplotlib (contourpy) bounds the region above level l by a straight chord
    between the edges' linear crossings at l. A point lies on exactly one such chord; φ is its level.
    Chords cutting off a corner give the plane through that corner and its two neighbours; chords
    between opposite edges give a level linear in the other coordinate. Take the largest candidate
    whose crossings lie on their edges (the one valid candidate, except in saddle cells).
    """
    ly, wy = tf.constant(plan.corner_lower), tf.constant(plan.corner_weight)[None, :, None]
    lx, wx = tf.constant(plan.corner_lower), tf.constant(plan.corner_weight)[None, None, :]

    def corner(dy: int, dx: int) -> tf.Tensor:
        return tf.gather(tf.gather(p, ly + dy, axis=1), lx + dx, axis=2)

    z00, z10, z01, z11 = corner(0, 0), corner(0, 1), corner(1, 0), corner(1, 1)  # z[x-offset][y-offset]
    # Edges of the unit cell: bottom (y=0) z00→z10, top (y=1) z01→z11, left (x=0) z00→z01, right z10→z11.

    def on_edge(level, za, zb):
        return (level >= tf.minimum(za, zb)) & (level <= tf.maximum(za, zb))

    bottom, top, left, right = (z00, z10), (z01, z11), (z00, z01), (z10, z11)
    candidates = [
        (z00 + wx * (z10 - z00) + wy * (z01 - z00), bottom, left),
        (z10 + (1 - wx) * (z00 - z10) + wy * (z11 - z10), bottom, right),
        (z01 + wx * (z11 - z01) + (1 - wy) * (z00 - z01), top, left),
        (z11 + (1 - wx) * (z01 - z11) + (1 - wy) * (z10 - z11), top, right),
    ]
    # Opposite edges: x = (1 − y)·x_bottom(l) + y·x_top(l) with x_e(l) = (l − z_start)/(z_end − z_start).
    for (a0, a1), (b0, b1), t, s in ((bottom, top, wy, wx), (left, right, wx, wy)):
        da, db = a1 - a0, b1 - b0
        safe_da = tf.where(da == 0, tf.ones_like(da), da)
        safe_db = tf.where(db == 0, tf.ones_like(db), db)
        level = (s + (1 - t) * a0 / safe_da + t * b0 / safe_db) / ((1 - t) / safe_da + t / safe_db)
        ok = (da != 0) & (db != 0)
        candidates.append((tf.where(ok, level, -np.inf), (a0, a1), (b0, b1)))
    best = tf.fill(tf.shape(z00), tf.constant(-np.inf, p.dtype))
    for level, edge_a, edge_b in candidates:
        best = tf.where(on_edge(level, *edge_a) & on_edge(level, *edge_b), tf.maximum(best, level), best)
    bilinear = (z00 * (1 - wx) + z10 * wx) * (1 - wy) + (z01 * (1 - wx) + z11 * wx) * wy
    return tf.where(tf.math.is_inf(best), bilinear, best)


@functools.lru_cache(maxsize=8)
def _compiled_stages(spec: FlowSpec):
    """XLA-compiled (density → min, max, per-pixel max) and (max → band → RGB) for one spec."""
    plan = _axis_sampling(spec)
    valid = valid_nodes(spec)
    node_mask = tf.constant(valid[None, :, None] & valid[None, None, :])
    block = slice(int(np.argmax(valid)), int(len(valid) - np.argmax(valid[::-1])))
    size = spec.image_size

    @tf.function(jit_compile=True, reduce_retracing=True)
    def field_stage(a, theta):
        p = _density_on_grid(a, theta, spec)  # (n, G, G)
        p = tf.where(node_mask, p, tf.zeros_like(p))  # masked nodes only feed masked cells
        inner = p[:, block, block]
        zmin, zmax = tf.reduce_min(inner, axis=[1, 2]), tf.reduce_max(inner, axis=[1, 2])
        if plan is None:
            return zmin, zmax, tf.fill([tf.shape(p)[0], size, size], tf.constant(-np.inf, p.dtype))
        # The field on (sample rows) × (sample columns). Where both coordinates are off the grid
        # lines (pixel corners inside a cell) the polygons' field differs from bilinear; those
        # points are dropped here and taken from `_contour_field_at` instead.
        f = _lerp_rows(_lerp_rows(p, plan.lower, plan.weight, axis=2), plan.lower, plan.weight, axis=1)
        inside = tf.constant(plan.off_grid[None, :, None] & plan.off_grid[None, None, :])
        f = tf.where(inside, tf.constant(-np.inf, f.dtype), f)
        owned = tf.constant(plan.owned)
        f = tf.reduce_max(tf.gather(f, owned, axis=1), axis=2)  # (n, S, Mx)
        f = tf.reduce_max(tf.gather(f, owned, axis=2), axis=3)  # (n, S, S)
        c = _contour_field_at(p, plan)  # (n, Cy, Cx)
        corner_of = tf.constant(plan.corner_of)
        c = tf.reduce_max(tf.gather(c, corner_of, axis=1), axis=2)
        c = tf.reduce_max(tf.gather(c, corner_of, axis=2), axis=3)
        f = tf.maximum(f, c)
        empty = tf.constant(plan.empty[None, :, None] | plan.empty[None, None, :])
        f = tf.where(empty, tf.constant(-np.inf, f.dtype), f)
        return zmin, zmax, f[:, ::-1]  # image row 0 is y = +extent

    lut = tf.constant(np.concatenate([colormap_bytes(spec.cmap), np.full((1, 3), 255, np.uint8)]))

    @tf.function(jit_compile=True, reduce_retracing=True)
    def colour_stage(field, first, step, best_vmin, offset, count):
        v = tf.cast(field, tf.float64)
        first, step, best_vmin, offset = (t[:, None, None] for t in (first, step, best_vmin, offset))
        top = tf.cast(count[:, None, None] - 2, tf.float64)

        def level(k):
            ticks = (first + k) * step + best_vmin
            return tf.where(offset == 0, ticks, ticks + offset)

        # Band k holds level[k] < v ≤ level[k+1]; guess k arithmetically, then fix rounding.
        k = tf.clip_by_value(tf.floor((v - offset - best_vmin) / step - first), 0.0, top)
        k = tf.where(v <= level(k), k - 1, tf.where(v > level(k + 1), k + 1, k))
        k = tf.clip_by_value(k, 0.0, top)
        # matplotlib: layer = ½(level[k] + level[k+1]); x = (layer − level[0]) / (level[−1] − level[0]);
        # entry int(256·x), x = 1 → 255.
        lowest, highest = level(tf.zeros_like(top)), level(top + 1)
        x = (0.5 * (level(k) + level(k + 1)) - lowest) / (highest - lowest) * 256.0
        x = tf.where(x == 256.0, tf.constant(255.0, tf.float64), x)
        index = tf.cast(tf.clip_by_value(x, 0.0, 255.0), tf.int32)
        index = tf.where(tf.math.is_inf(field), 256, index)  # no band touches → white
        return tf.gather(lut, index)

    return field_stage, colour_stage


def _render_chunk(a: np.ndarray, theta: np.ndarray, spec: FlowSpec) -> np.ndarray:
    n = a.size
    width = _SMALL_CHUNK if n <= _SMALL_CHUNK else _CHUNK
    pad = width - n
    a32 = np.pad(a, (0, pad), mode="edge").astype(np.float32)
    t32 = np.pad(theta, (0, pad), mode="edge").astype(np.float32)
    field_stage, colour_stage = _compiled_stages(spec)
    zmin, zmax, field = field_stage(tf.constant(a32), tf.constant(t32))
    levels = contour_levels(zmin.numpy().astype(np.float64), zmax.numpy().astype(np.float64), spec.levels)
    rgb = colour_stage(field, *(tf.constant(x) for x in (levels.first, levels.step, levels.best_vmin, levels.offset)),
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
    chunks = [
        _render_chunk(a[i : i + _CHUNK], theta[i : i + _CHUNK], spec) for i in range(0, a.size, _CHUNK)
    ]
    return np.concatenate(chunks, axis=0)


def density_grid(a, theta, spec: FlowSpec | None = None) -> np.ndarray:
    """p(x) of each flow on the spec's grid: float32 (N, G, G), row i is y_i, column j is x_j.

    The values the renderer contours. Non-finite values (the tanh edge) are NaN, as in the study.
    """
    spec = FlowSpec() if spec is None else spec
    a, theta = as_factors(a, theta)
    p = _density_on_grid(tf.constant(a, tf.float32), tf.constant(theta, tf.float32), spec).numpy()
    return np.where(np.isfinite(p), p, np.nan).astype(np.float32)
