"""Where a run's images come from: a dataset file (shuffled per epoch) or a stream of fresh ones.

Both sources are pure functions of (config, epoch): epoch e of a run always holds the same images
in the same order, which is what makes resuming mid-run and CPU determinism exact.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import numpy as np

from vaeflow.training.config import TrainConfig

IMAGE_SHAPE = (36, 36, 3)


def derived_seed(*words: int) -> int:
    """A 31-bit seed from integer words; distinct words give independent seeds."""
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1)[0] >> 1)


def check_images(images: Any, name: str = "images") -> np.ndarray:
    """Return `images` if it is uint8 (N, 36, 36, 3) with N ≥ 1, else raise ValueError naming it."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{name} must be uint8 of shape (N, 36, 36, 3), "
                         f"got {images.dtype} {images.shape}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty")
    return images


class FileSource:
    """Train/validation split of a `.npz` dataset; a fresh permutation every epoch.

    Arguments:
        config: reads ``data``, ``val_fraction`` and ``seed``.
    """

    def __init__(self, config: TrainConfig) -> None:
        from vaeflow.datasets import load_dataset, split_dataset

        dataset = load_dataset(config.data)
        train, val = split_dataset(dataset, val_fraction=config.val_fraction, seed=config.seed)
        self.train_images = check_images(train.images, f"training images of {config.data}")
        self.val_images = check_images(val.images, f"validation images of {config.data}")
        self.seed = config.seed
        self.label = str(config.data)

    @property
    def epoch_size(self) -> int:
        return len(self.train_images)

    def epoch_images(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng(derived_seed(self.seed, 1, epoch)).permutation(self.epoch_size)
        return self.train_images[order]

    def close(self) -> None:
        pass


class StreamSource:
    """Freshly rendered images. Block b = ``generate_dataset(stream_epoch_size, seed_b)`` is
    trained on for ``stream_repeats`` epochs (reshuffled each time), so epoch e uses block
    ``e // stream_repeats``; the next block renders on a background thread meanwhile.
    Validation images come from their own seed, so they are never trained on.

    Arguments:
        config: reads ``stream_epoch_size``, ``stream_repeats``, ``stream_val_size``, ``seed``.
    """

    def __init__(self, config: TrainConfig) -> None:
        self.seed = config.seed
        self.size = config.stream_epoch_size
        self.repeats = config.stream_repeats
        self.label = "stream"
        self.val_images = check_images(self._render(config.stream_val_size, derived_seed(self.seed, 2)),
                                       "stream validation images")
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._pending: dict[int, concurrent.futures.Future] = {}
        self._block: tuple[int, np.ndarray] | None = None

    @property
    def epoch_size(self) -> int:
        return self.size

    @staticmethod
    def _render(n: int, seed: int) -> np.ndarray:
        from vaeflow.datasets import generate_dataset

        return generate_dataset(n, seed).images

    def _submit(self, block: int) -> concurrent.futures.Future:
        if block not in self._pending:
            self._pending[block] = self._pool.submit(self._render, self.size,
                                                     derived_seed(self.seed, 3, block))
        return self._pending[block]

    def epoch_images(self, epoch: int) -> np.ndarray:
        block = epoch // self.repeats
        if self._block is None or self._block[0] != block:
            images = check_images(self._submit(block).result(), "streamed images")
            self._pending.pop(block)
            self._block = (block, images)
            self._submit(block + 1)  # render ahead while this block trains
        images = self._block[1]
        if epoch % self.repeats == 0:
            return images  # i.i.d. draws: the first pass needs no shuffle
        order = np.random.default_rng(derived_seed(self.seed, 4, epoch)).permutation(len(images))
        return images[order]

    def close(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_source(config: TrainConfig) -> FileSource | StreamSource:
    """The source `config` names.

    Raises:
        ValueError: naming ``data`` when neither a dataset nor ``stream`` is given.
    """
    if config.stream:
        return StreamSource(config)
    if not config.data:
        raise ValueError("TrainConfig.data must name a dataset file (or set stream=True)")
    return FileSource(config)
