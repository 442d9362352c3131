"""The max over each pixel's square, against a brute-force supersampled bilinear field."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from vaeflow.rendering.raster import PixelGrid, pixel_max


def bilinear(values: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """values (G, G) interpolated at grid-index positions y (M,), x (K,) → (M, K)."""
    g = values.shape[0]
    yl, xl = np.clip(np.floor(y).astype(int), 0, g - 2), np.clip(np.floor(x).astype(int), 0, g - 2)
    wy, wx = (y - yl)[:, None], (x - xl)[None, :]
    rows = values[yl] * (1 - wy) + values[yl + 1] * wy
    return rows[:, xl] * (1 - wx) + rows[:, xl + 1] * wx


@pytest.mark.parametrize("grid_size, image_size", [(100, 36), (50, 20), (30, 48), (12, 12)])
def test_pixel_max_is_the_max_of_the_bilinear_field_over_the_pixel(grid_size, image_size):
    rng = np.random.default_rng(grid_size)
    p = rng.random((2, grid_size, grid_size)).astype(np.float32) ** 4  # peaky, like densities
    # Layout (rows y, columns x, batch): the images are the last axis.
    got = pixel_max(tf.constant(np.moveaxis(p, 0, -1)), PixelGrid(grid_size, image_size)).numpy()
    assert got.shape == (image_size, image_size, 2)
    scale = (grid_size - 1) / image_size
    for k in range(2):
        field = p[k].astype(np.float64)
        for i in range(image_size):
            for j in range(image_size):
                # Brute force: a fine sample of the pixel plus every grid line crossing it.
                ys = np.concatenate([np.linspace(i, i + 1, 9) * scale, np.arange(np.ceil(i * scale), (i + 1) * scale)])
                xs = np.concatenate([np.linspace(j, j + 1, 9) * scale, np.arange(np.ceil(j * scale), (j + 1) * scale)])
                want = bilinear(field, ys, xs).max()
                assert got[i, j, k] == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_grid_geometry():
    grid = PixelGrid(100, 36)
    assert grid.period == (11, 4) and grid.blocks == 9
    assert [grid.inner_nodes(j) for j in range(4)] == [[1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    lower, weight = grid.edge_interpolation()
    np.testing.assert_allclose(lower + weight, np.arange(37) * 99 / 36, rtol=1e-6)


def test_corner_slopes_of_a_plane():
    from vaeflow.rendering.raster import corner_nodes, corner_slopes

    grid = PixelGrid(100, 36)
    y, x = np.meshgrid(np.arange(100.0), np.arange(100.0), indexing="ij")
    plane = tf.constant((3.0 * x - 2.0 * y + 500.0).astype(np.float32)[..., None])  # one image
    corners = corner_nodes(plane, grid)
    values, slopes = corner_slopes(plane, corners, grid)
    np.testing.assert_array_equal(values[0].numpy(), corners.numpy()[:-1, :-1])
    np.testing.assert_array_equal(values[3].numpy(), corners.numpy()[1:, 1:])
    cells_per_px = 99 / 36
    for slope_x, slope_y in slopes:
        np.testing.assert_allclose(slope_x.numpy(), 3.0 * cells_per_px, rtol=1e-4)
        np.testing.assert_allclose(slope_y.numpy(), -2.0 * cells_per_px, rtol=1e-4)


@pytest.mark.parametrize("grid_size, image_size", [(100, 36), (100, 64), (37, 100)])
def test_each_corner_reads_the_cell_inside_the_pixel(grid_size, image_size):
    """f = x² + 3y² changes slope at every node, so each corner must see its own inward cell:
    ∂f/∂x across cell c is (c + 1)² − c² = 2c + 1 per cell, on the row nearest the corner."""
    from vaeflow.rendering.raster import corner_nodes, corner_slopes, edge_node_indices, inward_cells

    grid = PixelGrid(grid_size, image_size)
    y, x = np.meshgrid(np.arange(grid_size, dtype=np.float64), np.arange(grid_size, dtype=np.float64), indexing="ij")
    field = tf.constant((x**2 + 3 * y**2).astype(np.float32)[..., None])
    values, slopes = corner_slopes(field, corner_nodes(field, grid), grid)
    lower, upper = inward_cells(grid)
    nearest = edge_node_indices(grid)
    per_px = (grid_size - 1) / image_size
    cells_x = {0: lower, 1: upper, 2: lower, 3: upper}  # corners: (low x, low y), (high x, low y), …
    cells_y = {0: lower, 1: lower, 2: upper, 3: upper}
    rows = {0: nearest[:-1], 1: nearest[:-1], 2: nearest[1:], 3: nearest[1:]}
    columns = {0: nearest[:-1], 1: nearest[1:], 2: nearest[:-1], 3: nearest[1:]}
    for k, (slope_x, slope_y) in enumerate(slopes):
        want_x = np.broadcast_to((2 * cells_x[k] + 1)[None, :] * per_px, (image_size, image_size))
        want_y = np.broadcast_to(3 * (2 * cells_y[k] + 1)[:, None] * per_px, (image_size, image_size))
        np.testing.assert_allclose(slope_x.numpy()[..., 0], want_x, rtol=1e-5)
        np.testing.assert_allclose(slope_y.numpy()[..., 0], want_y, rtol=1e-5)
        want_value = columns[k][None, :] ** 2 + 3 * rows[k][:, None] ** 2
        np.testing.assert_allclose(values[k].numpy()[..., 0], want_value, rtol=1e-6)
    assert (lower <= upper).all() and lower[0] == 0 and upper[-1] == grid_size - 2
