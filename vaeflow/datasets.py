"""Seeded flow datasets: images with their ground-truth factors (a, θ), saved as `.npz`.

File layout (``np.savez``, read with ``allow_pickle=False``):

    images   uint8   (N, S, S, 3)
    factors  float32 (N, 2)     columns [a, θ]
    meta     0-d unicode array: JSON {"format": "vaeflow.dataset", "version": 1,
                                      "seed": int | null, "spec": FlowSpec.to_dict()}

Every reader goes through `read_header`, which checks a file from its `.npy` headers and its
meta alone, before any image is read: `load_dataset` allocates only what the headers promise,
and only when it is within `max_dataset_bytes()` and the file's own size (see `read_header`).
`check_dataset` adds the data checks of `load_dataset` (CRC, finite factors) without keeping
the images: the app's dataset list and `load_dataset` agree on every file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import zipfile
import zlib
from typing import Callable, Iterator

import numpy as np

from vaeflow import validate as _check
from vaeflow.flows.spec import FlowSpec
from vaeflow.io import atomic_path, check_format
from vaeflow.npz import ArrayHeader, array_header, gigabytes
from vaeflow.rendering import render_images

FORMAT = "vaeflow.dataset"
VERSION = 1

# Size limits (README "Security and limits"). A dataset's arrays may hold at most
# `max_dataset_bytes()` once loaded: $VAEFLOW_MAX_DATASET_BYTES, else this default (4 GiB, about
# 1.1 million 36×36 images). The same bound refuses `generate_dataset` calls and training
# sources that would hold more.
DEFAULT_MAX_DATASET_BYTES = 4 * 2**30
MAX_BYTES_ENV = "VAEFLOW_MAX_DATASET_BYTES"
MAX_META_BYTES = 2**20  # the meta JSON is a few hundred bytes

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
        object.__setattr__(self, "seed", _check.optional_seed("FlowDataset.seed", self.seed))
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


def max_dataset_bytes() -> int:
    """The most bytes a dataset's arrays may hold in memory: ``$VAEFLOW_MAX_DATASET_BYTES``
    (a positive integer; ``2e9`` works) if set, else `DEFAULT_MAX_DATASET_BYTES`.

    Raises:
        ValueError: naming the variable when it is set to something else.
    """
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_DATASET_BYTES
    try:
        return _check.integer(MAX_BYTES_ENV, float(text), low=1)
    except ValueError:
        raise ValueError(f"{MAX_BYTES_ENV} must be a positive whole number of bytes, got {text!r}") from None


def dataset_bytes(n: int, image_size: int) -> int:
    """Bytes of n images (uint8, S×S×3) and their factors (float32, 2 each) in memory."""
    return int(n) * (int(image_size) ** 2 * 3 + 8)


def check_memory(what: str, nbytes: int, max_bytes: int | None = None) -> None:
    """Refuse, before allocating, anything that would hold more than `max_bytes`
    (default `max_dataset_bytes()`).

    Raises:
        ValueError: ``"<what> would hold <estimate> in memory, over the limit of <limit>…"``.
    """
    limit = max_dataset_bytes() if max_bytes is None else max_bytes
    if nbytes > limit:
        raise ValueError(f"{what} would hold {gigabytes(nbytes)} in memory, over the limit of "
                         f"{gigabytes(limit)} (set {MAX_BYTES_ENV} to change it)")


def sample_factors(n: int, seed: int, spec: FlowSpec | None = None) -> np.ndarray:
    """Draw n factor pairs: a ~ N(a_mean, a_std²), θ ~ U[theta_min, theta_max); float32 (n, 2).

    Each factor has its own stream (spawned from `seed`), so the first k pairs do not depend on n.

    >>> sample_factors(3, seed=0).shape
    (3, 2)
    >>> bool((sample_factors(5, 0)[:3] == sample_factors(3, 0)).all())
    True
    """
    spec = spec or FlowSpec()
    n = _check.integer("n", n, low=1)
    seed = _check.seed("seed", seed)
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
        ValueError: naming `n`, `seed`, `spec` or `chunk_size`; or when the n images would
            hold more than `max_dataset_bytes()` (checked before anything is allocated).

    >>> ds = generate_dataset(4, seed=0)
    >>> ds.images.shape, ds.factors.dtype, len(ds)
    ((4, 36, 36, 3), dtype('float32'), 4)
    """
    spec = FlowSpec() if spec is None else spec
    if not isinstance(spec, FlowSpec):
        raise ValueError(f"spec must be a FlowSpec, got {type(spec).__name__}")
    n = _check.integer("n", n, low=1)
    seed = _check.seed("seed", seed)
    chunk_size = _check.integer("chunk_size", chunk_size, low=1)
    check_memory(f"n = {n:,} images of {spec.image_size}x{spec.image_size}",
                 dataset_bytes(n, spec.image_size))
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


