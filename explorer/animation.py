"""Interpolation frames as files: an animated GIF and a PNG strip (pure Pillow, no Streamlit)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from explorer.images import tile, upscale


def gif_bytes(frames: np.ndarray, *, factor: int = 4, frame_ms: int = 80, bounce: bool = True) -> bytes:
    """An endlessly looping GIF of `frames` (uint8 or [0, 1] float, (T, H, W, 3)), upscaled.

    With `bounce`, the frames play forward then backward (A → B → A), so the loop has no jump.

    Raises:
        ValueError: naming `frames` or `frame_ms`.
    """
    frames = upscale(np.asarray(frames), factor)
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) batch, got {frames.shape}")
    if frame_ms < 20:
        raise ValueError(f"frame_ms must be >= 20, got {frame_ms}")
    order = list(range(len(frames)))
    if bounce and len(frames) > 2:
        order += order[-2:0:-1]
    # One shared adaptive palette keeps colours from flickering between frames.
    sheet = Image.fromarray(np.concatenate([frames[i] for i in order], axis=0))
    palette = sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(frames[i]).quantize(palette=palette, dither=Image.Dither.NONE) for i in order]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(frame_ms), loop=0, disposal=1, optimize=False)
    return buffer.getvalue()


def strip_png(frames: np.ndarray, *, factor: int = 2, pad: int = 2) -> bytes:
    """All `frames` side by side in one PNG (lossless), upscaled by `factor`."""
    strip = tile(upscale(np.asarray(frames), factor), n_cols=len(frames), pad=pad)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    return buffer.getvalue()
