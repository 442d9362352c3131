"""The FID feature network: a small CNN trained on real flow images to predict their factors.

FID needs a feature space in which real and generated images can be compared and that the VAE
under test did not shape. Inception features know nothing of contour plots; this network is
trained only on rendered flows to regress (a, cos θ, sin θ), so its penultimate layer encodes
exactly what distinguishes one flow image from another. Its weights ship in
`pretrained/features/`, trained by `python -m vaeflow.metrics.train_features`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from vaeflow.io import write_json_atomic
from vaeflow.metrics.bounds import as_unit_float
from vaeflow.metrics.factors import factor_targets
from vaeflow.models.io import CONFIG_FILE, PRETRAINED_DIR, read_header, read_weights, write_weights

FORMAT = "vaeflow.features"
VERSION = 1
FEATURES_DIR = PRETRAINED_DIR / "features"


@dataclasses.dataclass(frozen=True)
class FeatureNetConfig:
    """Shape of the feature network: three stride-2 convolutions, then `feature_dim` units."""

    image_size: int = 36
    channels: tuple[int, int, int] = (16, 32, 64)
    feature_dim: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.channels) != 3 or min(self.channels) < 1:
            raise ValueError(f"FeatureNetConfig.channels must be 3 positive ints, got {self.channels}")
        if not 8 <= int(self.image_size) <= 512:
            raise ValueError(f"FeatureNetConfig.image_size must be in [8, 512], got {self.image_size}")
        if int(self.feature_dim) < 2:
            raise ValueError(f"FeatureNetConfig.feature_dim must be >= 2, got {self.feature_dim}")


class FeatureNet:
    """`features(images)` → (N, feature_dim) activations; `predict(images)` → (N, 3) factors.

    Targets are (a standardised, cos θ, sin θ); `predict` undoes the standardisation.
    """

    def __init__(self, config: FeatureNetConfig | None = None, a_mean: float = 3.0, a_std: float = 1.0):
        self.config = FeatureNetConfig() if config is None else config
        self.a_mean, self.a_std = float(a_mean), float(a_std)
        c1, c2, c3 = self.config.channels
        s = self.config.image_size
        self.body = keras.Sequential(
            [
                keras.Input((s, s, 3)),
                layers.Conv2D(c1, 3, strides=2, padding="same", activation="relu", name="conv_0"),
                layers.Conv2D(c2, 3, strides=2, padding="same", activation="relu", name="conv_1"),
                layers.Conv2D(c3, 3, strides=2, padding="same", activation="relu", name="conv_2"),
                layers.Flatten(name="flatten"),
                layers.Dense(self.config.feature_dim, activation="relu", name="dense_0"),
            ],
            name="features",
        )
        self.head = keras.Sequential(
            [keras.Input((self.config.feature_dim,)), layers.Dense(3, name="factors")],
            name="factor_head",
        )
        self._features = tf.function(lambda x: self.body(x, training=False))

    @property
    def weights(self) -> list:
        return self.body.weights + self.head.weights

    def features(self, images, batch_size: int = 1000) -> np.ndarray:
        """Penultimate activations, float64 (N, feature_dim), for uint8 or [0, 1] float images."""
        images = as_unit_float(images)
        if images.shape[1:] != (self.config.image_size, self.config.image_size, 3):
            raise ValueError(
                f"images must be (N, {self.config.image_size}, {self.config.image_size}, 3) for "
                f"the feature network, got {images.shape}"
            )
        out = [
            self._features(tf.constant(images[i : i + batch_size])).numpy()
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out).astype(np.float64)

    def predict(self, images) -> np.ndarray:
        """Predicted (a, cos θ, sin θ), float64 (N, 3)."""
        raw = self.head(self.features(images).astype(np.float32)).numpy().astype(np.float64)
        raw[:, 0] = raw[:, 0] * self.a_std + self.a_mean
        return raw

    def fit(self, images, factors, *, epochs: int, batch_size: int = 128, learning_rate: float = 1e-3,
            seed: int = 0, log=print) -> None:
        """Adam on the mean squared error of (standardised a, cos θ, sin θ), cosine-decayed."""
        keras.utils.set_random_seed(seed)
        x = as_unit_float(images)
        y = factor_targets(factors).astype(np.float32)
        y[:, 0] = (y[:, 0] - self.a_mean) / self.a_std
        steps = epochs * (len(x) // batch_size)
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps))
        variables = self.body.trainable_variables + self.head.trainable_variables

        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(self.head(self.body(xb, training=True)) - yb))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        rng = np.random.default_rng(seed)
        for epoch in range(epochs):
            order = rng.permutation(len(x))
            losses = [
                float(step(tf.constant(x[idx]), tf.constant(y[idx])))
                for idx in np.array_split(order[: steps // epochs * batch_size], steps // epochs)
            ]
            log(f"feature net epoch {epoch + 1}/{epochs}: mse {np.mean(losses):.5f}")


def save_feature_net(net: FeatureNet, path: str | os.PathLike, info: dict | None = None) -> Path:
    """Write `net` to the directory `path` (config.json with a weights hash + weights.npz)."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "config": {**dataclasses.asdict(net.config), "a_mean": net.a_mean, "a_std": net.a_std},
        "weights": write_weights(directory, net.weights),
        "info": info or {},
    }
    write_json_atomic(directory / CONFIG_FILE, header)
    return directory


def load_feature_net(path: str | os.PathLike | None = None) -> FeatureNet:
    """The feature network in `path`, or the shipped one (`pretrained/features/`) when None.

    Raises:
        ValueError: for a missing, corrupted or foreign directory.
    """
    directory = FEATURES_DIR if path is None else Path(path)
    if not (directory / CONFIG_FILE).is_file():
        raise ValueError(f"no feature network at {directory}: {CONFIG_FILE} is missing")
    header = read_header(directory / CONFIG_FILE, FORMAT, versions=(VERSION,))
    config = dict(header["config"])
    a_mean, a_std = config.pop("a_mean"), config.pop("a_std")
    net = FeatureNet(FeatureNetConfig(**config), a_mean=a_mean, a_std=a_std)
    read_weights(directory, header, net.weights)
    return net
