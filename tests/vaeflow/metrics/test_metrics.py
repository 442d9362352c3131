"""Metrics: FID algebra, the kNN R² protocol, the likelihood bounds and `evaluate` end to end."""

from __future__ import annotations

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaeflow.metrics import (
    FeatureNet,
    evaluate,
    factor_r2,
    frechet_distance,
    knn_predict,
    load_feature_net,
    negative_elbo,
    negative_iwae,
    r2_score,
    save_feature_net,
)
from vaeflow.models import VAE, ModelConfig


def _blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images of a blob at radius ~a/6 and angle θ, with their factors [a, θ]."""
    rng = np.random.default_rng(seed)
    a, theta = rng.uniform(2, 4, n), rng.uniform(0, 2 * np.pi, n)
    grid = np.linspace(-1, 1, 36)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    cx, cy = (a / 6 * np.cos(theta))[:, None, None], (a / 6 * np.sin(theta))[:, None, None]
    blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05)
    images = np.stack([blob, blob**2, 0.3 * blob], -1)
    return (images * 255).round().astype(np.uint8), np.stack([a, theta], 1).astype(np.float32)


# --- FID -----------------------------------------------------------------------------------


def test_fid_of_a_set_with_itself_is_zero_and_it_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 4)), rng.normal(1.0, 2.0, size=(400, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-8)
    assert frechet_distance(a, b) > 1.0


def test_fid_matches_the_closed_form_in_two_dimensions() -> None:
    # For 2×2 matrices, tr √M = √(tr M + 2 √det M) when M = Σ₁Σ₂ has nonnegative eigenvalues.
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 2)) @ np.array([[1.0, 0.3], [0.0, 0.5]])
    b = rng.normal(size=(200, 2)) @ np.array([[0.7, -0.2], [0.4, 1.2]]) + [0.5, -1.0]
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    m = ca @ cb
    trace_sqrt = np.sqrt(np.trace(m) + 2 * np.sqrt(np.linalg.det(m)))
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * trace_sqrt
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_fid_rejects_mismatched_features() -> None:
    with pytest.raises(ValueError, match="features"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 2)), np.zeros((5, 2)))


# --- kNN R² ----------------------------------------------------------------------------------


def test_knn_predict_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    train_x, train_y, query = rng.normal(size=(50, 2)), rng.normal(size=(50, 3)), rng.normal(size=(7, 2))
    expected = [
        train_y[np.argsort(((train_x - q) ** 2).sum(1), kind="stable")[:5]].mean(0) for q in query
    ]
    np.testing.assert_allclose(knn_predict(train_x, train_y, query, k=5, chunk=3), expected)


def test_r2_is_one_for_perfect_and_zero_for_the_mean() -> None:
    y = np.random.default_rng(3).normal(size=(100, 2))
    np.testing.assert_allclose(r2_score(y, y), [1.0, 1.0])
    np.testing.assert_allclose(r2_score(y, np.broadcast_to(y.mean(0), y.shape)), [0.0, 0.0], atol=1e-12)


def test_factor_r2_is_high_for_an_informative_latent_and_low_for_noise() -> None:
    rng = np.random.default_rng(4)
    a, theta = rng.normal(3, 1, 2000), rng.uniform(0, 2 * np.pi, 2000)
    factors = np.stack([a, theta], 1)
    radius = np.exp(a / 3)  # the β = 1 latent is an annulus: radius follows a, angle follows θ
    annulus = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1)
    good = factor_r2(annulus, factors)
    assert set(good) == {"r2_a", "r2_cos_theta", "r2_sin_theta"}
    assert good["r2_a"] > 0.95 and good["r2_cos_theta"] > 0.995 and good["r2_sin_theta"] > 0.995
    noise = factor_r2(rng.normal(size=(2000, 2)), factors)
    assert all(v < 0.1 for v in noise.values())
    with pytest.raises(ValueError, match="factors"):
        factor_r2(annulus, factors[:, :1])
    with pytest.raises(ValueError, match="latents"):
        factor_r2(annulus[:10], factors)


# --- bounds and evaluate -------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained() -> VAE:
    """The default VAE after 80 Adam steps on blob images (a few seconds)."""
    keras.utils.set_random_seed(0)
    model = VAE(ModelConfig())
    optimizer = keras.optimizers.Adam(2e-3)
    x = tf.constant(_blobs(128, seed=5)[0].astype(np.float32) / 255)

    @tf.function
    def step(seed):
        with tf.GradientTape() as tape:
            loss = model.elbo_terms(x, seed=seed, training=True)["loss"]
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

    for i in range(80):
        step(tf.constant([i, 0]))
    return model


def test_negative_elbo_is_reconstruction_plus_kl_and_iwae_is_tighter(trained: VAE) -> None:
    images, _ = _blobs(64, seed=6)
    elbo = negative_elbo(trained, images, seed=0, batch_size=16)
    assert elbo["neg_elbo"] == pytest.approx(elbo["reconstruction"] + elbo["kl"])
    assert elbo == negative_elbo(trained, images, seed=0, batch_size=16)  # same seed, same numbers
    terms = trained.elbo_terms(images.astype(np.float32) / 255, seed=tf.constant([0, 0]))
    assert elbo["kl"] == pytest.approx(float(terms["kl"]), rel=1e-5)  # the KL is exact
    assert negative_iwae(trained, images, 64, seed=0) < elbo["neg_elbo"]
    with pytest.raises(ValueError, match="images"):
        negative_elbo(trained, images.astype(np.float32) * 2)


def test_evaluate_reports_every_metric_deterministically(trained: VAE) -> None:
    images, factors = _blobs(60, seed=7)
    dataset = types.SimpleNamespace(images=images, factors=factors)
    net = FeatureNet()
    first = evaluate(trained, dataset, iwae_k=8, seed=1, feature_net=net, batch_size=25)
    keys = {"neg_elbo", "reconstruction", "kl", "neg_iwae", "r2_a", "r2_cos_theta", "r2_sin_theta",
            "fid", "fid_study_encoder"}
    assert keys <= set(first)
    assert all(np.isfinite(first[k]) for k in keys)
    assert first["neg_iwae"] <= first["neg_elbo"] + 1.0 and first["iwae_k"] == 8
    second = evaluate(trained, dataset, iwae_k=8, seed=1, feature_net=net, batch_size=25)
    assert {k: first[k] for k in keys} == {k: second[k] for k in keys}
    assert evaluate(trained, dataset, iwae_k=0, feature_net=net)["neg_iwae"] is None


def test_evaluate_rejects_bad_datasets(trained: VAE) -> None:
    images, factors = _blobs(30)
    with pytest.raises(ValueError, match="dataset"):
        evaluate(trained, images, feature_net=FeatureNet())
    with pytest.raises(ValueError, match="factors"):
        evaluate(trained, types.SimpleNamespace(images=images, factors=factors[:10]), feature_net=FeatureNet())
    small = types.SimpleNamespace(images=images[:, :32, :32], factors=factors)
    with pytest.raises(ValueError, match="images must have shape"):
        evaluate(trained, small, iwae_k=0, feature_net=FeatureNet())


# --- the feature network -------------------------------------------------------------------


def test_feature_net_learns_factors_and_round_trips(tmp_path) -> None:
    images, factors = _blobs(1024, seed=8)
    net = FeatureNet()
    before = r2_score(_targets(factors), net.predict(images))
    net.fit(images, factors, epochs=3, batch_size=64, seed=0, log=lambda _: None)
    after = r2_score(_targets(factors), net.predict(images))
    assert np.all(after > before) and after.mean() > 0.5
    save_feature_net(net, tmp_path / "f", info={"note": "test"})
    loaded = load_feature_net(tmp_path / "f")
    np.testing.assert_array_equal(loaded.features(images[:5]), net.features(images[:5]))
    (tmp_path / "f" / "weights.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="weights.npz is not a readable weights file"):
        load_feature_net(tmp_path / "f")
    with pytest.raises(ValueError, match="missing"):
        load_feature_net(tmp_path / "nowhere")


def _targets(factors: np.ndarray) -> np.ndarray:
    return np.stack([factors[:, 0], np.cos(factors[:, 1]), np.sin(factors[:, 1])], 1)
