"""vaeflow.latent: interpolation paths, the manifold grid, neighbours and iso-factor sweeps."""

import math

import numpy as np
import pytest

from vaeflow import latent
from vaeflow.flows.spec import FlowSpec


@pytest.mark.parametrize("method", latent.METHODS)
def test_paths_start_at_a_and_end_at_b(method):
    z_a, z_b = np.array([1.0, -2.0]), np.array([-0.5, 3.0])
    path = latent.interpolation_path(z_a, z_b, 9, method)
    assert path.shape == (9, 2)
    np.testing.assert_allclose(path[0], z_a, atol=1e-12)
    np.testing.assert_allclose(path[-1], z_b, atol=1e-12)


def test_linear_path_has_equal_steps_on_the_segment():
    path = latent.interpolation_path([0.0, 0.0], [3.0, 6.0], 4, "linear")
    np.testing.assert_allclose(np.diff(path, axis=0), [[1.0, 2.0]] * 3)


def test_spherical_path_turns_around_the_origin_at_constant_speed():
    # Equal radii: slerp stays on the circle and sweeps equal angles per step.
    z_a, z_b = np.array([2.0, 0.0]), np.array([0.0, 2.0])
    path = latent.interpolation_path(z_a, z_b, 5, "spherical")
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 2.0)
    angles = np.arctan2(path[:, 1], path[:, 0])
    np.testing.assert_allclose(np.diff(angles), math.pi / 8)
    # ... which the linear path does not: its midpoint cuts the chord.
    mid = latent.interpolate(z_a, z_b, 0.5, "linear")
    assert np.linalg.norm(mid) < 2.0 - 0.5


def test_spherical_falls_back_to_linear_where_the_arc_is_undefined():
    for z_a, z_b in (([0.0, 0.0], [1.0, 1.0]), ([1.0, 0.0], [-1.0, 0.0]), ([1.0, 1.0], [2.0, 2.0])):
        np.testing.assert_allclose(
            latent.interpolate(z_a, z_b, [0.3, 0.7], "spherical"),
            latent.interpolate(z_a, z_b, [0.3, 0.7], "linear"),
        )


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(z_a=[0.0, 1.0], z_b=[0.0, 1.0, 2.0], t=0.5), "z_a and z_b"),
        (dict(z_a=[0.0, 1.0], z_b=[1.0, 1.0], t=1.5), "t must"),
        (dict(z_a=[0.0, np.nan], z_b=[1.0, 1.0], t=0.5), "z_a"),
        (dict(z_a=[0.0, 1.0], z_b=[1.0, 1.0], t=0.5, method="cubic"), "method"),
    ],
)
def test_interpolate_rejects_bad_input_naming_it(kwargs, field):
    with pytest.raises(ValueError, match=field):
        latent.interpolate(**kwargs)


