"""Seeded datasets: determinism, the .npz round trip, every bad file, split and tf.data."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vaeflow.datasets import (
    DatasetFileError,
    check_dataset,
    FlowDataset,
    generate_dataset,
    load_dataset,
    make_tf_dataset,
    sample_factors,
    save_dataset,
    split_dataset,
)
from vaeflow.flows.spec import FlowSpec
from vaeflow.rendering import render_images

from bad_datasets import BAD_FILES


@pytest.fixture(scope="module")
def small() -> FlowDataset:
    return generate_dataset(37, seed=4)


def test_same_seed_same_bytes_whatever_the_chunking(small):
    for chunk_size in (1, 5, 16, 1000):
        other = generate_dataset(37, seed=4, chunk_size=chunk_size)
        assert other.images.tobytes() == small.images.tobytes()
        assert other.factors.tobytes() == small.factors.tobytes()
    assert generate_dataset(37, seed=5).factors.tobytes() != small.factors.tobytes()


def test_factors_are_the_images_ground_truth(small):
    np.testing.assert_array_equal(render_images(small.a[:3], small.theta[:3]), small.images[:3])
    assert small.factors.dtype == np.float32 and small.factors.shape == (37, 2)


def test_factors_follow_the_spec_and_a_prefix_does_not_depend_on_n():
    spec = FlowSpec(a_mean=-1.0, a_std=0.5, theta_min=1.0, theta_max=2.0)
    f = sample_factors(20000, seed=0, spec=spec)
    assert abs(f[:, 0].mean() + 1.0) < 0.02 and abs(f[:, 0].std() - 0.5) < 0.02
    assert f[:, 1].min() >= 1.0 and f[:, 1].max() <= 2.0 and abs(f[:, 1].mean() - 1.5) < 0.02
    np.testing.assert_array_equal(sample_factors(10, seed=0, spec=spec), f[:10])


def test_progress_is_reported_per_chunk():
    calls = []
    generate_dataset(10, seed=0, chunk_size=4, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(4, 10), (8, 10), (10, 10)]


def test_save_load_round_trip(small, tmp_path):
    path = tmp_path / "sub" / "flow.npz"
    save_dataset(small, path)
    back = load_dataset(path)
    assert back.images.tobytes() == small.images.tobytes()
    assert back.factors.tobytes() == small.factors.tobytes()
    assert back.spec == small.spec and back.seed == 4
    assert sorted(os.listdir(path.parent)) == ["flow.npz"]  # no temporary left behind
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["format"] == "vaeflow.dataset" and meta["version"] == 1 and meta["spec"] == small.spec.to_dict()


def test_a_failed_save_leaves_nothing_at_the_path(small, tmp_path, monkeypatch):
    path = tmp_path / "flow.npz"

    def broken_savez(f, **arrays):
        f.write(b"PK partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError):
        save_dataset(small, path)
    assert os.listdir(tmp_path) == []




@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_are_clear_value_errors(kind, small, tmp_path):
    good = tmp_path / "good.npz"
    save_dataset(small, good)
    bad = tmp_path / "bad.npz"
    BAD_FILES[kind](bad, good)
    with pytest.raises(DatasetFileError, match="bad.npz") as info:
        load_dataset(bad)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)
    with pytest.raises(DatasetFileError) as checked:  # the app's list: the same verdict
        check_dataset(bad)
    assert str(checked.value) == str(info.value)
    assert check_dataset(good).n_images == len(small)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nope.npz")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(n=0, seed=0), "n"),
        (dict(n=-5, seed=0), "n"),
        (dict(n=2.5, seed=0), "n"),
        (dict(n=True, seed=0), "n"),
        (dict(n=3, seed=-1), "seed"),
        (dict(n=3, seed=0, chunk_size=0), "chunk_size"),
        (dict(n=3, seed=0, spec={"a_mean": 3}), "spec"),
    ],
)
def test_bad_generate_arguments_name_the_argument(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field}\b"):
        generate_dataset(**kwargs)


@pytest.mark.parametrize(
    "images, factors, field",
    [
        (np.zeros((2, 36, 36, 3), np.float32), np.zeros((2, 2), np.float32), "images"),
        (np.zeros((2, 36, 36), np.uint8), np.zeros((2, 2), np.float32), "images"),
        (np.zeros((2, 36, 36, 3), np.uint8), np.zeros((3, 2), np.float32), "factors"),
        (np.zeros((2, 36, 36, 3), np.uint8), np.zeros((2, 2), np.float64), "factors"),
        (np.zeros((2, 36, 36, 3), np.uint8), [[0.0, 0.0], [0.0, 0.0]], "factors"),
    ],
)
def test_flow_dataset_rejects_wrong_arrays(images, factors, field):
    with pytest.raises(ValueError, match=f"FlowDataset.{field}"):
        FlowDataset(images, factors, FlowSpec(), 0)


def test_split_is_seeded_disjoint_and_complete(small):
    train, val = split_dataset(small, 0.2, seed=1)
    assert (len(train), len(val)) == (30, 7)
    rows = {f.tobytes() for f in small.factors}
    parts = [f.tobytes() for f in np.concatenate([train.factors, val.factors])]
    assert len(set(parts)) == len(parts) == len(rows) and set(parts) == rows
    again_train, _ = split_dataset(small, 0.2, seed=1)
    assert again_train.factors.tobytes() == train.factors.tobytes()
    other_train, _ = split_dataset(small, 0.2, seed=2)
    assert other_train.factors.tobytes() != train.factors.tobytes()


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan"), "0.2"])
def test_split_rejects_bad_fractions(small, fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        split_dataset(small, fraction)


def test_tf_dataset_batches_floats_in_unit_range(small):
    data = make_tf_dataset(small.images, 16, shuffle=True, seed=3)
    batches = [b.numpy() for b in data]
    assert [b.shape[0] for b in batches] == [16, 16, 5]
    assert all(b.dtype == np.float32 and b.min() >= 0 and b.max() <= 1 for b in batches)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(np.sort(everything.reshape(37, -1).sum(1)), np.sort(small.images.reshape(37, -1).sum(1) / 255.0), rtol=1e-5)
    unshuffled = np.concatenate([b.numpy() for b in make_tf_dataset(small.images, 16, shuffle=False)])
    np.testing.assert_allclose(unshuffled * 255.0, small.images, atol=1e-3)


@pytest.mark.parametrize(
    "images, batch_size, field",
    [
        (np.zeros((4, 36, 36, 3), np.float32), 2, "images"),
        (np.zeros((4, 36, 36), np.uint8), 2, "images"),
        (np.zeros((4, 36, 36, 3), np.uint8), 0, "batch_size"),
    ],
)
def test_tf_dataset_rejects_bad_input(images, batch_size, field):
    with pytest.raises(ValueError, match=field):
        make_tf_dataset(images, batch_size)