def save_dataset(ds: FlowDataset, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write `ds` to `path` as an uncompressed `.npz`, atomically: a reader sees the old file or
    the whole new one, never part of it.

    Without `overwrite` the file appears only if no file is at `path` at that moment (a
    create-exclusive rename), so of two concurrent savers of one name exactly one succeeds.

    Raises:
        ValueError: naming `ds` if it is not a `FlowDataset`.
        FileExistsError: naming `path` when it exists and `overwrite` is False.
    """
    if not isinstance(ds, FlowDataset):
        raise ValueError(f"ds must be a FlowDataset, got {type(ds).__name__}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        # A file object, so numpy does not append ".npz" to the temporary name.
        with open(tmp, "wb") as f:
            np.savez(f, images=ds.images, factors=ds.factors, meta=np.array(_meta(ds)))


@dataclasses.dataclass(frozen=True)
class DatasetHeader:
    """A dataset file as its headers describe it: everything but the images and factors.

    Attributes:
        path: the file.
        file_bytes: its size on disk.
        n_images: N.
        spec, seed: from the meta JSON (validated: a `FlowSpec`, a seed or None).
        arrays: ``{"images": ArrayHeader, "factors": ArrayHeader, "meta": ArrayHeader}``.
    """

    path: str
    file_bytes: int
    n_images: int
    spec: FlowSpec
    seed: int | None
    arrays: dict[str, ArrayHeader]

    @property
    def nbytes(self) -> int:
        """Bytes the images and factors take once loaded."""
        return self.arrays["images"].nbytes + self.arrays["factors"].nbytes


_KEYS = ("images", "factors", "meta")
# zipfile raises NotImplementedError for an unknown compression method and RuntimeError for an
# encrypted member: damaged or foreign files like any other.
_FILE_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError)


def read_header(path: str | os.PathLike, *, max_bytes: int | None = None) -> DatasetHeader:
    """Check a dataset file from its `.npy` headers and its meta JSON, without reading images.

    This is the check every reader shares: `load_dataset` refuses exactly the files this
    refuses, plus files whose data turn out damaged (a CRC error, non-finite factors), which
    `check_dataset` finds too by reading the data through.

    Refused before anything is allocated: a member that would inflate more than
    `vaeflow.npz.MAX_INFLATION` times its stored size, an array that declares more bytes than the
    archive holds for it, and arrays totalling more than `max_bytes` (default
    `max_dataset_bytes()`, i.e. ``$VAEFLOW_MAX_DATASET_BYTES``).

    Raises:
        FileNotFoundError: if `path` does not exist.
        DatasetFileError (a ValueError): naming `path`, for a file `load_dataset` would refuse.
    """
    with _checked_archive(os.fspath(path), max_bytes) as (_, header):
        return header


@contextlib.contextmanager
def _checked_archive(path: str, max_bytes: int | None) -> Iterator[tuple[zipfile.ZipFile, DatasetHeader]]:
    """The open archive at `path` with its header, once `_read_header` has accepted it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no dataset file at {path}")
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as err:
        raise DatasetFileError(f"{path} is truncated, corrupted or not an .npz: {_what_it_is(path, err)}") from None
    with archive:
        yield archive, _read_header(archive, path, max_dataset_bytes() if max_bytes is None else max_bytes)


def _what_it_is(path: str, err: Exception) -> str:
    with contextlib.suppress(OSError), open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            return "a single .npy array, not a vaeflow dataset (.npz)"
    return str(err) or type(err).__name__


def _read_header(archive: zipfile.ZipFile, path: str, max_bytes: int) -> DatasetHeader:
    names = set(archive.namelist())
    missing = [key for key in _KEYS if f"{key}.npy" not in names]
    if missing:
        raise DatasetFileError(f"{path} is not a vaeflow dataset: missing key(s) {missing}")
    try:
        arrays = {key: _array_header(archive, key, path) for key in _KEYS}
    except DatasetFileError:
        raise
    except _FILE_ERRORS as err:
        raise DatasetFileError(f"{path} is truncated, corrupted or not an .npz: {err}") from None

    meta_header = arrays["meta"]
    if meta_header.shape != () or meta_header.dtype.kind != "U":
        raise DatasetFileError(f"{path}: meta must be a 0-d unicode array, got {meta_header.dtype} {meta_header.shape}")
    if meta_header.nbytes > MAX_META_BYTES:
        raise DatasetFileError(f"{path}: meta holds {gigabytes(meta_header.nbytes)}, over {gigabytes(MAX_META_BYTES)}")
    spec, seed = _parse_meta(_read_member(archive, "meta", path), path)

    images, factors = arrays["images"], arrays["factors"]
    size = spec.image_size
    if images.dtype != np.uint8 or len(images.shape) != 4 or images.shape[1:] != (size, size, 3):
        raise DatasetFileError(f"{path}: images must be uint8 of shape (N, {size}, {size}, 3), "
                               f"got {images.dtype} {images.shape}")
    if factors.dtype != np.float32 or factors.shape != (images.shape[0], 2):
        raise DatasetFileError(f"{path}: factors must be float32 of shape ({images.shape[0]}, 2), "
                               f"got {factors.dtype} {factors.shape}")
    total = images.nbytes + factors.nbytes
    if total > max_bytes:
        raise DatasetFileError(f"{path}: its {images.shape[0]:,} images would take {gigabytes(total)} "
                               f"in memory, over the limit of {gigabytes(max_bytes)} "
                               f"(set {MAX_BYTES_ENV} to change it)")
    return DatasetHeader(path, os.path.getsize(path), images.shape[0], spec, seed, arrays)


def _array_header(archive: zipfile.ZipFile, key: str, path: str) -> ArrayHeader:
    return array_header(archive, f"{key}.npy", f"{path}: {key}", DatasetFileError)


def _read_member(archive: zipfile.ZipFile, key: str, path: str) -> np.ndarray:
    """The array of a member whose header `_read_header` has checked (bounded allocation)."""
    try:
        with archive.open(f"{key}.npy") as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except MemoryError:
        raise DatasetFileError(f"{path}: not enough memory to load {key}") from None
    except _FILE_ERRORS as err:
        raise DatasetFileError(f"{path} is truncated or corrupted ({key}): {err}") from None


def _parse_meta(meta_arr: np.ndarray, path: str) -> tuple[FlowSpec, int | None]:
    try:
        meta = json.loads(str(meta_arr))
    except ValueError as err:  # JSONDecodeError, or an integer past Python's digit limit
        raise DatasetFileError(f"{path}: meta is not valid JSON: {err}") from None
    except RecursionError:
        raise DatasetFileError(f"{path}: meta is nested too deeply to be a vaeflow dataset") from None
    check_format(meta, FORMAT, VERSION, f"{path} meta", DatasetFileError)
    try:
        spec = FlowSpec.from_dict(meta.get("spec"))
        seed = meta.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"meta.seed must be an integer or null, got {seed!r}")
        return spec, _check.optional_seed("meta.seed", seed)
    except (TypeError, ValueError, RecursionError) as err:
        raise DatasetFileError(f"{path}: {err}") from None