def test_latent_grid_is_row_major_from_the_top_left():
    grid = latent.latent_grid((-1.0, 1.0), (0.0, 4.0), 3, 5)
    assert grid.shape == (15, 2)
    rows = grid.reshape(5, 3, 2)
    np.testing.assert_allclose(rows[0, :, 1], 4.0)  # top row: largest y
    np.testing.assert_allclose(rows[-1, :, 1], 0.0)
    np.testing.assert_allclose(rows[:, 0, 0], -1.0)  # left column: smallest x
    np.testing.assert_allclose(rows[2, :, 0], [-1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="y_range"):
        latent.latent_grid((0, 1), (1, 1), 3)
    with pytest.raises(ValueError, match="n_x"):
        latent.latent_grid((0, 1), (0, 1), 1)


def test_cell_centres_tile_the_rectangle_exactly():
    centres = latent.cell_centres((0.0, 4.0), (-2.0, 2.0), 4).reshape(4, 4, 2)
    np.testing.assert_allclose(centres[0, :, 0], [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(centres[:, 0, 1], [1.5, 0.5, -0.5, -1.5])


def test_embed_plane_fills_the_other_axes_with_the_prior_mean():
    z = latent.embed_plane([[1.5, -2.0]], latent_dim=4, dims=(2, 0))
    np.testing.assert_array_equal(z, [[-2.0, 0.0, 1.5, 0.0]])
    assert latent.embed_plane([1.0, 2.0], 2).shape == (2,)
    with pytest.raises(ValueError, match="dims"):
        latent.embed_plane([1.0, 2.0], 2, dims=(0, 2))


def test_plot_ranges_frame_the_cloud_but_ignore_a_far_outlier():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(2000, 2))
    points[0] = [1e6, -1e6]
    (x0, x1), (y0, y1) = latent.plot_ranges(points)
    inside = np.mean((points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0) & (points[:, 1] < y1))
    assert inside > 0.99
    assert x1 < 20 and y0 > -20
    (x0, x1), _ = latent.plot_ranges(np.zeros((10, 2)))  # collapsed cloud: still clickable room
    assert x1 - x0 >= 2.0


def test_nearest_index_matches_brute_force():
    rng = np.random.default_rng(1)
    points, queries = rng.normal(size=(300, 3)), rng.normal(size=(40, 3))
    idx, dist = latent.nearest_index(points, queries)
    d = np.linalg.norm(queries[:, None, :] - points[None, :, :], axis=2)
    np.testing.assert_array_equal(idx, d.argmin(axis=1))
    np.testing.assert_allclose(dist, d.min(axis=1), atol=1e-9)
    with pytest.raises(ValueError, match="queries"):
        latent.nearest_index(points, [0.0, 1.0])


def test_iso_sweeps_hold_one_factor_and_sweep_the_other():
    spec = FlowSpec()
    sweeps = latent.iso_factor_sweeps(spec, n_a=3, n_theta=4, n_steps=10)
    assert sweeps.iso_a.shape == (3, 10, 2) and sweeps.iso_theta.shape == (4, 10, 2)
    np.testing.assert_allclose(sweeps.a_levels, [1.0, 3.0, 5.0])  # mean 3, std 1, ±2 std
    for curve, a in zip(sweeps.iso_a, sweeps.a_levels):
        np.testing.assert_allclose(curve[:, 0], a)
        np.testing.assert_allclose(curve[[0, -1], 1], [spec.theta_min, spec.theta_max], rtol=1e-6)
    for curve, theta in zip(sweeps.iso_theta, sweeps.theta_levels):
        np.testing.assert_allclose(curve[:, 1], theta)
        assert np.all(np.diff(curve[:, 0]) > 0)
    np.testing.assert_allclose(sweeps.theta_levels, np.arange(4) * math.pi / 2, rtol=1e-6)


class _LinearModel:
    """A stand-in VAE: encode = mean pixel of two channels, decode = constant images."""

    class _Posterior:
        def __init__(self, loc):
            self._loc = loc

        def mean(self):
            return self._loc

    def encode(self, x):
        assert x.dtype == np.float32 and x.max() <= 1.0
        return self._Posterior(x[..., :2].mean(axis=(1, 2)))

    def decode(self, z):
        z = np.asarray(z)
        return np.broadcast_to(z[:, None, None, :1], (len(z), 4, 4, 3)) * 1.0


def test_posterior_means_and_decode_batch_without_changing_results():
    model = _LinearModel()
    images = np.random.default_rng(2).integers(0, 256, size=(7, 4, 4, 3), dtype=np.uint8)
    means = latent.posterior_means(model, images, batch_size=3)
    np.testing.assert_allclose(means, images[..., :2].mean(axis=(1, 2)) / 255.0, rtol=1e-5)
    decoded = latent.decode_uint8(model, [[0.5, 0.0], [2.0, 0.0], [-1.0, 0.0]], batch_size=2)
    assert decoded.dtype == np.uint8 and decoded.shape == (3, 4, 4, 3)
    np.testing.assert_array_equal(decoded[:, 0, 0, 0], [128, 255, 0])  # rounded and clipped


def test_prior_draws_are_standard_normal_and_seeded():
    from vaeflow.models import VAE, ModelConfig

    model = VAE(ModelConfig())
    z = latent.prior_draws(model, 20000, seed=3)
    assert z.shape == (20000, 2) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(np.cov(z.T), np.eye(2), atol=0.03)
    np.testing.assert_array_equal(latent.prior_draws(model, 20000, seed=3), z)
    assert not np.array_equal(latent.prior_draws(model, 5, seed=4), z[:5])
    with pytest.raises(ValueError, match="n must"):
        latent.prior_draws(model, 0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        latent.prior_draws(model, 5, seed=-1)


def test_posterior_kl_is_the_analytic_kl_and_tells_a_collapsed_model_from_a_trained_one():
    import keras

    import vaeflow
    from vaeflow.models import VAE, ModelConfig

    images = vaeflow.generate_dataset(96, seed=5).images
    keras.utils.set_random_seed(0)
    untrained = VAE(ModelConfig())  # N(0, I) prior; its posterior is about the prior
    kl = latent.posterior_kl(untrained, images, batch_size=40)
    loc, scale_tril = untrained.posterior_params(images.astype(np.float32) / 255.0)
    np.testing.assert_allclose(kl, np.asarray(VAE.kl(loc, scale_tril)), rtol=1e-4, atol=1e-4)
    trained = vaeflow.load_model()  # the shipped model (a flow prior: the Monte Carlo KL)
    assert float(np.mean(kl)) < 1.0 < float(np.mean(latent.posterior_kl(trained, images)))


def test_compiled_decode_gives_the_models_images_for_any_batch_size():
    import keras

    from vaeflow.models import VAE, ModelConfig

    keras.utils.set_random_seed(0)
    model = VAE(ModelConfig())
    decode = latent.compiled_decode(model)
    for n in (1, 5):
        z = np.random.default_rng(n).normal(size=(n, 2)).astype(np.float32)
        images = decode(z)
        assert isinstance(images, np.ndarray) and images.shape == (n, 36, 36, 3)
        np.testing.assert_allclose(images, model.decode(z).numpy(), atol=1e-5)
