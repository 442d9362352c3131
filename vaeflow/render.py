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

from vaeflow.colormaps import colormap_bytes, colormap_index
from vaeflow.contour_levels import ContourLevels, contour_levels
from vaeflow.flows.chain import as_factors, chain_distribution
from vaeflow.flows.spec import FlowSpec

# Images per compiled call. Fixed shapes mean one XLA compilation per spec; the last chunk is padded.
_CHUNK = 256
_SMALL_CHUNK = 16
_WHITE = np.uint8(255)


@dataclasses.dataclass(frozen=True)
class _AxisSampling:
    """Where to sample the interpolated field along one axis, and which samples each pixel owns.

    coords: sample positions in grid-index units (0 … G−1), float64 (M,).
    lower: floor of each position, clipped to G−2, int32 (M,); weight: its fractional part (M,).
    owned: (S, K) indices into coords; pixel j owns the samples inside its span (padded by repeats).
    empty: (S,) bool, pixels whose span meets no valid grid cell.
    """

    coords: np.ndarray
    lower: np.ndarray
    weight: np.ndarray
    owned: np.ndarray
    empty: np.ndarray


def grid_coordinates(spec: FlowSpec) -> np.ndarray:
    """The grid's positions along either axis, float64 (G,): ``linspace(−extent, extent, G)``."""
    return np.linspace(-spec.extent, spec.extent, spec.grid_size)


def valid_nodes(spec: FlowSpec) -> np.ndarray:
    """Which grid positions (per axis) have a finite density: |x| < 1 in float32 when tanh is on."""
    g = grid_coordinates(spec).astype(np.float32)
    return np.abs(g) < 1 if spec.tanh else np.ones(g.shape, dtype=bool)


def _axis_sampling(spec: FlowSpec) -> _AxisSampling | None:
    """Sampling plan for one axis (both axes share it), or None when no grid cell is valid."""
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
    coords = np.unique(np.concatenate([s for s in spans if s is not None]))
    width = max(len(s) for s in spans if s is not None)
    owned = np.zeros((size, width), dtype=np.int32)
    for j, s in enumerate(spans):
        if s is not None:
            idx = np.searchsorted(coords, s)
            owned[j] = np.concatenate([idx, np.full(width - len(idx), idx[-1])])
    lower = np.clip(np.floor(coords), 0, spec.grid_size - 2).astype(np.int32)
    return _AxisSampling(
        coords=coords,
        lower=lower,
        weight=(coords - lower).astype(np.float32),
        owned=owned,
        empty=np.array([s is None for s in spans]),
    )


def _grid_points(spec: FlowSpec) -> np.ndarray:
    """All grid points as float32 (G·G, 1, 2), row-major over (y, x): point i·G + j is (x_j, y_i)."""
    g = grid_coordinates(spec)
    X, Y = np.meshgrid(g, g)
    return np.stack([X, Y], axis=-1).astype(np.float32).reshape(-1, 1, 2)


def _density(a: tf.Tensor, theta: tf.Tensor, points: tf.Tensor, spec: FlowSpec) -> tf.Tensor:
    """p(x) of each image's flow on the grid: float32 (n, G, G), rows are y ascending."""
    p = chain_distribution(a, theta, spec).prob(points)  # (G·G, n)
    g = spec.grid_size
    return tf.transpose(tf.reshape(p, [g, g, -1]), [2, 0, 1])


