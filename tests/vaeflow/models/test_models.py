"""The VAE: shapes, the analytic KL, the bound ordering, gradients, config and save/load."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow.models import VAE, ModelConfig, load_model, save_model
from vaeflow.models.architectures import posterior_params_size

tfd = tfp.distributions


def _images(n: int, seed: int = 0, size: int = 36) -> np.ndarray:
    """Smooth blobs in [0, 1], enough structure for a decoder to fit."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centres = rng.uniform(-0.5, 0.5, (n, 2, 1, 1))
    blob = np.exp(-((xx - centres[:, 0]) ** 2 + (yy - centres[:, 1]) ** 2) / 0.1)
    return np.stack([blob, blob**2, 0.2 * blob], axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> VAE:
    keras.utils.set_random_seed(0)
    return VAE(ModelConfig())


@pytest.fixture(scope="module")
def trained() -> VAE:
    """The default VAE after 60 Adam steps on 64 blob images (~2 s); `losses_seen` per step."""
    keras.utils.set_random_seed(0)
    model = VAE(ModelConfig())
    optimizer = keras.optimizers.Adam(2e-3)
    x = tf.constant(_images(64, seed=2))

    @tf.function
    def step(seed):
        with tf.GradientTape() as tape:
            loss = model.elbo_terms(x, seed=seed, training=True)["loss"]
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    model.losses_seen = [float(step(tf.constant([i, 0]))) for i in range(60)]
    return model


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(),
        ModelConfig(latent_dim=3, likelihood="continuous_bernoulli"),
        ModelConfig(image_size=30, encoder_channels=(8, 16)),
        ModelConfig(preset="study"),
    ],
    ids=["default", "latent3-cb", "size30", "study"],
)
def test_shapes_and_ranges(config: ModelConfig) -> None:
    model = VAE(config)
    s, latent = config.image_size, config.latent_dim
    x = _images(3, size=s)
    q = model.encode(x)
    assert isinstance(q, tfd.MultivariateNormalTriL)
    assert tuple(q.batch_shape) == (3,) and tuple(q.event_shape) == (latent,)
    mean = model.decode(q.sample(seed=1)).numpy()
    assert mean.shape == (3, s, s, 3) and mean.dtype == np.float32
    assert mean.min() >= 0.0 and mean.max() <= 1.0
    p = model.likelihood(q.mean())
    assert tuple(p.batch_shape) == (3,) and tuple(p.event_shape) == (s, s, 3)
    terms = model.elbo_terms(x, seed=tf.constant([1, 2]))
    assert set(terms) == {"loss", "reconstruction", "kl"}
    assert all(t.shape == () and np.isfinite(t.numpy()) for t in terms.values())
    assert model.iwae_bound(x, 4, seed=0).shape == (3,)


@pytest.mark.parametrize("raw", [-1e4, 1e4])
def test_posterior_stays_finite_and_positive_definite_for_extreme_encoder_outputs(raw: float) -> None:
    # The encoder's last layer is set to output `raw` for every entry of the Cholesky factor:
    # -1e4 drives the diagonal to its floor (min_scale), +1e4 to a huge but finite scale.
    model = VAE(ModelConfig())
    head = model.encoder.layers[-1]
    L = model.config.latent_dim
    head.kernel.assign(tf.zeros_like(head.kernel))
    head.bias.assign(tf.constant([0.0] * L + [raw] * (posterior_params_size(L) - L)))
    x = _images(4)
    loc, scale_tril = model.posterior_params(x)
    tril = scale_tril.numpy()
    diag = np.diagonal(tril, axis1=1, axis2=2)
    assert np.all(np.isfinite(tril)) and np.all(np.triu(tril, k=1) == 0)
    assert np.all(diag >= model.config.min_scale)
    if raw < 0:
        np.testing.assert_allclose(diag, model.config.min_scale, rtol=1e-3)
    q = model.encode(x)
    z = q.sample(seed=tf.constant([3, 4]))
    assert np.all(np.isfinite(q.log_prob(z).numpy()))
    assert np.all(np.isfinite(VAE.kl(loc, scale_tril).numpy()))
    terms = model.elbo_terms(x, seed=tf.constant([1, 2]))
    assert all(np.isfinite(t.numpy()) for t in terms.values())


