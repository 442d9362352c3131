"""The PCA warm start: the scores are the data's principal components, the encoder's mean is
fitted to them before step 0, and a warm-started run is deterministic and resumes exactly."""

import numpy as np
import pytest

import vaeflow.training.warm_start as warm_start
from training_util import TINY, small_config, small_dataset, weights
from vaeflow.training import TrainConfig
from vaeflow.training.loop import train
from vaeflow.training.runs import RunDir
from vaeflow.training.trainer import Trainer
from vaeflow.models import VAE


def test_scores_recover_the_components_of_images_built_from_two_known_patterns():
    rng = np.random.default_rng(0)
    first, second = np.zeros((6, 6, 3)), np.zeros((6, 6, 3))
    first[:3], second[:, :3] = 1.0, 1.0  # orthogonal after centring over the other half
    first, second = first - first.mean(), second - second.mean()
    big, small = rng.uniform(-1, 1, 500), rng.uniform(-1, 1, 500)  # variance 30² vs 10²
    images = 128 + 30 * big[:, None, None, None] * first + 10 * small[:, None, None, None] * second
    scores = warm_start.pca_scores(np.round(images).astype(np.uint8), 2)
    assert scores.shape == (500, 2) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(scores.std(axis=0), 1, atol=1e-5)
    assert abs(np.corrcoef(scores[:, 0], big)[0, 1]) > 0.999  # the larger variance comes first
    assert abs(np.corrcoef(scores[:, 1], small)[0, 1]) > 0.99


def test_the_encoder_mean_is_fitted_to_the_scores_and_the_run_optimizer_is_untouched(tmp_path):
    from vaeflow.datasets import generate_dataset

    images = generate_dataset(512, seed=3).images
    trainer = Trainer(lambda: VAE(TINY), TrainConfig(batch_size=64, seed=0), steps_per_epoch=8)
    target = warm_start.pca_scores(images, 2)
    before = trainer.model.posterior_params(images.astype(np.float32) / 255)[0].numpy()
    error = warm_start.fit_encoder_to_pca(trainer, images, log=lambda _: None, steps=300)
    after = trainer.model.posterior_params(images.astype(np.float32) / 255)[0].numpy()
    residual = lambda means: np.mean(np.sum((means - target) ** 2, axis=1))  # noqa: E731
    assert residual(before) > 1.0 and residual(after) < 0.05 and error < 0.05
    assert trainer.step == 0  # the run's Adam, its step count and schedules start afterwards


def test_a_warm_started_run_is_deterministic_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(warm_start, "STEPS", 40)
    data = small_dataset(tmp_path / "data.npz")
    whole = train(small_config(data, encoder_init="pca"), TINY, RunDir(tmp_path, "whole"))
    again = train(small_config(data, encoder_init="pca"), TINY, RunDir(tmp_path, "again"))
    assert all(np.array_equal(a, b) for a, b in zip(weights(whole.model), weights(again.model)))
    run = RunDir(tmp_path, "split")
    train(small_config(data, encoder_init="pca", epochs=1), TINY, run)
    resumed = train(small_config(data, encoder_init="pca"), TINY, run, resume=True)
    assert all(np.array_equal(a, b) for a, b in zip(weights(whole.model), weights(resumed.model)))
    assert run.log_path.read_text().count("encoder warm start") == 1  # not again on resume
    random = train(small_config(data), TINY, RunDir(tmp_path, "random"))
    assert not all(np.array_equal(a, b) for a, b in zip(weights(whole.model), weights(random.model)))


@pytest.mark.parametrize("changes, message", [
    (dict(encoder_init="zeros"), "TrainConfig.encoder_init must be one of ('random', 'pca')"),
    (dict(encoder_init="pca", init_from="pretrained"), "encoder_init must be 'random' with init_from"),
])
def test_bad_encoder_inits_are_refused(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**changes)
