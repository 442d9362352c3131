"""Small images shown large and crisp: nearest-neighbour upscaling, PNG bytes, grids.

A 36×36 image stretched by the browser is smoothed into a blur; upscaling it here by an
integer factor with pixel repetition and sending PNG keeps every pixel a sharp square. The
PNG goes to `st.image` as a data URI (`to_data_uri`): bytes or an array would be re-opened
and re-encoded as JPEG by Streamlit (blocky, and CPU per image), then fetched separately. Everything but `show_image_grid` is pure
numpy / Pillow, so it is tested without a browser.
"""

from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np
from PIL import Image

from vaeflow import validate as _check


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (e.g. decoded means) -> uint8, rounding; uint8 passes through.

    Values outside [0, 1] are clipped. Any shape is kept.

    Raises:
        ValueError: for a non-numeric array or non-finite values.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be uint8 or float in [0, 1], got dtype {images.dtype}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images must be finite")
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling: each pixel becomes a `factor`×`factor` square.

    Arguments:
        image: uint8 or float [0, 1], shaped (H, W), (H, W, C) or a batch (N, H, W, C).
        factor: integer >= 1.

    Returns:
        uint8 array, shaped like `image` with H and W multiplied by `factor`.

    Raises:
        ValueError: naming `factor` or `image` when either is unusable.
    """
    factor = _check.integer("factor", factor, low=1)
    image = to_uint8(image)
    if image.ndim not in (2, 3, 4):
        raise ValueError(f"image must be (H, W), (H, W, C) or (N, H, W, C), got shape {image.shape}")
    row_axis = 1 if image.ndim == 4 else 0
    factor = int(factor)
    return np.repeat(np.repeat(image, factor, axis=row_axis), factor, axis=row_axis + 1)


def factor_for(size: int, target_px: int) -> int:
    """The integer upscaling factor that brings a `size`-pixel side closest to `target_px`."""
    return max(1, int(round(target_px / max(1, size))))


def to_pil(image: np.ndarray, factor: int = 1) -> Image.Image:
    """One (H, W, 3) or (H, W) image -> upscaled PIL image (RGB or L)."""
    image = upscale(image, factor)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be a single image, got shape {image.shape}")
    return Image.fromarray(image)


def to_png(image: np.ndarray, factor: int = 1) -> bytes:
    """One image -> PNG bytes, upscaled by `factor` (lossless, so pixels stay exact)."""
    buffer = io.BytesIO()
    to_pil(image, factor).save(buffer, format="PNG")
    return buffer.getvalue()


def to_data_uri(image: np.ndarray, factor: int = 1) -> str:
    """One image -> ``data:image/png;base64,…``, upscaled by `factor` (lossless, as `to_png`).

    `st.image` shows such a string as it is: no re-encoding, no media file, no extra fetch.
    """
    return "data:image/png;base64," + base64.b64encode(to_png(image, factor)).decode("ascii")


def tile(images: np.ndarray, n_cols: int, *, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile a batch (N, H, W, C) into one image with `n_cols` columns and `pad` pixels between.

    Empty cells of the last row are filled with `pad_value`.

    Returns:
        uint8 (rows·H + (rows−1)·pad, n_cols·W + (n_cols−1)·pad, C).
    """
    images = to_uint8(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (N, H, W, C) batch, got {images.shape}")
    if n_cols < 1:
        raise ValueError(f"n_cols must be >= 1, got {n_cols}")
    n, h, w, c = images.shape
    n_cols = min(n_cols, n)
    n_rows = -(-n // n_cols)
    out = np.full(
        (n_rows * h + (n_rows - 1) * pad, n_cols * w + (n_cols - 1) * pad, c),
        pad_value,
        dtype=np.uint8,
    )
    for i in range(n):
        r, col = divmod(i, n_cols)
        out[r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = images[i]
    return out


def show_image_grid(
    images: np.ndarray, captions: Sequence[str] | None = None, *, px: int = 108
) -> None:
    """Draw a batch as a wrapping row of crisp images about `px` pixels wide, with captions."""
    import streamlit as st

    images = to_uint8(images)
    factor = factor_for(images.shape[2], px)
    pngs = [to_png(image, factor) for image in images]
    st.image(pngs, caption=list(captions) if captions is not None else None, width="content")


def blank_share(images: np.ndarray, min_painted: float = 0.02) -> float:
    """The share of `images` (N, H, W, 3) that are nearly blank: fewer than `min_painted` of
    their pixels differ from the image's most common colour (a density that fell off the grid
    leaves only the colour map's background)."""
    images = np.asarray(images)
    if len(images) == 0:
        return 0.0
    flat = images.reshape(len(images), -1, images.shape[-1])
    blank = 0
    for pixels in flat:
        colours, counts = np.unique(pixels, axis=0, return_counts=True)
        background = colours[np.argmax(counts)]
        painted = np.any(pixels != background, axis=-1).mean()
        blank += painted < min_painted
    return blank / len(images)
