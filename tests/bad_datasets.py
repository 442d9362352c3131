"""Damaged dataset files, one writer per kind: BAD_FILES[kind](path, good_path)."""

import io
import json
import struct
import zipfile

import numpy as np

from vaeflow import FlowSpec


def _write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _meta(**changes):
    meta = {"format": "vaeflow.dataset", "version": 1, "seed": 0, "spec": FlowSpec().to_dict()}
    meta.update(changes)
    return np.array(json.dumps(meta))


def _good_arrays(n=3):
    return dict(images=np.zeros((n, 36, 36, 3), np.uint8), factors=np.zeros((n, 2), np.float32), meta=_meta())


BAD_FILES = {
    "truncated": lambda p, good: p.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2]),
    "corrupted": lambda p, good: p.write_bytes(_flip_middle(good.read_bytes())),
    "text": lambda p, good: p.write_text("images,factors\n1,2\n"),
    "empty": lambda p, good: p.write_bytes(b""),
    "npy": lambda p, good: np.save(open(p, "wb"), np.zeros(3)),
    "zip_without_arrays": lambda p, good: zipfile.ZipFile(p, "w").writestr("hello.txt", "hi"),
    "missing_meta": lambda p, good: _write_npz(p, images=np.zeros((1, 36, 36, 3), np.uint8), factors=np.zeros((1, 2), np.float32)),
    "pickled_meta": lambda p, good: _write_npz(p, **{**_good_arrays(), "meta": np.array([{"format": 1}], dtype=object)}),
    "meta_not_json": lambda p, good: _write_npz(p, **{**_good_arrays(), "meta": np.array("{not json")}),
    "foreign_format": lambda p, good: _write_npz(p, **{**_good_arrays(), "meta": _meta(format="someone.else")}),
    "future_version": lambda p, good: _write_npz(p, **{**_good_arrays(), "meta": _meta(version=2)}),
    "bad_spec": lambda p, good: _write_npz(p, **{**_good_arrays(), "meta": _meta(spec={"base_scale": -1})}),
    "images_float": lambda p, good: _write_npz(p, **{**_good_arrays(), "images": np.zeros((3, 36, 36, 3), np.float32)}),
    "images_wrong_size": lambda p, good: _write_npz(p, **{**_good_arrays(), "images": np.zeros((3, 28, 28, 3), np.uint8)}),
    "factors_short": lambda p, good: _write_npz(p, **{**_good_arrays(), "factors": np.zeros((2, 2), np.float32)}),
    "factors_float64": lambda p, good: _write_npz(p, **{**_good_arrays(), "factors": np.zeros((3, 2))}),
    "factors_nan": lambda p, good: _write_npz(p, **{**_good_arrays(), "factors": np.full((3, 2), np.nan, np.float32)}),
    "factors_inf": lambda p, good: _write_npz(p, **{**_good_arrays(), "factors": np.array([[0, 0], [np.inf, 1], [0, 0]], np.float32)}),
    "images_crc": lambda p, good: p.write_bytes(flip_inside_member(good.read_bytes(), "images.npy")),
    "images_deflated_flipped": lambda p, good: _deflated_flipped(p),
}

# The files whose damage shows only in the data, past every header (a CRC or inflate error in
# the images, non-finite factors): `read_header` accepts them, `load_dataset` does not.
CONTENT_DAMAGE = {"corrupted", "factors_nan", "factors_inf", "images_crc", "images_deflated_flipped"}


def flip_inside_member(data: bytes, member: str, count: int = 16) -> bytes:
    """`data` (a zip archive) with `count` bytes in the middle of `member`'s stored data
    inverted; every header stays intact."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    local = info.header_offset
    name_length, extra_length = struct.unpack("<HH", data[local + 26 : local + 30])
    start = local + 30 + name_length + extra_length + info.compress_size // 2
    assert info.compress_size > 2 * count, "the member is too small to flip inside"
    return data[:start] + bytes(b ^ 0xFF for b in data[start : start + count]) + data[start + count :]


def _deflated_flipped(path):
    # Compressed images of real flows (the content a zip CRC or inflate error must catch).
    from vaeflow import generate_dataset

    ds = generate_dataset(16, seed=0)
    with open(path, "wb") as f:
        np.savez_compressed(f, images=ds.images, factors=ds.factors, meta=_meta())
    path.write_bytes(flip_inside_member(path.read_bytes(), "images.npy"))


def _flip_middle(data: bytes) -> bytes:
    # Flip bytes inside the stored images array: the zip's CRC check must catch it.
    mid = len(data) // 3
    return data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 64]) + data[mid + 64 :]
