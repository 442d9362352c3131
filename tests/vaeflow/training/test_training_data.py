"""vaeflow.training.data: which images of a dataset file a run validates on, and in what order
it trains on the rest."""

import numpy as np
import pytest

from vaeflow.datasets import FlowDataset, save_dataset
from vaeflow.flows.spec import FlowSpec
from vaeflow.training.config import TrainConfig
from vaeflow.training.data import FileSource

N = 60


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    # Image i is filled with the value i, so a set of images names its rows without rendering.
    images = np.broadcast_to(np.arange(N, dtype=np.uint8)[:, None, None, None], (N, 36, 36, 3))
    factors = np.stack([np.arange(N), np.zeros(N)], axis=1).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "rows.npz"
    save_dataset(FlowDataset(np.ascontiguousarray(images), factors, FlowSpec(), seed=0), path)
    return str(path)


def _rows(images: np.ndarray) -> set[int]:
    return {int(image[0, 0, 0]) for image in images}


def _val_rows(data_file, **fields) -> set[int]:
    return _rows(FileSource(TrainConfig(data=data_file, val_fraction=0.2, **fields), 36).val_images)


def test_the_split_seed_picks_the_validation_images(data_file):
    assert len(_val_rows(data_file, split_seed=1)) == 12
    assert _val_rows(data_file, split_seed=1) != _val_rows(data_file, split_seed=2)
    # the same split seed holds out the same images whatever the training seed
    assert _val_rows(data_file, seed=5, split_seed=1) == _val_rows(data_file, seed=9, split_seed=1)


def test_without_a_split_seed_the_run_seed_splits(data_file):
    assert _val_rows(data_file, seed=3) == _val_rows(data_file, seed=0, split_seed=3)
    assert _val_rows(data_file, seed=3) != _val_rows(data_file, seed=4)


def test_train_and_validation_are_disjoint_and_cover_the_file(data_file):
    source = FileSource(TrainConfig(data=data_file, val_fraction=0.2, split_seed=7), 36)
    train, val = _rows(source.train_images), _rows(source.val_images)
    assert not train & val and train | val == set(range(N))
    # the split seed does not change the epoch shuffles, which follow the run seed
    other = FileSource(TrainConfig(data=data_file, val_fraction=0.2, split_seed=7, seed=1), 36)
    assert np.array_equal(source.train_images, other.train_images)
    assert not np.array_equal(source.epoch_images(0), other.epoch_images(0))
