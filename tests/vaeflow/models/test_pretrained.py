"""The shipped pretrained default: size, interface, and that its metrics hold up."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vaeflow.metrics import factor_r2, load_feature_net, negative_elbo, posterior_means
from vaeflow.models import PRETRAINED_DIR, VAE, load_model

METRICS = PRETRAINED_DIR / "metrics.json"


@pytest.fixture(scope="module")
def model() -> VAE:
    return load_model()


@pytest.fixture(scope="module")
def held_out():
    """2,000 fresh images of the default distribution, from a seed the recipe never trains on."""
    from vaeflow.datasets import generate_dataset

    return generate_dataset(2000, seed=987_654)


def test_pretrained_files_are_small_and_complete() -> None:
    for name in ("config.json", "weights.npz", "metrics.json", "RECIPE.md"):
        assert (PRETRAINED_DIR / name).is_file(), name
    size = sum(p.stat().st_size for p in PRETRAINED_DIR.rglob("*") if p.is_file())
    assert size <= 10 * 2**20, f"pretrained/ is {size / 2**20:.1f} MB"


def test_load_model_without_a_path_gives_the_bernoulli_default() -> None:
    model = load_model()
    assert model.config.preset == "default" and model.config.likelihood == "bernoulli"
    assert model.config.latent_dim == 2 and model.config.image_size == 36


def test_interface_the_app_relies_on(model: VAE, held_out) -> None:
    x = held_out.images[:8].astype(np.float32) / 255
    q = model.encode(x)
    assert tuple(q.batch_shape) == (8,) and tuple(q.event_shape) == (2,)
    mean = model.decode(q.mean()).numpy()
    assert mean.shape == (8, 36, 36, 3) and 0.0 <= mean.min() and mean.max() <= 1.0


def test_shipped_metrics_reproduce_on_fresh_images(model: VAE, held_out) -> None:
    shipped = json.loads(METRICS.read_text())
    for key in ("neg_elbo", "reconstruction", "kl", "neg_iwae", "r2_a", "r2_cos_theta",
                "r2_sin_theta", "fid", "fid_study_encoder", "command"):
        assert key in shipped, key
    fresh = negative_elbo(model, held_out.images, seed=0)
    # Other images than the shipped figure's: the standard error of the difference is ~0.35 nats.
    assert abs(fresh["neg_elbo"] - shipped["neg_elbo"]) < 1.5
    r2 = factor_r2(posterior_means(model, held_out.images.astype(np.float32) / 255), held_out.factors)
    # The kNN R² grows with the number of images; 2,000 here against 4,000 behind metrics.json.
    assert r2["r2_cos_theta"] > 0.99 and r2["r2_sin_theta"] > 0.99 and r2["r2_a"] > 0.85


def test_shipped_feature_network_predicts_factors(held_out) -> None:
    net = load_feature_net()
    predicted = net.predict(held_out.images)
    a, theta = held_out.factors[:, 0], held_out.factors[:, 1]
    targets = np.stack([a, np.cos(theta), np.sin(theta)], 1)
    residual = ((targets - predicted) ** 2).sum(0)
    r2 = 1 - residual / ((targets - targets.mean(0)) ** 2).sum(0)
    assert np.all(r2 > 0.99), r2
