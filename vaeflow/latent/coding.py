"""Between images and latent vectors, in batches: posterior means, decoded images, prior draws."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import tensorflow as tf

from vaeflow import validate as _check

def posterior_means(model: Any, images: Any, batch_size: int = 512) -> np.ndarray:
    """E[z | x] of the model's posterior for each image, encoded in batches.

    Arguments:
        model: has `encode(x float32 [0, 1] (B, H, W, 3))` returning a distribution with `mean()`.
        images: uint8 (N, H, W, 3) (divided by 255) or float in [0, 1].

    Returns:
        float32 (N, L).
    """
    means = [np.asarray(model.encode(x).mean(), dtype=np.float32) for x in _unit_batches(images, batch_size)]
    return np.concatenate(means, axis=0)


def posterior_kl(model: Any, images: Any, batch_size: int = 512) -> np.ndarray:
    """KL(q(z | x) || p(z)) in nats for each image: what its code carries about it.

    Analytic when TFP knows it (the N(0, I) prior); for a flow prior, the Monte Carlo mean of
    log q(z|x) − log p(z) over 256 draws z ~ q(z|x) (seeded, so repeatable).
    A mean near 0 over a data set is posterior collapse (every image gets the prior).

    Arguments:
        model: has `encode(x)` returning a distribution with `kl_divergence(other)`, and
            `prior()` (a `vaeflow.VAE`).
        images: uint8 (N, H, W, 3) (divided by 255) or float in [0, 1].

    Returns:
        float32 (N,).
    """
    prior = model.prior()

    def kl(x, i):
        q = model.encode(x)
        try:
            return q.kl_divergence(prior)
        except NotImplementedError:
            z = q.sample(256, seed=tf.constant([i, 1], tf.int32))
            return tf.reduce_mean(q.log_prob(z) - prior.log_prob(z), axis=0)

    kls = [np.asarray(kl(x, i), dtype=np.float32)
           for i, x in enumerate(_unit_batches(images, batch_size))]
    return np.concatenate(kls, axis=0)


def _unit_batches(images: Any, batch_size: int) -> Iterator[np.ndarray]:
    """`images` as float32 batches of `batch_size` in [0, 1] (uint8 is divided by 255).

    Raises:
        ValueError: naming `images` unless it is a non-empty (N, H, W, C) batch.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (N, H, W, C) batch, got {images.shape}")
    scale = np.float32(1.0 / 255.0 if images.dtype == np.uint8 else 1.0)
    for start in range(0, images.shape[0], batch_size):
        yield images[start : start + batch_size].astype(np.float32) * scale


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
    n = _check.integer("n", n, low=1)
    seed = _check.seed("seed", seed)
    z = model.prior().sample(n, seed=tf.constant([seed % 2**31, (seed // 2**31) % 2**31], tf.int32))
    return np.asarray(z, dtype=np.float32)


def compiled_decode(model: Any) -> Callable[[Any], np.ndarray]:
    """`model.decode` as one graph, traced once for any batch size: z (N, L) -> float32 images.

    Eager Keras runs the decoder op by op from Python (~20× slower than the graph for one z on
    a CPU); an explorer click decodes one z, so the graph is what keeps a click cheap. Same
    values as `model.decode` up to float rounding.

    Arguments:
        model: a `VAE` (anything with `decode` and `config.latent_dim`).

    Returns:
        A function z float32 (N, L) -> numpy float32 (N, S, S, 3) in [0, 1].
    """
    spec = tf.TensorSpec([None, int(model.config.latent_dim)], tf.float32)
    graph = tf.function(model.decode, input_signature=[spec])
    return lambda z: graph(np.asarray(z, dtype=np.float32)).numpy()