@functools.lru_cache(maxsize=8)
def _compiled_stages(spec: FlowSpec):
    """XLA-compiled (density → min, max, per-pixel max) and (max → band → colour index) for a spec."""
    plan = _axis_sampling(spec)
    points = tf.constant(_grid_points(spec))
    valid = valid_nodes(spec)
    node_mask = tf.constant(valid[:, None] & valid[None, :])
    block = slice(int(np.argmax(valid)), int(len(valid) - np.argmax(valid[::-1])))

    @tf.function(jit_compile=True, reduce_retracing=True)
    def field_stage(a, theta):
        p = _density(a, theta, points, spec)
        p = tf.where(node_mask, p, tf.zeros_like(p))  # masked nodes only feed masked cells
        inner = p[:, block, block]
        zmin, zmax = tf.reduce_min(inner, axis=[1, 2]), tf.reduce_max(inner, axis=[1, 2])
        if plan is None:
            return zmin, zmax, tf.fill([tf.shape(p)[0], spec.image_size, spec.image_size], -np.inf)
        lower, w = tf.constant(plan.lower), tf.constant(plan.weight)
        # Bilinear field on (sample rows) × (sample columns): interpolate columns, then rows.
        px = tf.gather(p, lower, axis=2) * (1 - w) + tf.gather(p, lower + 1, axis=2) * w
        f = tf.gather(px, lower, axis=1) * (1 - w)[:, None] + tf.gather(px, lower + 1, axis=1) * w[:, None]
        owned = tf.constant(plan.owned)
        f = tf.reduce_max(tf.gather(f, owned, axis=1), axis=2)  # (n, S, Mx)
        f = tf.reduce_max(tf.gather(f, owned, axis=2), axis=3)  # (n, S, S)
        empty = tf.constant(plan.empty[:, None] | plan.empty[None, :])
        f = tf.where(empty, tf.constant(-np.inf, f.dtype), f)
        return zmin, zmax, f[:, ::-1, :]  # image row 0 is y = +extent

    @tf.function(jit_compile=True, reduce_retracing=True)
    def band_stage(field, first, step, best_vmin, offset, count, colour_index):
        v = tf.cast(field, tf.float64)
        first, step, best_vmin, offset = (t[:, None, None] for t in (first, step, best_vmin, offset))
        top = tf.cast(count[:, None, None] - 2, tf.float64)

        def level(k):
            ticks = (first + k) * step + best_vmin
            return tf.where(offset == 0, ticks, ticks + offset)

        # Band k holds level[k] < v ≤ level[k+1]; guess k arithmetically, then fix rounding.
        k = tf.clip_by_value(tf.floor((v - offset - best_vmin) / step - first), 0.0, top)
        k = tf.where(v <= level(k), k - 1, tf.where(v > level(k + 1), k + 1, k))
        k = tf.cast(tf.clip_by_value(k, 0.0, top), tf.int32)
        index = tf.gather(colour_index, k, batch_dims=1)
        return tf.where(tf.math.is_inf(field), -1, index)  # -1: no band touches → white

    return field_stage, band_stage


def band_colour_index(levels: ContourLevels) -> np.ndarray:
    """Colour-map entry of every band, int32 (N, max count − 1): the band midpoint, normalised
    by the lowest and highest level, through matplotlib's ``int(x · 256)`` rule."""
    table = levels.table()
    lowest = table[:, :1]
    highest = np.take_along_axis(table, (levels.count - 1)[:, None], axis=1)
    mid = 0.5 * (table[:, :-1] + table[:, 1:])
    with np.errstate(invalid="ignore"):
        x = (mid - lowest) / (highest - lowest)
    return np.where(np.isnan(x), 0, colormap_index(np.nan_to_num(x))).astype(np.int32)


def _render_chunk(a: np.ndarray, theta: np.ndarray, spec: FlowSpec) -> np.ndarray:
    n = a.size
    width = _SMALL_CHUNK if n <= _SMALL_CHUNK else _CHUNK
    pad = width - n
    a32 = np.pad(a, (0, pad), mode="edge").astype(np.float32)
    t32 = np.pad(theta, (0, pad), mode="edge").astype(np.float32)
    field_stage, band_stage = _compiled_stages(spec)
    zmin, zmax, field = field_stage(tf.constant(a32), tf.constant(t32))
    levels = contour_levels(zmin.numpy().astype(np.float64), zmax.numpy().astype(np.float64), spec.levels)
    index = band_stage(
        field,
        *(tf.constant(x) for x in (levels.first, levels.step, levels.best_vmin, levels.offset)),
        tf.constant(levels.count),
        tf.constant(band_colour_index(levels)),
    ).numpy()[:n]
    lut = np.concatenate([colormap_bytes(spec.cmap), [[_WHITE] * 3]])  # entry −1 is white
    return lut[index]


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

    Non-finite values (the tanh edge) are NaN, as the study's grid had them.
    """
    spec = FlowSpec() if spec is None else spec
    a, theta = as_factors(a, theta)
    p = _density(tf.constant(a, tf.float32), tf.constant(theta, tf.float32), tf.constant(_grid_points(spec)), spec)
    return np.where(np.isfinite(p.numpy()), p.numpy(), np.nan).astype(np.float32)
