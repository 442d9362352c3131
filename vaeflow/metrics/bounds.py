"""Likelihood bounds on held-out images: the negative ELBO (β = 1) and the negative IWAE-k bound.

Both are in nats per image and lower is better; −IWAE-k ≤ −ELBO in expectation, and both
sit above −log p(x) and above the Bernoulli floor (the entropy of the images themselves).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vaeflow.models.vae import VAE


def as_unit_float(images, name: str = "images") -> np.ndarray:
    """uint8 images → float32 in [0, 1]; float images are checked to lie in [0, 1].

    Raises:
        ValueError: naming `name`, for a non-4-D array, a non-finite value or one outside [0, 1].
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (N, S, S, 3), got {images.shape}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"{name} must be uint8 or float in [0, 1], got dtype {images.dtype}")
    images = images.astype(np.float32)
    if not np.all(np.isfinite(images)) or images.min(initial=0) < 0 or images.max(initial=0) > 1:
        raise ValueError(f"{name} must lie in [0, 1]")
    return images


def bernoulli_floor(images: np.ndarray) -> float:
    """Mean −log p(x) of a perfect reconstruction under the Bernoulli likelihood: the images' own
    entropy, Σ −x log x − (1 − x) log(1 − x) over pixels and channels (nats/image). Every
    −ELBO of these images lies above it."""
    x = np.asarray(images, dtype=np.float64)
    x = x / 255 if np.asarray(images).dtype == np.uint8 else x
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(x > 0, x * np.log(x), 0) + np.where(x < 1, (1 - x) * np.log1p(-x), 0))
    return float(h.sum(axis=(1, 2, 3)).mean())


def negative_elbo(model: VAE, images, *, seed: int = 0, batch_size: int = 500) -> dict[str, float]:
    """Mean −ELBO = reconstruction + KL (β = 1) over `images`, one posterior sample per image.

    Arguments:
        model: the VAE.
        images: uint8 (N, S, S, 3), or float32 in [0, 1].
        seed: batch i draws its sample with the stateless seed [seed, i].
        batch_size: images per forward pass; changes memory, not the result's expectation.

    Returns:
        {"neg_elbo", "reconstruction", "kl"} in nats per image.
    """
    images = as_unit_float(images)
    # One trace, then a graph call per batch: 4,000 images are 8 calls, not 8 eager passes.
    elbo_terms = tf.function(lambda x, s: model.elbo_terms(x, beta=1.0, seed=s))
    totals = {"reconstruction": 0.0, "kl": 0.0}
    for i, start in enumerate(range(0, len(images), batch_size)):
        batch = tf.constant(images[start : start + batch_size])
        terms = elbo_terms(batch, tf.constant([seed, i], tf.int32))
        for name in totals:
            totals[name] += float(terms[name]) * int(batch.shape[0])
    result = {name: total / len(images) for name, total in totals.items()}
    return {"neg_elbo": result["reconstruction"] + result["kl"], **result}


def negative_iwae(model: VAE, images, k: int = 512, *, seed: int = 0, batch_size: int = 64) -> float:
    """Mean −IWAE-k over `images`, nats per image (a tighter bound than −ELBO for k > 1).

    Arguments:
        k: importance samples per image.
        batch_size: images per call of `VAE.iwae_bound`, which chunks its k samples itself.
    """
    images = as_unit_float(images)
    total = 0.0
    for i, start in enumerate(range(0, len(images), batch_size)):
        batch = tf.constant(images[start : start + batch_size])
        bound = model.iwae_bound(batch, k, seed=tf.constant([seed, i], tf.int32))
        total -= float(tf.reduce_sum(bound))
    return total / len(images)
