"""Seeded flow datasets: images with their ground-truth factors (a, θ), saved as `.npz`.

File layout (``np.savez``, read with ``allow_pickle=False``):

    images   uint8   (N, S, S, 3)
    factors  float32 (N, 2)     columns [a, θ]
    meta     0-d unicode array: JSON {"format": "vaeflow.dataset", "version": 1,
                                      "seed": int | null, "spec": FlowSpec.to_dict()}
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
import zlib
from typing import Callable

import numpy as np

from vaeflow.flows.spec import FlowSpec
from vaeflow.io import atomic_path
from vaeflow.rendering import render_images

FORMAT = "vaeflow.dataset"
VERSION = 1

Progress = Callable[[int, int], None]  # (images done, images total)


class DatasetFileError(ValueError):
    """A dataset file that is truncated, corrupted, foreign or inconsistent."""


@dataclasses.dataclass(frozen=True, eq=False)
class FlowDataset:
    """Images of N flows and the factors that made them.

    Arguments:
        images: uint8 (N, S, S, 3), S = ``spec.image_size``.
        factors: float32 (N, 2), columns [a, θ]; the exact values the images were rendered from.
        spec: the `FlowSpec` behind every image.
        seed: the seed `generate_dataset` used (None for data of unknown origin).

    Raises:
        ValueError: naming `images`, `factors`, `spec` or `seed` for a wrong type, shape or dtype.
    """

    images: np.ndarray
    factors: np.ndarray
    spec: FlowSpec
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.spec, FlowSpec):
            raise ValueError(f"FlowDataset.spec must be a FlowSpec, got {type(self.spec).__name__}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer))):
            raise ValueError(f"FlowDataset.seed must be an int or None, got {self.seed!r}")
        images, factors = self.images, self.factors
        size = self.spec.image_size
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise ValueError(f"FlowDataset.images must be a uint8 array, got {_describe(images)}")
        if images.ndim != 4 or images.shape[1:] != (size, size, 3):
            raise ValueError(f"FlowDataset.images must have shape (N, {size}, {size}, 3), got {images.shape}")
        if not isinstance(factors, np.ndarray) or factors.dtype != np.float32:
            raise ValueError(f"FlowDataset.factors must be a float32 array, got {_describe(factors)}")
        if factors.shape != (images.shape[0], 2):
            raise ValueError(f"FlowDataset.factors must have shape ({images.shape[0]}, 2), got {factors.shape}")
        if not np.all(np.isfinite(factors)):
            raise ValueError("FlowDataset.factors must be finite")
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def a(self) -> np.ndarray:
        """The shear coefficients, float32 (N,)."""
        return self.factors[:, 0]

    @property
    def theta(self) -> np.ndarray:
        """The rotation angles in radians, float32 (N,)."""
        return self.factors[:, 1]

    def subset(self, index) -> "FlowDataset":
        """The images and factors at `index` (anything numpy can index rows with)."""
        return FlowDataset(self.images[index], self.factors[index], self.spec, self.seed)


def _describe(x) -> str:
    return f"{x.dtype} array" if isinstance(x, np.ndarray) else type(x).__name__


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def sample_factors(n: int, seed: int, spec: FlowSpec | None = None) -> np.ndarray:
    """Draw n factor pairs: a ~ N(a_mean, a_std²), θ ~ U[theta_min, theta_max); float32 (n, 2).

    Each factor has its own stream (spawned from `seed`), so the first k pairs do not depend on n.

    >>> sample_factors(3, seed=0).shape
    (3, 2)
    >>> bool((sample_factors(5, 0)[:3] == sample_factors(3, 0)).all())
    True
    """
    spec = spec or FlowSpec()
    n = _check_count("n", n, 1)
    seed = _check_count("seed", seed, 0)
    a_stream, theta_stream = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    a = a_stream.normal(spec.a_mean, spec.a_std, n)
    theta = theta_stream.uniform(spec.theta_min, spec.theta_max, n)
    return np.stack([a, theta], axis=1).astype(np.float32)


def generate_dataset(
    n: int,
    seed: int,
    spec: FlowSpec | None = None,
    *,
    chunk_size: int = 2048,
    progress: Progress | None = None,
) -> FlowDataset:
    """Draw n factor pairs from `seed` and render their images, `chunk_size` images at a time.

    The same (n, seed, spec) gives the same bytes whatever the chunk size.

    Arguments:
        n: number of images (≥ 1).
        seed: non-negative integer seed.
        spec: the flow; `FlowSpec()` when None.
        chunk_size: images rendered per call (≥ 1); bounds memory, not the result.
        progress: called as ``progress(done, n)`` after every chunk.

    Raises:
        ValueError: naming `n`, `seed`, `spec` or `chunk_size`.

    >>> ds = generate_dataset(4, seed=0)
    >>> ds.images.shape, ds.factors.dtype, len(ds)
    ((4, 36, 36, 3), dtype('float32'), 4)
    """
    spec = FlowSpec() if spec is None else spec
    if not isinstance(spec, FlowSpec):
        raise ValueError(f"spec must be a FlowSpec, got {type(spec).__name__}")
    n = _check_count("n", n, 1)
    chunk_size = _check_count("chunk_size", chunk_size, 1)
    factors = sample_factors(n, seed, spec)
    images = np.empty((n, spec.image_size, spec.image_size, 3), dtype=np.uint8)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        images[start:stop] = render_images(factors[start:stop, 0], factors[start:stop, 1], spec)
        if progress is not None:
            progress(stop, n)
    return FlowDataset(images, factors, spec, seed)


def _meta(ds: FlowDataset) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "seed": ds.seed, "spec": ds.spec.to_dict()})


def save_dataset(ds: FlowDataset, path: str | os.PathLike) -> None:
    """Write `ds` to `path` as an uncompressed `.npz`, atomically (a temp file renamed into place).

    Raises:
        ValueError: naming `ds` if it is not a `FlowDataset`.
    """
    if not isinstance(ds, FlowDataset):
        raise ValueError(f"ds must be a FlowDataset, got {type(ds).__name__}")
    with atomic_path(path) as tmp:
        # A file object, so numpy does not append ".npz" to the temporary name.
        with open(tmp, "wb") as f:
            np.savez(f, images=ds.images, factors=ds.factors, meta=np.array(_meta(ds)))


def load_dataset(path: str | os.PathLike) -> FlowDataset:
    """Read a dataset written by `save_dataset`, checking everything before trusting it.

    Raises:
        FileNotFoundError: if `path` does not exist.
        DatasetFileError (a ValueError): for a truncated, corrupted or foreign file, an unknown
            format or version, or arrays of the wrong shape, dtype or length.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no dataset file at {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DatasetFileError(f"{path} is a single .npy array, not a vaeflow dataset (.npz)")
        with loaded as npz:
            missing = sorted({"images", "factors", "meta"} - set(npz.files))
            if missing:
                raise DatasetFileError(f"{path} is not a vaeflow dataset: missing key(s) {missing}")
            meta_arr = npz["meta"]
            images = npz["images"]
            factors = npz["factors"]
    except DatasetFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        # numpy's own wording for a non-archive suggests loading it "unsafely"; never do that.
        detail = "not an .npz archive" if "pickle" in str(err) else str(err)
        raise DatasetFileError(f"{path} is truncated, corrupted or not an .npz: {detail}") from None

    if meta_arr.ndim != 0 or meta_arr.dtype.kind != "U":
        raise DatasetFileError(f"{path}: meta must be a 0-d unicode array, got {meta_arr.dtype} {meta_arr.shape}")
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError as err:
        raise DatasetFileError(f"{path}: meta is not valid JSON: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DatasetFileError(f"{path}: meta.format must be {FORMAT!r}, got {_get(meta, 'format')!r}")
    if meta.get("version") != VERSION:
        raise DatasetFileError(f"{path}: meta.version {meta.get('version')!r} is not supported (want {VERSION})")
    try:
        spec = FlowSpec.from_dict(meta.get("spec"))
        return FlowDataset(images, factors, spec, meta.get("seed"))
    except (TypeError, ValueError) as err:
        raise DatasetFileError(f"{path}: {err}") from None


def _get(meta, key):
    return meta.get(key) if isinstance(meta, dict) else None


def split_dataset(ds: FlowDataset, val_fraction: float = 0.2, seed: int = 0) -> tuple[FlowDataset, FlowDataset]:
    """A seeded random train/validation split; each part keeps the original order.

    Arguments:
        ds: the dataset (≥ 2 images).
        val_fraction: share of images for validation, in (0, 1); rounded, at least 1 each side.
        seed: seed of the permutation.

    Raises:
        ValueError: naming `val_fraction`, `seed` or `ds`.

    >>> train, val = split_dataset(generate_dataset(10, seed=0), 0.2, seed=0)
    >>> len(train), len(val)
    (8, 2)
    """
    if not isinstance(ds, FlowDataset):
        raise ValueError(f"ds must be a FlowDataset, got {type(ds).__name__}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float, np.floating)):
        raise ValueError(f"val_fraction must be a number, got {val_fraction!r}")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    seed = _check_count("seed", seed, 0)
    n = len(ds)
    if n < 2:
        raise ValueError(f"ds must hold at least 2 images to split, got {n}")
    n_val = min(max(int(round(n * float(val_fraction))), 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return ds.subset(np.sort(order[n_val:])), ds.subset(np.sort(order[:n_val]))


def make_tf_dataset(images, batch_size: int, *, shuffle: bool = True, seed: int = 0):
    """A `tf.data.Dataset` of float32 image batches in [0, 1]: (shuffle) → batch → scale → prefetch.

    Arguments:
        images: uint8 (N, H, W, 3).
        batch_size: images per batch (≥ 1); the last batch may be smaller.
        shuffle: reshuffle every epoch, seeded by `seed`.
        seed: shuffle seed.

    Raises:
        ValueError: naming `images` or `batch_size`.

    >>> import numpy as np
    >>> batch = next(iter(make_tf_dataset(np.zeros((5, 36, 36, 3), np.uint8), 4)))
    >>> batch.shape, batch.dtype.name
    (TensorShape([4, 36, 36, 3]), 'float32')
    """
    import tensorflow as tf

    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(f"images must be a uint8 array, got {_describe(images)}")
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[0] < 1:
        raise ValueError(f"images must have shape (N, H, W, 3) with N >= 1, got {images.shape}")
    batch_size = _check_count("batch_size", batch_size, 1)
    seed = _check_count("seed", seed, 0)
    data = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        data = data.shuffle(images.shape[0], seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size).map(lambda x: tf.cast(x, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