def test_analytic_kl_matches_tfp_and_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(5, 3)).astype(np.float32)
    scale_tril = np.tril(rng.normal(size=(5, 3, 3))).astype(np.float32)
    idx = np.arange(3)
    scale_tril[:, idx, idx] = np.abs(scale_tril[:, idx, idx]) + 0.2
    q = tfd.MultivariateNormalTriL(loc, scale_tril)
    p = tfd.MultivariateNormalDiag(loc=tf.zeros(3))
    analytic = VAE.kl(tf.constant(loc), tf.constant(scale_tril)).numpy()
    np.testing.assert_allclose(analytic, tfd.kl_divergence(q, p).numpy(), rtol=1e-4, atol=1e-4)
    z = q.sample(200_000, seed=3)
    monte_carlo = tf.reduce_mean(q.log_prob(z) - p.log_prob(z), axis=0).numpy()
    np.testing.assert_allclose(analytic, monte_carlo, rtol=0.02, atol=0.02)


def test_reconstruction_is_bernoulli_cross_entropy(model: VAE) -> None:
    x = _images(2)
    z = tf.zeros([2, 2])
    by_hand = -model.log_likelihood(x, model.decode_logits(z)).numpy()
    by_tfp = -model.likelihood(z).log_prob(x).numpy()
    np.testing.assert_allclose(by_hand, by_tfp, rtol=1e-5)


def test_elbo_below_iwae_below_iwae_with_more_samples(trained: VAE) -> None:
    x = _images(32, seed=1)
    elbo = np.mean(
        [-trained.elbo_terms(x, beta=1.0, seed=tf.constant([s, 7]))["loss"].numpy() for s in range(32)]
    )
    iwae = {k: float(tf.reduce_mean(trained.iwae_bound(x, k, seed=11))) for k in (1, 16, 128)}
    assert abs(iwae[1] - elbo) < 0.03 * abs(elbo)  # k = 1 is a one-sample ELBO
    assert elbo < iwae[16] < iwae[128]
    # The same seed gives the same bound.
    np.testing.assert_array_equal(trained.iwae_bound(x, 16, seed=11), trained.iwae_bound(x, 16, seed=11))


def test_iwae_chunks_give_the_same_bound_as_one_pass(monkeypatch) -> None:
    import vaeflow.models.vae as vae_module

    model = VAE(ModelConfig())
    x = _images(4)
    one_pass = model.iwae_bound(x, 8, seed=5).numpy()
    monkeypatch.setattr(vae_module, "_IWAE_CHUNK_IMAGES", 8)  # 2 samples per chunk
    chunked = model.iwae_bound(x, 8, seed=5).numpy()
    assert one_pass.shape == chunked.shape == (4,)
    assert np.all(np.isfinite(chunked))
    np.testing.assert_allclose(one_pass, chunked, rtol=1e-6)
    with pytest.raises(ValueError, match="k must be"):
        model.iwae_bound(x, 0)


@pytest.mark.parametrize("preset", ["default", "study"])
def test_every_trainable_variable_gets_a_gradient(preset: str) -> None:
    model = VAE(ModelConfig(preset=preset))
    x = _images(4)
    with tf.GradientTape() as tape:
        loss = model.elbo_terms(x, seed=tf.constant([0, 1]), training=True)["loss"]
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    assert not missing
    assert all(np.any(g.numpy() != 0) for g in grads)


def test_elbo_terms_traces_and_compiles_with_a_stateless_seed(model: VAE) -> None:
    x = tf.constant(_images(8))
    seed = tf.constant([3, 4])
    eager = model.elbo_terms(x, beta=2.0, seed=seed)
    np.testing.assert_allclose(
        eager["loss"].numpy(), eager["reconstruction"].numpy() + 2.0 * eager["kl"].numpy(), rtol=1e-6
    )
    traced = tf.function(lambda x, s: model.elbo_terms(x, beta=2.0, seed=s))(x, seed)
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(traced[name].numpy(), eager[name].numpy(), rtol=1e-5)
    # XLA draws other (but equally seeded, repeatable) noise: the KL is exact, the rest agrees
    # up to the sampling noise of one draw.
    compiled = tf.function(lambda x, s: model.elbo_terms(x, beta=2.0, seed=s), jit_compile=True)
    first, again = compiled(x, seed), compiled(x, seed)
    assert float(first["loss"]) == float(again["loss"])
    np.testing.assert_allclose(first["kl"].numpy(), eager["kl"].numpy(), rtol=1e-4)
    np.testing.assert_allclose(first["reconstruction"].numpy(), eager["reconstruction"].numpy(), rtol=0.01)


def test_a_few_adam_steps_lower_the_loss(trained: VAE) -> None:
    assert np.mean(trained.losses_seen[-5:]) < 0.5 * np.mean(trained.losses_seen[:5])


