"""The prior p(z): the flow prior is a density, the Monte Carlo KL is the KL, a flow-prior model
trains, saves, resumes and runs under tf.distribute, warm-ups are recorded, and everything that
samples or draws the prior asks `model.prior()`."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from training_util import TINY, run_python, small_dataset
from vaeflow import latent
from vaeflow.models import VAE, ModelConfig, load_model, save_model
from vaeflow.training import RunDir, TrainConfig, train

tfd = tfp.distributions
FLOW_TINY = dataclasses.replace(TINY, prior="flow", prior_layers=2, prior_hidden=8)


def _randomise_prior(model: VAE, seed: int = 0, scale: float = 0.3) -> None:
    """Move every coupling away from the identity it starts at."""
    rng = np.random.default_rng(seed)
    for net in model.prior_conditioners:
        for v in net.weights:
            v.assign(rng.normal(0.0, scale, v.shape).astype(np.float32))


@pytest.mark.parametrize("coupling", ["spline", "affine"])
def test_flow_prior_log_prob_integrates_to_one(coupling):
    model = VAE(ModelConfig(prior="flow", prior_coupling=coupling, prior_layers=3, prior_hidden=16))
    _randomise_prior(model)
    xs, ys, density = latent.prior_density_grid(model, (-9.0, 9.0), (-9.0, 9.0), 601)
    mass = density.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert abs(mass - 1.0) < 5e-3, mass
    # not the N(0, I) it started as: the test integrates a learned-looking density
    normal = np.exp(tfd.MultivariateNormalDiag(loc=[0.0, 0.0]).log_prob(
        np.stack(np.meshgrid(xs, ys), -1).astype(np.float32)).numpy())
    assert np.abs(density - normal).max() > 0.02


def test_fresh_flow_prior_is_the_standard_normal():
    model = VAE(ModelConfig(prior="flow"))
    z = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32) * 2
    np.testing.assert_allclose(model.prior().log_prob(z), VAE(ModelConfig()).prior().log_prob(z),
                               atol=1e-4)


def test_monte_carlo_kl_is_the_analytic_kl_in_expectation():
    model = VAE(ModelConfig())
    x = np.random.default_rng(0).random((3, 36, 36, 3)).astype(np.float32)
    loc, scale_tril = model.posterior_params(x)
    # a posterior far from the prior, so the KL is large and the check is not about ~0
    loc = loc + tf.constant([[1.5, -1.0]])
    scale_tril = scale_tril * 0.3
    q = tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)
    z = q.sample(40000, seed=tf.constant([3, 0]))
    estimates = model.monte_carlo_kl(q, z).numpy()  # (k, N)
    analytic = VAE.kl(loc, scale_tril).numpy()
    standard_error = estimates.std(axis=0) / np.sqrt(len(estimates))
    assert np.all(np.abs(estimates.mean(axis=0) - analytic) < 4 * standard_error + 1e-3)
    assert np.all(analytic > 1.0)


def test_elbo_uses_the_flow_prior():
    normal = VAE(ModelConfig())
    flow = VAE(ModelConfig(prior="flow"))
    flow.encoder.set_weights(normal.encoder.get_weights())
    flow.decoder.set_weights(normal.decoder.get_weights())
    x = np.random.default_rng(0).random((4, 36, 36, 3)).astype(np.float32)
    same = flow.elbo_terms(x, seed=5)
    assert abs(float(same["kl"]) - float(normal.elbo_terms(x, seed=5)["kl"])) < 0.5
    _randomise_prior(flow)
    moved = flow.elbo_terms(x, seed=5)
    assert float(moved["reconstruction"]) == pytest.approx(float(same["reconstruction"]))
    assert abs(float(moved["kl"]) - float(same["kl"])) > 0.5
    bound = flow.iwae_bound(x, 4, seed=1)
    assert bound.shape == (4,) and np.all(np.isfinite(bound))


def test_flow_prior_config_is_validated():
    with pytest.raises(ValueError, match="ModelConfig.prior "):
        ModelConfig(prior="vamp")
    with pytest.raises(ValueError, match="latent_dim"):
        ModelConfig(prior="flow", latent_dim=1)
    with pytest.raises(ValueError, match="ModelConfig.prior_layers"):
        ModelConfig(prior="flow", prior_layers=0)
    with pytest.raises(ValueError, match="ModelConfig.prior_coupling"):
        ModelConfig(prior="flow", prior_coupling="cubic")


def test_flow_prior_saves_and_loads(tmp_path):
    model = VAE(ModelConfig(prior="flow", prior_layers=2))
    _randomise_prior(model, scale=0.2)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config.prior == "flow"
    z = np.random.default_rng(2).normal(size=(20, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.prior().log_prob(z), model.prior().log_prob(z))


def test_warmups_are_recorded_in_metrics_jsonl(tmp_path):
    data = small_dataset(tmp_path / "flow.npz")  # 288 training images: 9 steps of 32
    config = TrainConfig(data=str(data), epochs=3, batch_size=32, learning_rate=2e-3, beta=2.0,
                         beta_warmup_epochs=2, lr_warmup_epochs=1, steps_per_window=3)
    run = RunDir(tmp_path, "warm")
    train(config, TINY, run)
    records = run.read_metrics()
    epochs = [r for r in records if r["kind"] == "epoch"]
    # β(step s) = 2 · min(1, (s + 1) / 18), recorded for each epoch's last step (s = 8, 17, 26)
    assert [r["beta"] for r in epochs] == pytest.approx([1.0, 2.0, 2.0])
    assert epochs[0]["learning_rate"] < 2e-3 and epochs[1]["learning_rate"] == pytest.approx(2e-3)
    windows = [r["beta"] for r in records if r["kind"] == "window"]
    assert windows == sorted(windows) and windows[0] == pytest.approx(2.0 * 3 / 18)
    # validation weighs the KL by β itself throughout, so val_loss compares across the warm-up
    for r in epochs:
        assert r["val_loss"] == pytest.approx(r["val_reconstruction"] + 2.0 * r["val_kl"], rel=1e-5)


def test_beta_start_above_beta_anneals_the_kl_weight_down(tmp_path):
    data = small_dataset(tmp_path / "flow.npz")  # 9 steps of 32 per epoch
    config = TrainConfig(data=str(data), epochs=3, batch_size=32, beta=1.0, beta_start=4.0,
                         beta_warmup_epochs=2, steps_per_window=3)
    run = RunDir(tmp_path, "anneal")
    train(config, TINY, run)
    epochs = [r for r in run.read_metrics() if r["kind"] == "epoch"]
    # β(step s) = 4 + (1 − 4) · min(1, (s + 1) / 18), at each epoch's last step (s = 8, 17, 26)
    assert [r["beta"] for r in epochs] == pytest.approx([2.5, 1.0, 1.0])


@pytest.mark.parametrize("prior_warmup_epochs, learned", [(2, False), (1, True)])
def test_a_flow_prior_stays_normal_through_its_warmup(tmp_path, prior_warmup_epochs, learned):
    data = small_dataset(tmp_path / "flow.npz")
    config = TrainConfig(data=str(data), epochs=2, batch_size=32, learning_rate=3e-3,
                         prior_warmup_epochs=prior_warmup_epochs)
    model = train(config, FLOW_TINY, RunDir(tmp_path, "pw")).model
    z = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    normal = -0.5 * np.sum(z ** 2, axis=1) - np.log(2 * np.pi)  # log N(z; 0, I_2)
    moved = np.max(np.abs(model.prior().log_prob(z).numpy() - normal))
    assert (moved > 1e-4) == learned, moved


def test_epoch_records_carry_the_factor_r2_of_the_validation_images(tmp_path):
    from vaeflow.metrics import factor_r2, posterior_means
    from vaeflow.training.data import FileSource

    data = small_dataset(tmp_path / "flow.npz")
    config = TrainConfig(data=str(data), epochs=2, batch_size=32, val_fraction=0.2)
    result = train(config, TINY, RunDir(tmp_path, "r2"))
    last = [r for r in RunDir(tmp_path, "r2").read_metrics() if r["kind"] == "epoch"][-1]
    source = FileSource(config, 36)
    expected = factor_r2(posterior_means(result.model, source.val_images), source.val_factors)
    assert {k: last[k] for k in expected} == pytest.approx(expected)


def test_warmup_fields_are_validated():
    with pytest.raises(ValueError, match="TrainConfig.beta_start"):
        TrainConfig(beta_start=-0.5)
    with pytest.raises(ValueError, match="TrainConfig.beta_warmup_epochs"):
        TrainConfig(beta_warmup_epochs=-1)
    with pytest.raises(ValueError, match="TrainConfig.lr_warmup_epochs"):
        TrainConfig(epochs=2, lr_warmup_epochs=2)


DISTRIBUTED = r"""
import dataclasses, json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, "tests")
from training_util import TINY, small_dataset
from vaeflow.models import load_model
from vaeflow.training import RunDir, TrainConfig, train

