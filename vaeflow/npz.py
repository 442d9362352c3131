"""Bounded reading of `.npz` archives: what a member's `.npy` header declares, read before its
data, so a reader can refuse a forged or bombed member before allocating anything for it."""

from __future__ import annotations

import dataclasses
import math
import zipfile

import numpy as np

# A member may inflate to at most this many times its stored size (plus 1 MiB, so small, very
# regular arrays pass): `np.savez` stores arrays uncompressed (ratio 1) and
# `np.savez_compressed` of real flow images compresses ~3-6×; a zip bomb inflates ~1000×.
MAX_INFLATION = 50
INFLATION_SLACK = 2**20


@dataclasses.dataclass(frozen=True)
class ArrayHeader:
    """What a `.npy` member of an archive declares, read without its data.

    Attributes:
        shape, dtype: as declared by the member's `.npy` header.
        nbytes: bytes the array needs in memory (``prod(shape) · itemsize``).
        stored_bytes: bytes the member takes in the archive (compressed size).
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int
    stored_bytes: int


def gigabytes(nbytes: float) -> str:
    """``"3.22 GB"``: a byte count for a message."""
    return f"{nbytes / 1e9:.3g} GB" if nbytes >= 1e7 else f"{nbytes / 1e6:.3g} MB"


def array_header(archive: zipfile.ZipFile, member: str, source: str,
                 error: type[ValueError] = ValueError) -> ArrayHeader:
    """The header of the `.npy` member `member`, checked against what the archive stores.

    Refused, as `error` with a message starting with `source` (say ``"<file>: images"``): a
    member that would inflate more than `MAX_INFLATION` times its stored size, or claims to
    store more than the whole archive holds; a header that is not a `.npy` one, or of a
    version numpy does not write; Python
    objects (pickles); a negative length; an array that declares more bytes than the member
    holds after its header.

    Raises:
        `error` as above; OSError, zipfile.BadZipFile, zlib.error, EOFError or ValueError
        when the archive cannot be read at all (the caller names the file).
    """
    info = archive.getinfo(member)
    # Every member's data lies before the central directory (at `start_dir`).
    if info.header_offset + info.compress_size > archive.start_dir:
        raise error(f"{source} claims {gigabytes(info.compress_size)} stored, more than the "
                    f"archive holds: truncated or forged")
    if info.file_size > MAX_INFLATION * info.compress_size + INFLATION_SLACK:
        raise error(
            f"{source} inflates from {gigabytes(info.compress_size)} to {gigabytes(info.file_size)} "
            f"(over {MAX_INFLATION}x): refused as a possible zip bomb")
    with archive.open(info) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise error(f"{source} is a .npy of unsupported version {version}")
        except error:
            raise
        except ValueError as err:  # numpy's words for a header that is not a .npy one
            raise error(f"{source} is not a .npy array: {err}") from None
        data_bytes = info.file_size - stream.tell()
    if dtype.hasobject:
        raise error(f"{source} holds Python objects (pickles are never loaded)")
    if any(length < 0 for length in shape):
        raise error(f"{source} declares a negative length in its shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a forged shape cannot overflow
    if nbytes > data_bytes:
        raise error(f"{source} declares {shape} {dtype} ({gigabytes(nbytes)}) but the "
                    f"archive holds {gigabytes(max(data_bytes, 0))} for it")
    return ArrayHeader(tuple(shape), dtype, nbytes, info.compress_size)
