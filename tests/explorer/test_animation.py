"""explorer.animation: the interpolation as a looping GIF and a PNG strip."""

import io

import numpy as np
import pytest
from PIL import Image

from explorer.animation import gif_bytes, strip_png

FRAMES = np.stack([np.full((6, 6, 3), 40 * i, np.uint8) for i in range(5)])


def test_gif_loops_forward_then_back_with_every_frame_upscaled():
    gif = Image.open(io.BytesIO(gif_bytes(FRAMES, factor=3, frame_ms=50)))
    assert gif.format == "GIF" and gif.size == (18, 18) and gif.info["loop"] == 0
    greys = []
    for i in range(gif.n_frames):
        gif.seek(i)
        greys.append(int(np.asarray(gif.convert("RGB"))[0, 0, 0]))
    assert greys == [0, 40, 80, 120, 160, 120, 80, 40]  # A → B → (back to just after A)


def test_strip_is_lossless_and_left_to_right():
    strip = np.asarray(Image.open(io.BytesIO(strip_png(FRAMES, factor=2, pad=2))))
    assert strip.shape == (12, 5 * 12 + 4 * 2, 3)
    assert [int(strip[0, k * 14, 0]) for k in range(5)] == [0, 40, 80, 120, 160]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="frame_ms"):
        gif_bytes(FRAMES, frame_ms=5)
    with pytest.raises(ValueError, match="frames"):
        gif_bytes(np.zeros((3, 3)))