def test_bad_images_name_the_argument(model: VAE) -> None:
    with pytest.raises(ValueError, match="images must have shape"):
        model.encode(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="images must be float32"):
        model.encode(np.zeros((2, 36, 36, 3), np.uint8))
    with pytest.raises(ValueError, match="images must have shape"):
        model.elbo_terms(np.zeros((36, 36, 3), np.float32))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"preset": "huge"}, "preset"),
        ({"likelihood": "gaussian"}, "likelihood"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 2.5}, "latent_dim"),
        ({"image_size": 4}, "image_size"),
        ({"preset": "study", "image_size": 40}, "image_size"),
        ({"encoder_channels": (32, 0)}, "encoder_channels"),
        ({"encoder_channels": (8, 8, 8, 8, 8)}, "encoder_channels"),
        ({"decoder_channels": (8,)}, "decoder_channels"),
        ({"preset": "study", "encoder_units": (8,)}, "encoder_units"),
        ({"fourier_scale": 0.0}, "fourier_scale"),
        ({"fourier_features": -1}, "fourier_features"),
        ({"preset": "study", "fourier_features": 8}, "fourier_features"),
        ({"min_scale": 0.0}, "min_scale"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"ModelConfig.{field}"):
        ModelConfig(**kwargs)


def test_config_round_trips_through_json() -> None:
    config = ModelConfig(latent_dim=3, likelihood="continuous_bernoulli", decoder_units=(128,))
    assert ModelConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ValueError, match="no field"):
        ModelConfig.from_dict({**config.to_dict(), "depth": 3})


def test_save_then_load_gives_the_same_outputs_and_config(tmp_path) -> None:
    model = VAE(ModelConfig(likelihood="continuous_bernoulli"))
    x = _images(3)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # A run directory holding model/ loads the same.
    save_model(model, tmp_path / "run" / "model")
    np.testing.assert_array_equal(load_model(tmp_path / "run")(x).numpy(), model(x).numpy())


def test_float16_weights_halve_the_file_and_load_back_as_float32(tmp_path) -> None:
    keras.utils.set_random_seed(1)
    model = VAE(ModelConfig())
    full = save_model(model, tmp_path / "full")
    half = save_model(model, tmp_path / "half", weights_dtype="float16")
    size = lambda d: (d / "weights.npz").stat().st_size
    assert size(half) < 0.55 * size(full)
    assert json.loads((half / "config.json").read_text())["weights"]["dtype"] == "float16"
    loaded = load_model(half)
    assert all(w.dtype == "float32" for w in loaded.weights)
    for a, b in zip(loaded.weights, model.weights):  # rounded to half precision, no more
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4)
        assert np.array_equal(a.numpy(), b.numpy().astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(loaded.decode(tf.zeros((2, 2))).numpy(), model.decode(tf.zeros((2, 2))).numpy(), atol=2e-3)
    with pytest.raises(ValueError, match="weights_dtype"):
        save_model(model, tmp_path / "bad", weights_dtype="int8")


def test_corrupted_foreign_or_mismatched_checkpoints_are_clear_errors(tmp_path) -> None:
    model = VAE(ModelConfig())
    directory = save_model(model, tmp_path / "m")
    weights = (directory / "weights.npz").read_bytes()

    (directory / "weights.npz").write_bytes(weights[: len(weights) // 2])
    # a cut archive fails its zip structure (read before the hash), a flipped byte its sha256
    with pytest.raises(ValueError, match="weights.npz is not a readable weights file"):
        load_model(directory)
    flipped = bytearray(weights)
    flipped[len(weights) // 2] ^= 0xFF
    (directory / "weights.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="sha256"):
        load_model(directory)

    (directory / "weights.npz").write_bytes(weights)
    header = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**header, "format": "other"}))
    with pytest.raises(ValueError, match="format must be 'vaeflow.model'"):
        load_model(directory)

    (directory / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(directory)

    # Weights that match their hash but not the config: a wider last decoder layer.
    wider = {**header, "config": {**header["config"], "decoder_units": [384, 512, 1024]}}
    (directory / "config.json").write_text(json.dumps(wider))
    with pytest.raises(ValueError, match="shape"):
        load_model(directory)

    bad_field = {**header, "config": {**header["config"], "latent_dim": -1}}
    (directory / "config.json").write_text(json.dumps(bad_field))
    with pytest.raises(ValueError, match="latent_dim"):
        load_model(directory)

    with pytest.raises(ValueError, match="missing"):
        load_model(tmp_path / "nowhere")


def test_weights_that_overflow_float16_are_refused_and_nothing_is_written(tmp_path) -> None:
    model = VAE(ModelConfig())
    model(np.zeros((1, 36, 36, 3), np.float32))
    model.weights[0].assign(model.weights[0] * 0 + 1e6)
    with pytest.raises(ValueError, match="does not fit in float16"):
        save_model(model, tmp_path / "m", weights_dtype="float16")
    assert not (tmp_path / "m" / "config.json").exists()
