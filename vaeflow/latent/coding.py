"""Between images and latent vectors, in batches: posterior means, decoded images, prior draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def posterior_means(model: Any, images: Any, batch_size: int = 512) -> np.ndarray:
    """E[z | x] of the model's posterior for each image, encoded in batches.

    Arguments:
        model: has `encode(x float32 [0, 1] (B, H, W, 3))` returning a distribution with `mean()`.
        images: uint8 (N, H, W, 3) (divided by 255) or float in [0, 1].

    Returns:
        float32 (N, L).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (N, H, W, C) batch, got {images.shape}")
    scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0
    means = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].astype(np.float32) * np.float32(scale)
        means.append(np.asarray(model.encode(x).mean(), dtype=np.float32))
    return np.concatenate(means, axis=0)


def decode_uint8(model: Any, z: Any, batch_size: int = 1024) -> np.ndarray:
    """The decoder's mean image for each latent vector, as uint8 (N, H, W, 3), in batches.

    Arguments:
        model: has `decode(z float32 (B, L))` returning images in [0, 1].
        z: (L,) or (N, L); a single vector gives a batch of one.
    """
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    if z.ndim != 2 or z.shape[0] == 0 or not np.all(np.isfinite(z)):
        raise ValueError(f"z must be finite (L,) or (N, L), got shape {z.shape}")
    out = []
    for start in range(0, z.shape[0], batch_size):
        x = np.asarray(model.decode(z[start : start + batch_size]), dtype=np.float32)
        out.append(np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8))
    return np.concatenate(out, axis=0)


def prior_draws(model: Any, n: int, seed: int) -> np.ndarray:
    """n draws z ~ p(z) of `model.prior()` (N(0, I) or a flow prior), float32 (n, L); the same
    for a seed.

    The one seeded prior sampler: the explorer's prior samples and the metrics' FID decode these.

    Raises:
        ValueError: naming `n` or `seed` when it is not an integer ≥ 1 (n) or ≥ 0 (seed).
    """
    for name, value, low in (("n", n, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    z = model.prior().sample(int(n), seed=tf.constant([int(seed), 0], tf.int32))
    return np.asarray(z, dtype=np.float32)