model_config = dataclasses.replace(TINY, prior="flow", prior_layers=2, prior_hidden=8)
root = ROOT
data = small_dataset(__import__("pathlib").Path(root) / "flow.npz")
run = RunDir(root, "flow")
config = TrainConfig(data=str(data), distribute="mirrored", epochs=2, batch_size=32,
                     learning_rate=3e-3, seed=0, beta_warmup_epochs=1)
first = train(config, model_config, run)
z = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
after_two = first.model.prior().log_prob(z).numpy()
resumed = train(config.replace(epochs=3), model_config, run, resume=True)
loaded = load_model(run.path)
print(json.dumps({
    "log": run.log_path.read_text(),
    "steps": [first.step, resumed.step],
    # TFP hands out a non-composite twin (_TransformedDistribution) when bijectors hold Keras nets
    "prior_is_transformed": type(resumed.model.prior()).__name__.lstrip("_") == "TransformedDistribution",
    "prior_variable_type": type(resumed.model.prior_conditioners[0].weights[0].value).__name__,
    "prior_learned": float(np.abs(after_two - loaded.prior().log_prob(z).numpy()).max()),
    "prior_moved_from_normal": float(np.abs(after_two - (-0.5 * (z ** 2).sum(1) - np.log(2 * np.pi))).max()),
    "reload_matches": bool(np.array_equal(loaded.prior().log_prob(z).numpy(),
                                          resumed.model.prior().log_prob(z).numpy())),
    "val_losses": [r["val_loss"] for r in run.read_metrics() if r["kind"] == "epoch"],
}))
"""


@pytest.mark.slow
def test_flow_prior_trains_resumes_and_reloads_under_mirrored_strategy(tmp_path):
    # ~1 min on an idle 2-core CPU; the timeout leaves room for a shared one
    completed = run_python(DISTRIBUTED.replace("ROOT", repr(str(tmp_path))), timeout=1800)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "replicas: 2" in report["log"] and "resumed from step 18" in report["log"]
    assert report["steps"] == [18, 27]
    assert report["prior_is_transformed"]
    assert report["prior_variable_type"] == "MirroredVariable"
    assert report["prior_moved_from_normal"] > 1e-3  # the prior trained
    assert report["prior_learned"] > 0  # and kept training after the resume
    assert report["reload_matches"]
    assert len(report["val_losses"]) == 3 and all(np.isfinite(report["val_losses"]))


class _ShiftedPrior:
    """A stand-in model whose prior is N((4, -2), I): anything drawn from N(0, I) shows."""

    latent_dim = 2

    def prior(self):
        return tfd.MultivariateNormalDiag(loc=[4.0, -2.0])

    def decode(self, z):
        return tf.sigmoid(tf.reshape(tf.tile(tf.convert_to_tensor(z)[:, :1], [1, 36 * 36 * 3]),
                                     [-1, 36, 36, 3]))


def test_prior_draws_and_density_come_from_model_prior():
    model = _ShiftedPrior()
    z = latent.prior_draws(model, 4000, seed=0)
    np.testing.assert_allclose(z.mean(axis=0), [4.0, -2.0], atol=0.1)
    np.testing.assert_array_equal(z, latent.prior_draws(model, 4000, seed=0))
    xs, ys, density = latent.prior_density_grid(model, (0.0, 8.0), (-6.0, 2.0), 81)
    i, j = np.unravel_index(np.argmax(density), density.shape)
    assert (xs[j], ys[i]) == pytest.approx((4.0, -2.0))
    assert density[i, j] == pytest.approx(1 / (2 * np.pi), rel=1e-4)


def test_explorer_prior_contours_and_samples_come_from_model_prior(tmp_path, monkeypatch):
    from explorer import cache
    from explorer.latent_plots import PRIOR_TRACE, latent_map_figure

    model = VAE(dataclasses.replace(FLOW_TINY, prior_layers=3))
    _randomise_prior(model, scale=0.3)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    monkeypatch.setattr(cache, "get_model", lambda ref: loaded)
    monkeypatch.setattr(cache, "get_decoder", lambda ref: loaded)
    ref = object()

    xs, ys, density = cache.prior_density.__wrapped__(ref, (-3.0, 3.0), (-2.0, 2.0), 21, (0, 1))
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    np.testing.assert_allclose(density.ravel(), np.exp(loaded.prior().log_prob(grid).numpy()), rtol=1e-5)

    samples = cache.prior_samples.__wrapped__(ref, 6, 3)
    z = loaded.prior().sample(6, seed=tf.constant([3, 0])).numpy()
    expected = np.round(np.clip(loaded.decode(z).numpy(), 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(samples, expected)

    figure = latent_map_figure(np.zeros((3, 2)), None, x_range=(-3, 3), y_range=(-2, 2),
                               colour_by="none", prior_density=(xs, ys, density))
    (contour,) = [t for t in figure.data if t.name == PRIOR_TRACE]
    np.testing.assert_allclose(np.asarray(contour.z), density)


def test_describe_prior_names_the_prior():
    assert latent.describe_prior(ModelConfig()) == "p(z) = N(0, I)"
    text = latent.describe_prior(ModelConfig(prior="flow", prior_layers=3))
    assert "flow" in text and "3 spline coupling layers" in text