def load_dataset(path: str | os.PathLike, *, max_bytes: int | None = None) -> FlowDataset:
    """Read a dataset written by `save_dataset`, checking everything before trusting it.

    The file is first checked by `read_header` (nothing is allocated for a file it refuses,
    and at most `max_bytes` for one it accepts), then its arrays are read and checked.

    Raises:
        FileNotFoundError: if `path` does not exist.
        DatasetFileError (a ValueError): for a truncated, corrupted or foreign file, an unknown
            format or version, arrays of the wrong shape, dtype or length, or arrays over the
            size limits of `read_header`. Never MemoryError or RecursionError.
    """
    path = os.fspath(path)
    with _checked_archive(path, max_bytes) as (archive, header):
        images, factors = _read_data(archive, path, keep_images=True)
    try:
        return FlowDataset(images, factors, header.spec, header.seed)
    except (TypeError, ValueError) as err:
        raise DatasetFileError(f"{path}: {err}") from None


def check_dataset(path: str | os.PathLike, *, max_bytes: int | None = None) -> DatasetHeader:
    """Check a dataset file as fully as `load_dataset` does, without keeping its images.

    `read_header`'s checks first (bounded: nothing is read from a file it refuses), then the
    data as `load_dataset` reads it: every byte of the images through the archive's CRC check,
    1 MiB at a time, and the factors checked finite. So a file passes here exactly when
    `load_dataset` would load it; the app's dataset list uses it (once per file version).

    Raises:
        FileNotFoundError, DatasetFileError: as `load_dataset`.
    """
    path = os.fspath(path)
    with _checked_archive(path, max_bytes) as (archive, header):
        _read_data(archive, path, keep_images=False)
    return header


