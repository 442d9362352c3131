"""`TrainConfig`: every number of a training run, typed, frozen and validated at construction.

Two recipes ship as presets (`TrainConfig.preset`):

- ``"study"``: the study's recipe, Adam 1e-4, batch 32, β = 2, up to 20 epochs, early stopping with
  patience 3 on the validation loss;
- ``"default"``: the product's recipe for the compact default architecture (see ARCHITECTURE.md).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from vaeflow import validate as _check
from vaeflow.records import JsonRecord

_SCHEDULES = ("constant", "cosine")
_DISTRIBUTE = ("auto", "none", "mirrored", "multi_worker")
_JIT = ("auto", "on", "off")
_ENCODER_INITS = ("random", "pca")


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonRecord):
    """How to train a VAE: objective, optimiser, data source, stopping and bookkeeping.

    Arguments:
        beta: weight of the KL term, ``loss = reconstruction + beta * kl``; > 0.
        learning_rate: Adam's step size (peak value under the cosine schedule); > 0.
        lr_schedule: ``"constant"`` or ``"cosine"`` (decays to 0 over ``epochs`` epochs).
        beta_warmup_epochs: KL warm-up: the KL weight of training step s (0-based) is
            ``beta_start + (beta - beta_start) * min(1, (s + 1) / W)``, W = this many epochs of
            steps; 0 = none. Validation always weighs the KL by ``beta``, so ``val_loss``
            compares across the warm-up.
        beta_start: the KL weight the warm-up starts from; ≥ 0. 0 is the usual warm-up; a value
            above ``beta`` anneals the weight down to it instead.
        prior_warmup_epochs: a flow prior stays at its start, the identity flow, so that
            p(z) = N(0, I), for this many epochs (its layers get no updates), then learns; the
            encoder first lays the codes out against the normal prior. No effect on a model
            with the normal prior; 0 = none.
        lr_warmup_epochs: the learning rate rises linearly from 0 to ``learning_rate`` over this
            many epochs, then follows ``lr_schedule`` over the remaining epochs; 0 = none.
        init_from: a model or run directory whose weights the run starts from (every weight of
            that model must exist, same path and shape, in the new one; the new model's other
            weights, such as a flow prior's, keep their initialisation); None = from scratch.
        encoder_init: ``"random"`` (Keras' initialisers) or ``"pca"``: before the first step, the
            encoder's mean is fitted to the whitened top principal components of the first
            training images (`vaeflow.training.warm_start`), the layout a 2-D latent should
            unfold from. Not with ``init_from``.
        epochs: maximum number of epochs; ≥ 1.
        batch_size: global batch size (split across replicas); ≥ 1.
        seed: seeds initialisation, shuffles, the reparameterisation noise and streamed data.
        patience: stop after this many epochs without a lower ``val_loss``; None never stops early.
        min_delta: an epoch improves when ``val_loss`` falls by more than this (nats); ≥ 0.
        steps_per_window: training metrics are averaged and written every this many steps; ≥ 1.
        data: path of a ``.npz`` dataset (split into train/validation by ``val_fraction``);
            a recipe may leave it None, `train` then requires ``data`` or ``stream``.
        stream: train on freshly rendered images, ``stream_epoch_size`` new ones per epoch,
            validated on a fixed held-out set of ``stream_val_size`` images; excludes ``data``.
        stream_epoch_size, stream_val_size: image counts for ``stream``; ≥ batch_size, ≥ 1.
        stream_repeats: with ``stream``, train on each freshly rendered set for this many epochs
            (reshuffled) before rendering the next; > 1 trades freshness for render time.
        val_fraction: share of ``data`` held out for validation, in (0, 1).
        split_seed: seed of the permutation that picks which images of ``data`` are held out
            for validation (``split_dataset``); ≥ 0, or None to use ``seed``. Fixing it lets
            runs with different ``seed`` validate on the same images. Unused with ``stream``
            (its validation set is rendered from its own seed).
        time_limit_s: stop (state "done") after this many seconds of training; None = no limit.
        checkpoint_every_s: also checkpoint mid-epoch when this many seconds have passed; > 0.
        mixed_precision: float16 compute with float32 variables; GPU only (checked at train time).
        jit_compile: XLA for the train step: ``"auto"`` (on for GPUs; off on CPU, where it
            gave no speed-up for the default model when measured), ``"on"`` or ``"off"``.
        distribute: ``"auto"`` (MultiWorkerMirrored when TF_CONFIG is set, Mirrored over ≥ 2 GPUs,
            else one device), ``"none"``, ``"mirrored"`` (all visible GPUs, else all logical CPUs)
            or ``"multi_worker"``.

    Raises:
        ValueError: naming the field, for any out-of-range or inconsistent value.

    >>> TrainConfig(beta=2.0).beta
    2.0
    >>> TrainConfig(batch_size=0)
    Traceback (most recent call last):
    ...
    ValueError: TrainConfig.batch_size must be an integer >= 1, got 0
    """

    beta: float = 1.0
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    beta_warmup_epochs: float = 0.0
    beta_start: float = 0.0
    prior_warmup_epochs: float = 0.0
    lr_warmup_epochs: float = 0.0
    init_from: str | None = None
    encoder_init: str = "random"
    epochs: int = 30
    batch_size: int = 128
    seed: int = 0
    patience: int | None = None
    min_delta: float = 0.0
    steps_per_window: int = 20
    data: str | None = None
    stream: bool = False
    stream_epoch_size: int = 20_000
    stream_val_size: int = 2_000
    stream_repeats: int = 1
    val_fraction: float = 0.1
    split_seed: int | None = None
    time_limit_s: float | None = None
    checkpoint_every_s: float = 60.0
    mixed_precision: bool = False
    jit_compile: str = "auto"
    distribute: str = "auto"

    def __post_init__(self) -> None:
        def field(name: str) -> str:
            return f"TrainConfig.{name}"

        for name in ("epochs", "batch_size", "steps_per_window", "stream_val_size", "stream_repeats"):
            _set(self, name, _check.integer(field(name), getattr(self, name), low=1))
        _set(self, "seed", _check.seed(field("seed"), self.seed))
        _set(self, "split_seed", _check.optional_seed(field("split_seed"), self.split_seed))
        _set(self, "stream_epoch_size", _check.integer(field("stream_epoch_size"), self.stream_epoch_size))
        if self.patience is not None:
            _set(self, "patience", _check.integer(field("patience"), self.patience, low=1))
        for name in ("beta", "learning_rate", "checkpoint_every_s"):
            _set(self, name, _check.real(field(name), getattr(self, name), positive=True))
        _set(self, "min_delta", _check.real(field("min_delta"), self.min_delta, low=0.0))
        for name in ("beta_warmup_epochs", "beta_start", "prior_warmup_epochs", "lr_warmup_epochs"):
            _set(self, name, _check.real(field(name), getattr(self, name), low=0.0))
        if self.lr_warmup_epochs >= self.epochs:
            raise ValueError(f"TrainConfig.lr_warmup_epochs must be < epochs ({self.epochs}), "
                             f"got {self.lr_warmup_epochs}")
        _set(self, "val_fraction", _check.real(field("val_fraction"), self.val_fraction))
        if self.time_limit_s is not None:
            _set(self, "time_limit_s", _check.real(field("time_limit_s"), self.time_limit_s, positive=True))
        for name in ("stream", "mixed_precision"):
            _set(self, name, _check.boolean(field(name), getattr(self, name)))
        if self.data is not None:
            if not isinstance(self.data, (str, os.PathLike)):
                raise ValueError(f"TrainConfig.data must be a path or None, got {self.data!r}")
            _set(self, "data", os.fspath(self.data))
        if self.init_from is not None:
            if not isinstance(self.init_from, (str, os.PathLike)):
                raise ValueError(f"TrainConfig.init_from must be a path or None, got {self.init_from!r}")
            _set(self, "init_from", os.fspath(self.init_from))

        if self.stream_epoch_size < self.batch_size:
            raise ValueError(f"TrainConfig.stream_epoch_size must be >= batch_size ({self.batch_size}), "
                             f"got {self.stream_epoch_size}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"TrainConfig.val_fraction must be in (0, 1), got {self.val_fraction}")
        _check.one_of(field("lr_schedule"), self.lr_schedule, _SCHEDULES)
        _check.one_of(field("jit_compile"), self.jit_compile, _JIT)
        _check.one_of(field("distribute"), self.distribute, _DISTRIBUTE)
        _check.one_of(field("encoder_init"), self.encoder_init, _ENCODER_INITS)
        if self.encoder_init != "random" and self.init_from is not None:
            raise ValueError(f"TrainConfig.encoder_init must be 'random' with init_from (got "
                             f"{self.encoder_init!r}): the weights come from {self.init_from!r}")
        if self.stream and self.data is not None:
            raise ValueError("TrainConfig.data must be None when TrainConfig.stream is True "
                             f"(got data={self.data!r}); choose one data source")

    @property
    def dataset_label(self) -> str:
        """``"stream"`` or the dataset path: what a run list shows in its dataset column."""
        return "stream" if self.stream else str(self.data)

    @property
    def validation_split_seed(self) -> int:
        """The seed `split_dataset` draws the train/validation split of ``data`` with."""
        return self.seed if self.split_seed is None else self.split_seed

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with `changes` applied and validated again."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "TrainConfig":
        """The ``"default"`` or ``"study"`` recipe, with `overrides` applied (then validated)."""
        if name not in PRESETS:
            raise ValueError(f"TrainConfig preset must be one of {sorted(PRESETS)}, got {name!r}")
        return cls(**{**PRESETS[name], **overrides})


def _set(config: TrainConfig, name: str, value: Any) -> None:
    object.__setattr__(config, name, value)


# The study's recipe is a fact; the default recipe belongs to the model engineer (ARCHITECTURE.md).
PRESETS: dict[str, dict[str, Any]] = {
    "study": dict(beta=2.0, learning_rate=1e-4, batch_size=32, epochs=20, patience=3),
    "default": dict(beta=1.0, learning_rate=2e-3, batch_size=128, epochs=30, lr_schedule="cosine"),
}
