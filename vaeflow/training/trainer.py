"""The trainer: a model, its optimizer and the compiled train/eval steps under a tf.distribute
strategy. The loop that drives it through a run directory is `vaeflow.training.loop.train`.

Per step the objective is the β-ELBO of `model.elbo_terms` (batch means, nats per image):

    loss = reconstruction + β(step) · kl,   β(step) = β · min(1, (step + 1) / warm-up steps)

(KL warm-up, `TrainConfig.beta_warmup_epochs`; validation weighs the KL by β itself).

Each replica divides its batch-mean loss by the number of replicas because the optimizer sums
gradients across replicas; the result is the gradient of the global batch mean.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import keras

from vaeflow.models.vae import TERMS
from vaeflow.training.config import TrainConfig

_VAL_SEED = 2**31 - 1  # the validation noise seed word: the same draws every epoch


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


def make_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """The distribution strategy for `kind` (see `TrainConfig.distribute`).

    ``"mirrored"`` mirrors over every logical GPU, or every logical CPU when there is no GPU
    (which is how the 2-logical-CPU test runs it).
    """
    if kind == "multi_worker" or (kind == "auto" and os.environ.get("TF_CONFIG")):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if kind == "auto" and len(gpus) >= 2:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()  # the default strategy: one device, no overhead


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


class Trainer:
    """A model, its Adam optimizer and the compiled steps, all under one strategy.

    Arguments:
        build_model: returns a fresh, unbuilt model with ``elbo_terms(x, beta, seed, training)``;
            called inside ``strategy.scope()`` so variables are mirrored.
        config: the recipe (β, learning rate, schedule, seed, jit, mixed precision).
        steps_per_epoch: optimizer steps in one epoch (sets the cosine schedule's length).
        strategy: defaults to `make_strategy(config.distribute)`.
    """

    def __init__(self, build_model: Callable[[], keras.Model], config: TrainConfig,
                 steps_per_epoch: int, strategy: tf.distribute.Strategy | None = None) -> None:
        self.config = config
        self.strategy = strategy or make_strategy(config.distribute)
        self.replicas = self.strategy.num_replicas_in_sync
        gpus = tf.config.list_logical_devices("GPU")
        if config.mixed_precision and not gpus:
            raise ValueError("TrainConfig.mixed_precision needs a GPU; TensorFlow sees none")
        self.jit_compile = {"on": True, "off": False, "auto": bool(gpus)}[config.jit_compile]
        if config.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.model = build_model()
            self.beta_warmup_steps = config.beta_warmup_epochs * steps_per_epoch
            self.prior_warmup_steps = config.prior_warmup_epochs * steps_per_epoch
            self.learning_rate = _learning_rate(config, steps_per_epoch)
            self.optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate)
            if config.mixed_precision:
                self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
            self._build()
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        self._replica_step = (tf.function(self._replica_train_step, jit_compile=True)
                              if self.jit_compile else self._replica_train_step)
        self._train_step = tf.function(self._distributed_train_step, reduce_retracing=True)
        self._eval_step = tf.function(self._eval_terms, jit_compile=self.jit_compile,
                                      reduce_retracing=True)

    def _build(self) -> None:
        """Create every variable now, so checkpoints restore into existing objects."""
        probe = tf.zeros((1, *self.image_shape), tf.float32)
        self.model.elbo_terms(probe, beta=self.config.beta, seed=tf.constant([0, 0]), training=False)
        if self.config.init_from is not None:
            from vaeflow.models.io import load_matching_weights

            load_matching_weights(self.model, self.config.init_from)
        self.optimizer.build(self.model.trainable_variables)

    def use_configured_learning_rate(self) -> None:
        """Set a constant learning rate back to the config's after a checkpoint restored the
        saved one (Keras keeps it in a variable), so a resume with another rate uses it."""
        if self.config.lr_schedule == "constant":
            self.optimizer.learning_rate = self.config.learning_rate

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(S, S, 3) images the model takes (its config's, else the study's 36×36)."""
        config = getattr(self.model, "config", None)
        return tuple(getattr(config, "image_shape", (36, 36, 3)))

    @property
    def step(self) -> int:
        """Optimizer steps taken (restored with the checkpoint)."""
        return int(self.optimizer.iterations.numpy())

    def beta(self, step: tf.Tensor) -> tf.Tensor:
        """The KL weight β of optimizer step `step` (int64 tensor), after the KL warm-up
        (`beta_at`); traced into the step."""
        return tf.cast(self.beta_at(tf.cast(step, tf.float32)), tf.float32)

    def _replica_train_step(self, x: tf.Tensor, seed: tf.Tensor, beta: tf.Tensor) -> dict[str, tf.Tensor]:
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = tf.random.experimental.stateless_fold_in(seed, replica)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            terms = self.model.elbo_terms(x, beta=beta, seed=seed, training=True)
            loss = tf.cast(terms["loss"], tf.float32) / self.replicas
            if self.config.mixed_precision:
                loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, variables)
        if self.prior_warmup_steps > 0:
            # Adam moves a variable whose gradients have all been 0 by exactly 0.
            learning = tf.cast(tf.cast(self.optimizer.iterations, tf.float32)
                               >= self.prior_warmup_steps, tf.float32)
            prior = {id(v) for net in getattr(self.model, "prior_conditioners", [])
                     for v in net.trainable_variables}
            gradients = [g * tf.cast(learning, g.dtype) if id(v) in prior and g is not None else g
                         for g, v in zip(gradients, variables)]
        self.optimizer.apply_gradients(zip(gradients, variables))
        return {name: tf.cast(terms[name], tf.float32) for name in TERMS}

    def beta_at(self, step):
        """The KL weight of training step `step` (0-based; a number or a float tensor)."""
        if self.beta_warmup_steps <= 0:
            return self.config.beta
        start, end = self.config.beta_start, self.config.beta
        return start + (end - start) * tf.minimum(1.0, (step + 1.0) / self.beta_warmup_steps)

    def schedule(self) -> dict[str, float]:
        """The KL weight and learning rate of the last step taken: ``{"beta", "learning_rate"}``
        (what metrics.jsonl records beside that step's losses)."""
        step = max(self.step - 1, 0)
        rate = self.learning_rate
        return {"beta": float(self.beta_at(float(step))),
                "learning_rate": float(rate(step) if callable(rate) else rate)}

    def _distributed_train_step(self, images: Any) -> dict[str, tf.Tensor]:
        # TFP's stateless seeds are int32 pairs: (run seed, step) gives every step fresh noise.
        seed = tf.stack([tf.constant(self.config.seed, tf.int32),
                         tf.cast(self.optimizer.iterations, tf.int32)])
        beta = self.beta(self.optimizer.iterations)
        per_replica = self.strategy.run(self._replica_step, args=(images, seed, beta))
        return {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica[name], axis=None)
                for name in TERMS}

    def _eval_terms(self, x: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        terms = self.model.elbo_terms(x, beta=self.config.beta, seed=seed, training=False)
        return {name: tf.cast(terms[name], tf.float32) for name in TERMS}

    def distribute(self, images: np.ndarray, skip_batches: int = 0):
        """Batches of `images` (uint8, in their order, whole global batches only) as float32
        in [0, 1], distributed as the strategy wants them (`vaeflow.make_tf_dataset`)."""
        from vaeflow.datasets import make_tf_dataset

        dataset = make_tf_dataset(images, self.config.batch_size, shuffle=False,
                                  drop_remainder=True, skip_batches=skip_batches)
        return self.strategy.experimental_distribute_dataset(dataset)

    def train_step(self, batch: Any) -> dict[str, float]:
        """One optimizer step on a global batch (uint8 (B, 36, 36, 3) or a distributed batch).

        Returns:
            The batch means of ``loss``, ``reconstruction`` and ``kl`` (floats; may be NaN —
            the caller decides what a non-finite loss means).
        """
        if isinstance(batch, np.ndarray):
            batch = next(iter(self.distribute(batch)))
        return {name: float(value) for name, value in self._train_step(batch).items()}

    def evaluate(self, images: np.ndarray) -> dict[str, float]:
        """Mean ``loss``, ``reconstruction`` and ``kl`` over `images` (uint8) with the model in
        inference mode and fixed noise; changes no variable.
        """
        from vaeflow.datasets import make_tf_dataset

        totals = dict.fromkeys(TERMS, 0.0)
        batches = make_tf_dataset(images, self.config.batch_size, shuffle=False)
        for index, batch in enumerate(batches):
            seed = tf.constant([self.config.seed, _VAL_SEED - index], tf.int32)
            terms = self._eval_step(batch, seed)
            for name in TERMS:
                totals[name] += float(terms[name]) * len(batch)
        return {name: totals[name] / len(images) for name in TERMS}


def _learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    """Adam's step size: constant or cosine-decayed, after a linear warm-up from 0 when
    `config.lr_warmup_epochs` > 0 (the cosine then spans the steps after the warm-up)."""
    total = max(1, config.epochs * steps_per_epoch)
    warmup = int(round(config.lr_warmup_epochs * steps_per_epoch))
    if config.lr_schedule == "constant" and not warmup:
        return config.learning_rate
    # alpha = 1 makes CosineDecay hold its warm-up target: a constant rate after the warm-up.
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate, decay_steps=max(1, total - warmup),
        alpha=0.0 if config.lr_schedule == "cosine" else 1.0,
        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)