def _read_data(archive: zipfile.ZipFile, path: str, *, keep_images: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """The images (None unless `keep_images`: then only read through, for the CRC check) and
    the factors of an archive `_read_header` has accepted; damage in either is refused."""
    if keep_images:
        images = _read_member(archive, "images", path)
    else:
        images = None
        try:
            with archive.open("images.npy") as member:
                while member.read(2**20):  # the CRC is checked when the end is reached
                    pass
        except _FILE_ERRORS as err:
            raise DatasetFileError(f"{path} is truncated or corrupted (images): {err}") from None
    factors = _read_member(archive, "factors", path)
    bad = int(np.count_nonzero(~np.isfinite(factors)))
    if bad:
        raise DatasetFileError(f"{path}: factors must be finite, but {bad:,} value(s) are NaN or infinite")
    return images, factors


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    """(n_train, n_val) of `split_dataset`: n_val = round(n · val_fraction), at least 1 and
    at most n − 1. The one rule every count of training and validation images uses.

    >>> split_sizes(10, 0.2)
    (8, 2)
    """
    n = _check.integer("n", n, low=2)
    val_fraction = _check.real("val_fraction", val_fraction)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n_val = min(max(int(round(n * val_fraction)), 1), n - 1)
    return n - n_val, n_val


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
    seed = _check.seed("seed", seed)
    n = len(ds)
    if n < 2:
        raise ValueError(f"ds must hold at least 2 images to split, got {n}")
    _, n_val = split_sizes(n, val_fraction)
    order = np.random.default_rng(seed).permutation(n)
    return ds.subset(np.sort(order[n_val:])), ds.subset(np.sort(order[:n_val]))


def make_tf_dataset(images, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                    drop_remainder: bool = False, skip_batches: int = 0):
    """A `tf.data.Dataset` of float32 image batches in [0, 1]: (shuffle) → batch → skip → scale
    → prefetch. The trainer feeds every step and validation through it.

    Arguments:
        images: uint8 (N, H, W, 3).
        batch_size: images per batch (≥ 1); the last batch may be smaller.
        shuffle: reshuffle every epoch, seeded by `seed`.
        seed: shuffle seed.
        drop_remainder: leave out a last batch smaller than `batch_size`.
        skip_batches: start after this many batches (≥ 0), without scaling them.

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
    batch_size = _check.integer("batch_size", batch_size, low=1)
    seed = _check.seed("seed", seed)
    data = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        data = data.shuffle(images.shape[0], seed=seed, reshuffle_each_iteration=True)
    skip_batches = _check.integer("skip_batches", skip_batches, low=0)
    data = data.batch(batch_size, drop_remainder=drop_remainder).skip(skip_batches)
    data = data.map(lambda x: tf.cast(x, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
