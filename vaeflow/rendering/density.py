"""The chain's density p(x) on the spec's grid, in closed form and separable per axis.

Undoing the chain stage by stage turns log p into terms that depend on x alone or on y alone,
plus the shear's one cross term (`axis_terms`), so the G² grid points see only multiply-adds and
one exp (`density_on_grid`). The spec's continuous values enter as arrays (`spec_arrays`), never
as constants baked into compiled code. The tests check p against the chain's
`TransformedDistribution`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow.flows.chain import as_factors
from vaeflow.flows.spec import FlowSpec
from vaeflow.rendering.raster import PixelGrid, edge_node_indices

_CHUNK = 512  # images per call of `density_grid` (bounds the (G, G, n) grid's memory)
tfb = tfp.bijectors


def grid_coordinates(spec: FlowSpec) -> np.ndarray:
    """The grid's positions along either axis, float64 (G,): ``linspace(−extent, extent, G)``."""
    return np.linspace(-spec.extent, spec.extent, spec.grid_size)


def valid_nodes(spec: FlowSpec) -> np.ndarray:
    """Which grid positions (per axis) have a finite density: |x| < 1 in float32 when tanh is on."""
    g = grid_coordinates(spec).astype(np.float32)
    return np.abs(g) < 1 if spec.tanh else np.ones(g.shape, dtype=bool)


def empty_pixels(spec: FlowSpec) -> np.ndarray | None:
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
class SpecArrays:
    """What the compiled stages need of a spec, as values (never baked into the compiled code).

    u: float32 (G,): pre-tanh grid coordinate atanh(g) (g itself without tanh; 0 where masked).
    ildj: float32 (G,): tanh's inverse log-det at g (0 without tanh or where masked).
    valid: bool (G,): where p is finite (`valid_nodes`).
    empty: bool tensor (S,): per pixel (along either axis), True where it meets no valid cell.
    corner_valid: bool tensor (S + 1,): per pixel edge, True where its nearest grid node is valid.
    inv_scale, shift: f2 and f1, float32 (2,).
    radius: 1/(√2·base_scale), so that −|z|²/(2σ²) = −|radius·z|².
    log_norm: −log(2π·base_scale²) − log|scale₁·scale₂|, the base's normaliser and f2's log-det.
    """

    u: np.ndarray
    ildj: np.ndarray
    valid: np.ndarray
    empty: tf.Tensor
    corner_valid: tf.Tensor
    inv_scale: np.ndarray
    shift: np.ndarray
    radius: np.float32
    log_norm: np.float32


@functools.lru_cache(maxsize=32)
def spec_arrays(spec: FlowSpec) -> SpecArrays:
    """`SpecArrays` of `spec` (cached: the Dataset page asks for the same spec on every rerun)."""
    g = tf.constant(grid_coordinates(spec), tf.float32)
    if spec.tanh:
        tanh = tfb.Tanh()
        u, ildj = tanh.inverse(g).numpy(), tanh.inverse_log_det_jacobian(g, event_ndims=0).numpy()
    else:
        u, ildj = g.numpy(), np.zeros(spec.grid_size, np.float32)
    valid = valid_nodes(spec)
    empty = empty_pixels(spec)
    empty = np.zeros(spec.image_size, bool) if empty is None else empty
    corner_valid = valid[edge_node_indices(PixelGrid(spec.grid_size, spec.image_size))]
    scale = np.array(spec.scale)
    return SpecArrays(
        u=np.where(valid, u, 0.0).astype(np.float32),  # masked nodes get finite stand-ins
        ildj=np.where(valid, ildj, 0.0).astype(np.float32),
        valid=valid,
        empty=tf.constant(empty),
        corner_valid=tf.constant(corner_valid),
        inv_scale=(1.0 / scale).astype(np.float32),
        shift=np.array(spec.shift, np.float32),
        radius=np.float32(1.0 / (np.sqrt(2.0) * spec.base_scale)),
        log_norm=np.float32(-np.log(2 * np.pi * spec.base_scale**2) - np.log(abs(scale[0] * scale[1]))),
    )


