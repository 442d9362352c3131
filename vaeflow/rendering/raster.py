"""The maximum of a gridded field over each output pixel's square, for a batch of images.

The field is the bilinear interpolant of values on a G×G grid spanning the image exactly, so
each axis's G − 1 cells are cut by S pixels, pixel j spanning cells [j·(G−1)/S, (j+1)·(G−1)/S].
Along any grid line or pixel edge the interpolant is linear between consecutive grid lines, so
its maximum over a pixel's square is attained on the pixel's lattice
{its two edges, the grid lines strictly between them}², which makes the max separable:

    max over the square = max over lattice rows y of (max over lattice columns x of f(x, y)),

where the lattice rows are grid rows (stored) or the pixel's edge rows (interpolated).

The pattern of edges repeats every Q pixels (= P cells, P/Q = (G−1)/S in lowest terms). When Q
is small the per-pixel work is written as Q fixed slices of a [blocks, P] reshape, which XLA
fuses into dense loops; otherwise it falls back to gathers (several times slower).

Layout: the grid's rows (y) come first and its columns (x) second, then any batch axes,
(G, G, …). With the images as the last, contiguous axis every slice along y or x moves whole
vectors of images, which XLA turns into dense SIMD loops (the image-major layout made it
stride through each image's rows, several times slower).
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import tensorflow as tf

_MAX_UNROLLED_PERIOD = 16  # pixels per repeating pattern up to which the slice form is used


@dataclasses.dataclass(frozen=True)
class PixelGrid:
    """How `image_size` pixels cut the `grid_size − 1` cells along one axis (both axes share it).

    >>> PixelGrid(100, 36).period, PixelGrid(100, 36).blocks
    ((11, 4), 9)
    >>> PixelGrid(100, 36).inner_nodes(1)
    [3, 4, 5]
    """

    grid_size: int
    image_size: int

    @property
    def cells(self) -> int:
        return self.grid_size - 1

    @property
    def blocks(self) -> int:
        return math.gcd(self.cells, self.image_size)

    @property
    def period(self) -> tuple[int, int]:
        """(P cells, Q pixels) of the repeating pattern."""
        return self.cells // self.blocks, self.image_size // self.blocks

    def edge(self, j: int) -> Fraction:
        """Pixel edge j (0 … S) in grid-index units, exactly."""
        return Fraction(j * self.cells, self.image_size)

    def inner_nodes(self, j: int) -> list[int]:
        """Grid nodes strictly inside pixel j."""
        return list(range(math.floor(self.edge(j)) + 1, math.ceil(self.edge(j + 1))))

    def edge_interpolation(self) -> tuple[np.ndarray, np.ndarray]:
        """The S + 1 edges as (lower node int32, fraction float32), lower ≤ G − 2."""
        edges = [self.edge(j) for j in range(self.image_size + 1)]
        lower = np.array([min(math.floor(e), self.grid_size - 2) for e in edges], dtype=np.int32)
        return lower, np.array([float(e - lo) for e, lo in zip(edges, lower)], dtype=np.float32)


def _lerp_gather(values: tf.Tensor, lower: np.ndarray, weight: np.ndarray, axis: int) -> tf.Tensor:
    """Linear interpolation along `axis` at positions lower + weight (arrays of any shape)."""
    w = tf.constant(weight)
    w = tf.reshape(w, w.shape + [1] * (len(values.shape) - axis - 1))
    below = tf.gather(values, tf.constant(lower), axis=axis)
    above = tf.gather(values, tf.constant(lower + 1), axis=axis)
    return below * (1 - w) + above * w


class _Blocks:
    """A [blocks, P + 1] view of `x` along `axis` (node b·P + r is entry (b, r); r = P is the next
    block's first node), for writing per-pixel work as Q fixed slices that XLA fuses densely."""

    def __init__(self, x: tf.Tensor, grid: PixelGrid, axis: int):
        self.grid, self.axis = grid, axis
        cells, blocks = grid.cells, grid.blocks
        p_cells, _ = grid.period
        shape = tf.shape(x)
        before, after = shape[:axis], shape[axis + 1 :]
        head = _slice(x, axis, 0, cells)
        view = tf.reshape(head, tf.concat([before, [blocks, p_cells], after], axis=0))
        nxt = tf.expand_dims(_slice(x, axis, p_cells, None, p_cells), axis + 1)  # (…, B, 1, …)
        self.view = tf.concat([view, nxt], axis=axis + 1)
        self.before, self.after = before, after

    def at_node(self, r: int) -> tf.Tensor:
        """Node b·P + r for every block b: shape (…, B, …). A slice, not a gather: XLA fuses it."""
        index = [slice(None)] * len(self.view.shape)
        index[self.axis + 1] = r
        return self.view[tuple(index)]

    def at(self, pos: Fraction) -> tf.Tensor:
        """The linear interpolant at b·P + pos (0 ≤ pos ≤ P)."""
        lo = math.floor(pos)
        w = float(pos - lo)
        return self.at_node(lo) if w == 0 else self.at_node(lo) * (1 - w) + self.at_node(lo + 1) * w

    def assemble(self, per_pixel: list[tf.Tensor]) -> tf.Tensor:
        """Q tensors (…, B, …) for pixels b·Q + m → one tensor with the axis of length B·Q."""
        stacked = tf.stack(per_pixel, axis=self.axis + 1)  # (…, B, Q, …)
        return tf.reshape(stacked, tf.concat([self.before, [-1], self.after], axis=0))


def _slice(x: tf.Tensor, axis: int, start: int, stop: int | None, step: int = 1) -> tf.Tensor:
    index = [slice(None)] * len(x.shape)
    index[axis] = slice(start, stop, step)
    return x[tuple(index)]


def _blocked(grid: PixelGrid) -> bool:
    return grid.period[1] <= _MAX_UNROLLED_PERIOD


def edge_values(x: tf.Tensor, grid: PixelGrid, axis: int) -> tf.Tensor:
    """The linear interpolant along `axis` at the S + 1 pixel edges (that axis becomes S + 1)."""
    if not _blocked(grid):
        lower, weight = grid.edge_interpolation()
        return _lerp_gather(x, lower, weight, axis)
    blocks = _Blocks(x, grid, axis)
    p_cells, q_pixels = grid.period
    inner = blocks.assemble([blocks.at(Fraction(m * p_cells, q_pixels)) for m in range(q_pixels)])
    return tf.concat([inner, _slice(x, axis, grid.cells, grid.cells + 1)], axis=axis)


def nearest_edge_nodes(x: tf.Tensor, grid: PixelGrid, axis: int) -> tf.Tensor:
    """The grid node nearest each of the S + 1 pixel edges along `axis` (that axis becomes S + 1)."""
    nearest = edge_node_indices(grid).tolist()
    if not _blocked(grid):
        return tf.gather(x, tf.constant(nearest, dtype=tf.int32), axis=axis)
    blocks = _Blocks(x, grid, axis)
    p_cells, q_pixels = grid.period
    inner = blocks.assemble([blocks.at_node(nearest[m]) for m in range(q_pixels)])
    return tf.concat([inner, _slice(x, axis, grid.cells, grid.cells + 1)], axis=axis)


def _blocked_max(x: tf.Tensor, grid: PixelGrid, axis: int, with_edges: bool) -> tf.Tensor:
    """`lattice_max` by fixed slices of the block view."""
    blocks = _Blocks(x, grid, axis)
    p_cells, q_pixels = grid.period
    out = []
    for m in range(q_pixels):
        start, stop = Fraction(m * p_cells, q_pixels), Fraction((m + 1) * p_cells, q_pixels)
        terms = [blocks.at_node(r) for r in range(math.floor(start) + 1, math.ceil(stop))]
        if with_edges:
            terms += [blocks.at(start), blocks.at(stop)]
        if not terms:
            terms = [tf.fill(tf.shape(blocks.at_node(0)), tf.constant(-np.inf, x.dtype))]
        best = terms[0]
        for t in terms[1:]:
            best = tf.maximum(best, t)
        out.append(best)
    return blocks.assemble(out)


def _gathered_max(x: tf.Tensor, grid: PixelGrid, axis: int, with_edges: bool) -> tf.Tensor:
    """`lattice_max` by gathers (any grid / image size)."""
    lattices = []
    for j in range(grid.image_size):
        points = [Fraction(r) for r in grid.inner_nodes(j)]
        if with_edges:
            points += [grid.edge(j), grid.edge(j + 1)]
        lattices.append(points)
    width = max(1, max(len(points) for points in lattices))
    has = np.array([len(points) > 0 for points in lattices])
    padded = [points + [points[-1]] * (width - len(points)) if points else [Fraction(0)] * width for points in lattices]
    lower = np.array([[min(math.floor(v), grid.grid_size - 2) for v in row] for row in padded], dtype=np.int32)
    weight = np.array([[float(v - lo) for v, lo in zip(row, lows)] for row, lows in zip(padded, lower)], np.float32)
    best = tf.reduce_max(_lerp_gather(x, lower, weight, axis), axis=axis + 1)
    mask = tf.reshape(tf.constant(has), [-1] + [1] * (len(x.shape) - axis - 1))
    return tf.where(mask, best, tf.constant(-np.inf, x.dtype))


def lattice_max(x: tf.Tensor, grid: PixelGrid, axis: int, with_edges: bool = True) -> tf.Tensor:
    """Per pixel, the max along `axis` (length G) over its lattice; that axis becomes S.

    With `with_edges` the lattice is {start, inner nodes, stop} (the max of the linear
    interpolant over the pixel's span); without, only the inner nodes (−inf where there are none).
    """
    if _blocked(grid):
        return _blocked_max(x, grid, axis, with_edges)
    return _gathered_max(x, grid, axis, with_edges)


def pixel_max(p: tf.Tensor, grid: PixelGrid) -> tf.Tensor:
    """Max of the bilinear interpolant of p (G, G, …) over each pixel's square → (S, S, …).

    Axis 0 is y, axis 1 is x; rows stay in the grid's order (row 0 is the lowest y).
    """
    along_x_nodes = lattice_max(p, grid, axis=1)  # (G, S, …): grid rows, maxed over each x-lattice
    along_x_edges = lattice_max(edge_values(p, grid, axis=0), grid, axis=1)  # (S + 1, S, …): edge rows
    inner_rows = lattice_max(along_x_nodes, grid, axis=0, with_edges=False)  # (S, S, …)
    best = tf.maximum(along_x_edges[:-1], along_x_edges[1:])
    return tf.maximum(best, inner_rows)


def edge_node_indices(grid: PixelGrid) -> np.ndarray:
    """The grid node nearest each of the S + 1 pixel edges, int (S + 1,)."""
    return np.array([math.floor(grid.edge(j) + Fraction(1, 2)) for j in range(grid.image_size + 1)])


def corner_nodes(p: tf.Tensor, grid: PixelGrid) -> tf.Tensor:
    """p at the grid nodes nearest the pixel corners: (G, G, …) → (S + 1, S + 1, …), rows y up."""
    return nearest_edge_nodes(nearest_edge_nodes(p, grid, axis=0), grid, axis=1)


def inward_cells(grid: PixelGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel j, the grid cell just inside its lower edge and just inside its upper edge."""
    lower = [min(math.floor(grid.edge(j)), grid.cells - 1) for j in range(grid.image_size)]
    upper = [max(math.ceil(grid.edge(j + 1)) - 1, 0) for j in range(grid.image_size)]
    return np.array(lower, np.int32), np.array(upper, np.int32)


def corner_slopes(p: tf.Tensor, corners: tf.Tensor, grid: PixelGrid) -> tuple[list[tf.Tensor], list[tuple[tf.Tensor, tf.Tensor]]]:
    """At each pixel's four corners: the field's value and the gradient (∂f/∂x, ∂f/∂y), in field
    units per pixel, of the grid cell just inside the pixel at that corner, read on the grid row
    (column) nearest the corner. Signed along +x and +y: seen from a high corner the field falls
    into the pixel where the slope is positive.

    Arguments:
        p: the field (G, G, …), rows y up.
        corners: `corner_nodes(p, grid)`, (S + 1, S + 1, …).

    Returns:
        values: 4 tensors (S, S, …), the corners (low x, low y), (high x, low y),
            (low x, high y), (high x, high y).
        slopes: for those corners, (∂f/∂x, ∂f/∂y), each (S, S, …).
    """
    per_px = grid.cells / grid.image_size
    lower, upper = inward_cells(grid)
    cells = np.unique(np.concatenate([lower, upper]))  # the cells holding a pixel edge
    position = {c: i for i, c in enumerate(cells)}

    def differences(x, axis):  # → x's differences across the lower and the upper inward cells
        nodes = lambda c: tf.gather(x, tf.constant(c, tf.int32), axis=axis)
        slope = (nodes(cells + 1) - nodes(cells)) * per_px
        pick = lambda c: tf.gather(slope, tf.constant([position[i] for i in c], tf.int32), axis=axis)
        return pick(lower), pick(upper)

    dx_low, dx_high = differences(nearest_edge_nodes(p, grid, axis=0), 1)  # (S + 1, S, …)
    dy_low, dy_high = differences(nearest_edge_nodes(p, grid, axis=1), 0)  # (S, S + 1, …)
    values = [corners[:-1, :-1], corners[:-1, 1:], corners[1:, :-1], corners[1:, 1:]]
    slopes = [
        (dx_low[:-1], dy_low[:, :-1]),
        (dx_high[:-1], dy_low[:, 1:]),
        (dx_low[1:], dy_high[:, :-1]),
        (dx_high[1:], dy_high[:, 1:]),
    ]
    return values, slopes
