"""Archive-level oddities that `read_header` and `load_dataset` must refuse alike, as one
`DatasetFileError` naming the file: never another exception type the dataset list cannot catch."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from vaeflow.datasets import DatasetFileError, load_dataset, read_header
from vaeflow.flows.spec import FlowSpec


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _forged_npy(shape, dtype) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": tuple(shape)})
    return buffer.getvalue()


def _meta_text(seed_literal: str = "0") -> str:
    meta = {"format": "vaeflow.dataset", "version": 1, "seed": 0, "spec": FlowSpec().to_dict()}
    return json.dumps(meta).replace('"seed": 0', f'"seed": {seed_literal}')


def _archive(path, images=None, factors=None, meta=None):
    members = {"images": images or _npy(np.zeros((2, 36, 36, 3), np.uint8)),
               "factors": factors or _npy(np.zeros((2, 2), np.float32)),
               "meta": meta or _npy(np.array(_meta_text()))}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)
    return path


def _patch_all_headers(path, local_offset: int, central_offset: int, patch) -> None:
    """Apply `patch(bytearray, index)` at a field of every local and central zip header."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        index = data.find(signature)
        while index >= 0:
            patch(data, index + offset)
            index = data.find(signature, index + 4)
    path.write_bytes(bytes(data))


def _unknown_compression(path):
    _patch_all_headers(path, 8, 10, lambda data, i: data.__setitem__(slice(i, i + 2), (99).to_bytes(2, "little")))


def _encrypted(path):
    def set_flag(data, i):
        data[i] |= 1
    _patch_all_headers(path, 6, 8, set_flag)


def _negative_count(path):
    _archive(path, images=_forged_npy((-1, 36, 36, 3), np.uint8), factors=_forged_npy((-1, 2), np.float32))


def _huge_integer_seed(path):
    _archive(path, meta=_npy(np.array(_meta_text("9" * 5000))))


@pytest.mark.parametrize("damage", [_unknown_compression, _encrypted, _negative_count, _huge_integer_seed])
def test_both_readers_refuse_with_one_dataset_file_error(tmp_path, damage):
    path = tmp_path / "odd.npz"
    _archive(path)
    damage(path)
    for reader in (read_header, load_dataset):
        with pytest.raises(DatasetFileError, match="odd.npz"):
            reader(path)