class AxisTerms(NamedTuple):
    """The chain's log-density on the grid split into per-axis pieces (`axis_terms`), float32.

    Per-image pieces are (G, n), indexed [grid position, image]; x and y are the pre-tanh grid
    coordinates, r = 1/(√2·base_scale).
    """

    w1_x: tf.Tensor  # cos θ·x: w₁'s part in x
    w1_y: tf.Tensor  # sin θ·y: w₁'s part in y
    rz1_x: tf.Tensor  # r·(cos θ·x / scale₁ − shift₁)
    rz1_y: tf.Tensor  # r·sin θ·y / scale₁
    rz2_x: tf.Tensor  # −r·sin θ·x / scale₂
    rz2_y: tf.Tensor  # r·(cos θ·y / scale₂ − shift₂)
    shear: tf.Tensor  # (n,): r·a / scale₂
    log_x: tf.Tensor  # (G,): ildj(x) + log_norm
    log_y: tf.Tensor  # (G,): ildj(y)
    valid: tf.Tensor  # (G,): 1.0 where p is finite, else 0.0


def axis_terms(a: np.ndarray, theta: np.ndarray, spec: FlowSpec, width: int) -> AxisTerms:
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
    the G²·n points only add, square and exponentiate (`density_on_grid`).
    """
    arrays = spec_arrays(spec)
    pad = width - a.size
    a32 = np.pad(a, (0, pad), mode="edge").astype(np.float32)
    t32 = np.pad(theta, (0, pad), mode="edge").astype(np.float32)
    cos, sin = np.cos(t32), np.sin(t32)
    u, r = arrays.u[:, None], arrays.radius
    inv_scale, shift = arrays.inv_scale, arrays.shift
    terms = AxisTerms(
        w1_x=u * cos,
        w1_y=u * sin,
        rz1_x=r * (u * cos * inv_scale[0] - shift[0]),
        rz1_y=r * (u * sin * inv_scale[0]),
        rz2_x=r * (-u * sin * inv_scale[1]),
        rz2_y=r * (u * cos * inv_scale[1] - shift[1]),
        shear=r * a32 * inv_scale[1],
        log_x=arrays.ildj + arrays.log_norm,
        log_y=arrays.ildj,
        valid=arrays.valid.astype(np.float32),
    )
    return AxisTerms(*(tf.constant(t, tf.float32) for t in terms))


def density_on_grid(terms: AxisTerms) -> tf.Tensor:
    """p on the grid for every image, float32 (G, G, n): [row i = y_i, column j = x_j, image].

    From `axis_terms`'s pieces. Masked nodes (the tanh edge) are 0: the density is ≥ 0, so
    cells touching them never raise a pixel's maximum.
    """
    x, y = (lambda t: t[None, :, :]), (lambda t: t[:, None, :])  # (G, n) → along columns / rows
    w1 = x(terms.w1_x) + y(terms.w1_y)
    rz1 = x(terms.rz1_x) + y(terms.rz1_y)
    rz2 = x(terms.rz2_x) + y(terms.rz2_y) - terms.shear * tf.square(w1)
    log_x, log_y, valid = terms.log_x[None, :, None], terms.log_y[:, None, None], terms.valid
    p = tf.exp(log_x + log_y - (tf.square(rz1) + tf.square(rz2)))
    return p * (valid[None, :, None] * valid[:, None, None])


def density_grid(a, theta, spec: FlowSpec | None = None) -> np.ndarray:
    """p(x) of each flow on the spec's grid: float32 (N, G, G), row i is y_i, column j is x_j.

    The values the renderer contours. Non-finite values (the tanh edge) are NaN, as in the study.
    """
    spec = FlowSpec() if spec is None else spec
    a, theta = as_factors(a, theta)
    chunks = []
    for i in range(0, a.size, _CHUNK):
        n = min(_CHUNK, a.size - i)
        p = density_on_grid(axis_terms(a[i : i + n], theta[i : i + n], spec, n)).numpy()
        chunks.append(np.moveaxis(p, -1, 0))
    valid = valid_nodes(spec)
    return np.where(valid[None, :, None] & valid[None, None, :], np.concatenate(chunks), np.nan).astype(np.float32)
