"""Where a run's images come from: a dataset file (shuffled per epoch) or a stream of fresh ones.

Both sources are pure functions of (config, epoch): epoch e of a run always holds the same images
in the same order, which is what makes resuming mid-run and CPU determinism exact.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import numpy as np

from vaeflow.training.config import TrainConfig
from vaeflow.training.provenance import stream_spec

def derived_seed(*words: int) -> int:
    """A 31-bit seed from integer words; distinct words give independent seeds."""
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1)[0] >> 1)


def check_images(images: Any, image_size: int, name: str = "images") -> np.ndarray:
    """Return `images` if it is uint8 (N, image_size, image_size, 3) with N ≥ 1, else raise
    ValueError naming it (and the model's image size when that is what differs).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"{name} must be uint8 of shape (N, S, S, 3), got {images.dtype} "
                         f"{images.shape}")
    if images.shape[1:3] != (image_size, image_size):
        raise ValueError(f"{name} are {images.shape[1]}x{images.shape[2]} but the model's "
                         f"image_size is {image_size}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty")
    return images


class FileSource:
    """Train/validation split of a `.npz` dataset; a fresh permutation every epoch.

    Arguments:
        config: reads ``data``, ``val_fraction``, ``seed`` (epoch shuffles) and
            ``validation_split_seed`` (which images are held out).
        image_size: the model's; images of another size are a ValueError.
    """

    def __init__(self, config: TrainConfig, image_size: int) -> None:
        from vaeflow.datasets import load_dataset, split_dataset

        dataset = load_dataset(config.data)
        train, val = split_dataset(dataset, val_fraction=config.val_fraction,
                                   seed=config.validation_split_seed)
        self.train_images = check_images(train.images, image_size, f"training images of {config.data}")
        self.val_images = check_images(val.images, image_size, f"validation images of {config.data}")
        self.val_factors = val.factors
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
        image_size: the model's; the study's flow is rendered at this size.
    """

    def __init__(self, config: TrainConfig, image_size: int) -> None:
        self.spec = stream_spec(image_size)
        self.seed = config.seed
        self.size = config.stream_epoch_size
        self.repeats = config.stream_repeats
        self.label = "stream"
        val = self._render(config.stream_val_size, derived_seed(self.seed, 2))
        self.val_images = check_images(val.images, image_size, "stream validation images")
        self.val_factors = val.factors
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._pending: dict[int, concurrent.futures.Future] = {}
        self._block: tuple[int, np.ndarray] | None = None

    @property
    def epoch_size(self) -> int:
        return self.size

    def _render(self, n: int, seed: int):
        from vaeflow.datasets import generate_dataset

        return generate_dataset(n, seed, self.spec)

    def _submit(self, block: int) -> concurrent.futures.Future:
        if block not in self._pending:
            self._pending[block] = self._pool.submit(self._render, self.size,
                                                     derived_seed(self.seed, 3, block))
        return self._pending[block]

    def epoch_images(self, epoch: int) -> np.ndarray:
        block = epoch // self.repeats
        if self._block is None or self._block[0] != block:
            images = check_images(self._submit(block).result().images, self.spec.image_size,
                                  "streamed images")
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


def source_bytes(config: TrainConfig, image_size: int = 36) -> int:
    """Bytes of images the source of `config` holds in memory at once (an estimate made
    before anything is loaded or rendered: the dataset's size comes from its header).

    A stream holds the block being trained on, the next block rendering meanwhile, a
    reshuffled copy when ``stream_repeats`` > 1, and the validation images. A dataset file is
    held whole, as its training and validation parts, and as each epoch's shuffled copy.

    Raises:
        FileNotFoundError, DatasetFileError: for a dataset file `read_header` refuses.
        ValueError: naming ``data`` when neither a dataset nor ``stream`` is given.
    """
    from vaeflow.datasets import dataset_bytes, read_header, split_sizes

    if config.stream:
        blocks = 2 + (config.stream_repeats > 1)
        return dataset_bytes(blocks * config.stream_epoch_size + config.stream_val_size, image_size)
    if not config.data:
        raise ValueError("TrainConfig.data must name a dataset file (or set stream=True)")
    n = read_header(config.data).n_images
    if n < 2:
        raise ValueError(f"{config.data} holds {n} image(s); training needs at least 2")
    return dataset_bytes(2 * n + split_sizes(n, config.val_fraction)[0], image_size)


def check_source(config: TrainConfig, image_size: int = 36) -> int:
    """`source_bytes`, refused with the estimate in the message when over the limit
    (``$VAEFLOW_MAX_DATASET_BYTES``); returns the estimate."""
    from vaeflow.datasets import check_memory

    nbytes = source_bytes(config, image_size)
    if config.stream:
        what = (f"training on a stream of stream_epoch_size = {config.stream_epoch_size:,} images "
                f"of {image_size}x{image_size}")
    else:
        what = f"training on {config.data}"
    check_memory(what, nbytes)
    return nbytes


def make_source(config: TrainConfig, image_size: int = 36) -> FileSource | StreamSource:
    """The source `config` names, for a model of `image_size`.

    Raises:
        ValueError: naming ``data`` when neither a dataset nor ``stream`` is given, or when the
            source would hold more than the memory limit (`check_source`).
    """
    check_source(config, image_size)
    if config.stream:
        return StreamSource(config, image_size)
    if not config.data:
        raise ValueError("TrainConfig.data must name a dataset file (or set stream=True)")
    return FileSource(config, image_size)
