"""Bounded loading: `read_header` checks a file from its headers, every reader refuses zip bombs,
forged shapes and files over the size limit before allocating, and saving never clobbers.

The hostile files are built here, in the test's temporary folder; none is committed.
"""

from __future__ import annotations

import io
import json
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

from vaeflow import validate
from vaeflow.datasets import (MAX_BYTES_ENV, DatasetFileError, FlowDataset, generate_dataset, load_dataset,
                              max_dataset_bytes, read_header, save_dataset, split_dataset, split_sizes)
from vaeflow.flows.spec import FlowSpec


def _meta(**changes) -> str:
    meta = {"format": "vaeflow.dataset", "version": 1, "seed": 0, "spec": FlowSpec().to_dict()}
    meta.update(changes)
    return json.dumps(meta)


def _blank(n: int, seed: int | None = 0) -> FlowDataset:
    return FlowDataset(np.zeros((n, 36, 36, 3), np.uint8), np.zeros((n, 2), np.float32), FlowSpec(), seed)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _forged_npy(shape, dtype, data: bytes = b"") -> bytes:
    """A .npy whose header declares `shape` but which holds only `data`."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": tuple(shape)})
    return buffer.getvalue() + data


def _archive(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)
    return path


def _members(n=3, **changes) -> dict[str, bytes]:
    members = {"images": _npy(np.zeros((n, 36, 36, 3), np.uint8)),
               "factors": _npy(np.zeros((n, 2), np.float32)), "meta": _npy(np.array(_meta()))}
    members.update(changes)
    return members


# ------------------------------------------------------------------------------- size limits


def test_a_zip_bomb_is_refused_from_its_header(tmp_path):
    # 3,000 blank images: 11.7 MB that deflate to ~12 kB (a ~1000x ratio, like the 3.1 MB
    # upload that inflated to 3.2 GB). Today's loader accepted it as a dataset.
    bomb = _archive(tmp_path / "bomb.npz", _members(3000), zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 100_000
    for read in (read_header, load_dataset):
        with pytest.raises(DatasetFileError, match=r"bomb\.npz.*images inflates .*zip bomb"):
            read(bomb)


def test_compressed_real_images_still_load(tmp_path):
    ds = generate_dataset(64, seed=1)
    path = tmp_path / "compressed.npz"
    with open(path, "wb") as f:
        np.savez_compressed(f, images=ds.images, factors=ds.factors, meta=np.array(_meta(seed=1)))
    assert load_dataset(path).images.tobytes() == ds.images.tobytes()


@pytest.mark.parametrize("key, shape, dtype", [
    ("images", (2**40 // 3888, 36, 36, 3), np.uint8),    # 1 TB of images
    ("factors", (3, 2**38), np.float32),
])
def test_a_header_declaring_a_huge_array_is_a_clear_error_not_memory_error(tmp_path, key, shape, dtype):
    path = _archive(tmp_path / "huge.npz", _members(**{key: _forged_npy(shape, dtype, b"\0" * 64)}))
    for read in (read_header, load_dataset):
        with pytest.raises(DatasetFileError, match=rf"huge\.npz: {key} declares .* but the archive holds"):
            read(path)


def test_a_truncated_array_is_refused_before_it_is_allocated(tmp_path):
    data = _npy(np.zeros((3, 36, 36, 3), np.uint8))
    path = _archive(tmp_path / "short.npz", _members(images=data[:-100]))
    with pytest.raises(DatasetFileError, match="short.npz: images declares"):
        read_header(path)


def test_the_size_limit_comes_from_the_environment_or_the_argument(tmp_path, monkeypatch):
    path = tmp_path / "ten.npz"
    save_dataset(_blank(10), path)
    need = 10 * (36 * 36 * 3 + 8)
    assert read_header(path).nbytes == need
    with pytest.raises(DatasetFileError, match=rf"ten\.npz: .*over the limit .*{MAX_BYTES_ENV}"):
        load_dataset(path, max_bytes=need - 1)
    monkeypatch.setenv(MAX_BYTES_ENV, str(need - 1))
    assert max_dataset_bytes() == need - 1
    with pytest.raises(DatasetFileError, match="over the limit"):
        load_dataset(path)
    with pytest.raises(ValueError, match="over the limit"):  # generating is held to it too
        generate_dataset(10, seed=0)
    monkeypatch.setenv(MAX_BYTES_ENV, f"{need:.1e}")  # "3.9e+04" style works
    assert len(load_dataset(path)) == 10
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(ValueError, match=MAX_BYTES_ENV):
        max_dataset_bytes()


def test_generate_refuses_an_absurd_n_with_the_estimate_before_allocating():
    with pytest.raises(ValueError, match=r"5,000,000 images .* would hold 19.5 GB in memory"):
        generate_dataset(5_000_000, seed=0)


def test_read_header_does_not_read_the_images(tmp_path):
    path = tmp_path / "big.npz"
    save_dataset(_blank(3000, seed=7), path)  # 11.7 MB of images
    tracemalloc.start()
    try:
        header = read_header(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (header.n_images, header.seed, header.spec) == (3000, 7, FlowSpec())
    assert peak < 1_000_000


# ------------------------------------------------------------------------- the error contract


_DEEP = "[" * 200_000 + "]" * 200_000


@pytest.mark.parametrize("meta", [_DEEP, _meta(spec="SPEC").replace('"SPEC"', _DEEP)])
def test_deeply_nested_meta_is_a_dataset_file_error_not_recursion_error(tmp_path, meta):
    path = _archive(tmp_path / "deep.npz", _members(meta=_npy(np.array(meta))))
    for read in (read_header, load_dataset):
        with pytest.raises(DatasetFileError, match="deep.npz"):
            read(path)


def test_an_oversized_meta_is_refused(tmp_path):
    path = _archive(tmp_path / "fat.npz", _members(meta=_npy(np.array(_meta(note="x" * 2_000_000)))))
    with pytest.raises(DatasetFileError, match="fat.npz: meta holds"):
        read_header(path)


# ----------------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [2**64, 2**63, -1, 1.5, True, "3"])
def test_out_of_range_seeds_are_refused_where_they_enter(tmp_path, seed):
    path = _archive(tmp_path / "seed.npz", _members(meta=_npy(np.array(_meta(seed=seed)))))
    with pytest.raises(DatasetFileError, match="seed.npz: meta.seed"):
        read_header(path)
    with pytest.raises(ValueError, match="seed"):
        FlowDataset(np.zeros((1, 36, 36, 3), np.uint8), np.zeros((1, 2), np.float32), FlowSpec(), seed)
    with pytest.raises(ValueError, match="seed"):
        generate_dataset(2, seed)


def test_the_largest_seed_is_accepted():
    assert generate_dataset(1, validate.MAX_SEED).seed == 2**63 - 1


# ------------------------------------------------------------------------------ saving


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "d.npz"
    save_dataset(_blank(2, seed=1), path)
    with pytest.raises(FileExistsError, match="d.npz"):
        save_dataset(_blank(3, seed=2), path)
    assert load_dataset(path).seed == 1
    save_dataset(_blank(3, seed=2), path, overwrite=True)
    assert load_dataset(path).seed == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


def test_a_save_that_lost_the_race_does_not_clobber_the_winner(tmp_path, monkeypatch):
    # The other saver publishes while this one is writing its temporary file: the existence
    # check has passed, and only the create-exclusive rename can still refuse.
    path = tmp_path / "race.npz"
    real_savez = np.savez

    def savez_while_another_saves(f, **arrays):
        monkeypatch.setattr(np, "savez", real_savez)
        save_dataset(_blank(2, seed=11), path)
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", savez_while_another_saves)
    with pytest.raises(FileExistsError):
        save_dataset(_blank(5, seed=22), path)
    assert load_dataset(path).seed == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.npz"]


def test_concurrent_savers_of_one_name_exactly_one_wins(tmp_path):
    path = tmp_path / "both.npz"
    outcomes = []

    def save(seed):
        try:
            save_dataset(_blank(200, seed=seed), path)
            outcomes.append(seed)
        except FileExistsError:
            outcomes.append(None)

    threads = [threading.Thread(target=save, args=(s,)) for s in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [s for s in outcomes if s is not None]
    assert len(winners) == 1 and load_dataset(path).seed == winners[0]


# ------------------------------------------------------------------------------ split sizes


@pytest.mark.parametrize("n, fraction", [(2, 0.5), (10, 0.2), (37, 0.2), (20000, 0.1), (7, 0.99), (7, 0.01)])
def test_split_sizes_are_the_sizes_split_dataset_makes(n, fraction):
    train, val = split_dataset(_blank(n), fraction, seed=0)
    assert split_sizes(n, fraction) == (len(train), len(val))
