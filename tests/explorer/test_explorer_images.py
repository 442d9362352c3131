"""Crisp upscaling, PNG round trip and tiling of small images."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from explorer.images import factor_for, tile, to_data_uri, to_png, to_uint8, upscale


def _checker(h=4, w=5):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_upscale_repeats_each_pixel_into_a_square():
    image = _checker()
    big = upscale(image, 3)
    assert big.shape == (12, 15, 3) and big.dtype == np.uint8
    assert np.array_equal(big[::3, ::3], image)
    assert np.array_equal(big[2::3, 1::3], image)
    batch = upscale(np.stack([image, image[::-1]]), 2)
    assert batch.shape == (2, 8, 10, 3)
    assert np.array_equal(batch[1, ::2, ::2], image[::-1])


def test_png_is_lossless_and_upscaled():
    image = _checker()
    decoded = np.asarray(Image.open(io.BytesIO(to_png(image, 4))))
    assert np.array_equal(decoded, upscale(image, 4))


def test_data_uri_holds_the_same_lossless_png():
    image = _checker()
    uri = to_data_uri(image, 4)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == to_png(image, 4)


def test_float_images_are_rounded_and_clipped():
    x = np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]], dtype=np.float32)
    assert to_uint8(x).tolist() == [[0, 0, 128, 255, 255]]
    with pytest.raises(ValueError, match="finite"):
        to_uint8(np.array([np.nan]))
    with pytest.raises(ValueError, match="factor"):
        upscale(_checker(), 0)


def test_tile_places_images_in_rows_with_padding():
    images = np.stack([np.full((2, 3, 3), v, np.uint8) for v in (10, 20, 30)])
    grid = tile(images, n_cols=2, pad=1, pad_value=255)
    assert grid.shape == (2 * 2 + 1, 2 * 3 + 1, 3)
    assert grid[0, 0, 0] == 10 and grid[0, 4, 0] == 20 and grid[3, 0, 0] == 30
    assert grid[2, 0, 0] == 255 and grid[4, 6, 0] == 255  # padding and the empty cell


def test_factor_for_picks_the_nearest_integer():
    assert factor_for(36, 108) == 3
    assert factor_for(36, 10) == 1
    assert factor_for(36, 300) == 8
