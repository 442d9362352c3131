"""A PCA warm start for the encoder: q(z|x)'s mean begins at the images' principal components.

With L = latent_dim, let x̄ be the mean image and V the top-L principal directions of a sample of
training images (flattened, in [0, 1]). The warm start regresses the encoder's mean onto the
whitened scores

    c(x) = diag(σ)⁻¹ Vᵀ (x − x̄),    σᵢ = std of the i-th score,

by least squares, before the first ELBO step. Up to rotation and scale this is the posterior
mean of probabilistic PCA, the optimum of a linear-Gaussian VAE (Tipping & Bishop 1999; Lucas et
al. 2019), so the ELBO starts from the best linear layout of the data instead of a random one.

Why: with a 2-D latent the ELBO has poor local optima. For the flow images the top two
components are an annulus, θ around it and a across it, which is already the unfolded layout;
a randomly started encoder often lays a out along a fold that it never undoes
(pretrained/RECIPE.md has the measurements).

Only the encoder moves, with its own Adam: the run's optimizer, its step count and schedules
start at 0 afterwards. The regression is deterministic for a given seed.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf
import keras

SAMPLE = 4096  # images the components are estimated from
STEPS = 400  # regression steps; the fit is linear in the pixels, so it converges fast
LEARNING_RATE = 1e-3


def pca_scores(images: np.ndarray, dims: int) -> np.ndarray:
    """Whitened top-`dims` principal-component scores (N, dims) of `images` (uint8 (N, S, S, 3)),
    each column of mean 0 and standard deviation 1, signs fixed by the largest loading."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    directions = vt[:dims]
    directions *= np.sign(directions[np.arange(dims), np.abs(directions).argmax(axis=1)])[:, None]
    scores = x @ directions.T
    return (scores / scores.std(axis=0)).astype(np.float32)


def fit_encoder_to_pca(trainer, images: np.ndarray, log: Callable[[str], None] = print,
                       steps: int | None = None) -> float:
    """Regress `trainer.model`'s posterior mean onto `pca_scores` of `images` for `steps`
    (default `STEPS`) global batches under the trainer's strategy; returns the last batch's
    mean squared error.
    """
    model, strategy, config = trainer.model, trainer.strategy, trainer.config
    steps = STEPS if steps is None else steps
    images = images[:SAMPLE]
    scores = pca_scores(images, model.config.latent_dim)
    batch = min(config.batch_size, len(images))
    pairs = (tf.data.Dataset.from_tensor_slices((images, scores))
             .shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True)
             .repeat().batch(batch, drop_remainder=True).take(steps)
             .map(lambda x, c: (tf.cast(x, tf.float32) / 255.0, c)))
    with strategy.scope():
        optimizer = keras.optimizers.Adam(LEARNING_RATE)
        variables = model.encoder.trainable_variables
        optimizer.build(variables)

    def replica_step(x, c):
        with tf.GradientTape() as tape:
            loc, _ = model.posterior_params(x, training=True)
            error = tf.reduce_mean(tf.reduce_sum(tf.square(tf.cast(loc, tf.float32) - c), axis=-1))
            loss = error / strategy.num_replicas_in_sync
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return error

    @tf.function
    def step(x, c):
        per_replica = strategy.run(replica_step, args=(x, c))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

    error = float("nan")
    for x, c in strategy.experimental_distribute_dataset(pairs):
        error = float(step(x, c))
    log(f"encoder warm start: q(z|x)'s mean fitted to the top {scores.shape[1]} principal "
        f"components of {len(images)} training images, {steps} steps, squared error {error:.4f}")
    return error
