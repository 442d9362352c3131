"""vaeflow.latent.error_map: the decode-vs-truth error map, on cases whose answer is known."""

import math

import numpy as np
import pytest

from vaeflow import latent, render_images
from vaeflow.flows.spec import FlowSpec


def test_equal_images_have_zero_error_exactly():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 5, 5, 3), dtype=np.uint8)
    images[0] = 0  # pure black and pure white pixels sit on the clip
    images[1, :2] = 255
    np.testing.assert_array_equal(latent.decode_error(images, images), np.zeros(3))
    as_float = images / 255.0
    np.testing.assert_array_equal(latent.decode_error(images, as_float), np.zeros(3))


def test_one_pixel_by_hand():
    # x = 0.25 against x̂ = 0.5: 0.25 log(0.25/0.5) + 0.75 log(0.75/0.5)
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    np.testing.assert_allclose(latent.decode_error([[0.25]], [[0.5]]), [expected], rtol=1e-12)
    # ... which is the cross-entropy minus the true image's entropy
    cross_entropy = -(0.25 * math.log(0.5) + 0.75 * math.log(0.5))
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert expected == pytest.approx(cross_entropy - entropy, rel=1e-12)


def test_errors_sum_over_pixels_per_image_and_are_not_symmetric():
    true = np.array([[[0.25, 1.0]], [[0.5, 0.5]]])
    decoded = np.array([[[0.5, 0.5]], [[0.25, 0.5]]])
    per_pixel = lambda x, y: x * math.log(x / y) + (1 - x) * math.log((1 - x) / (1 - y))  # noqa: E731
    # a true pixel of 1.0 is clipped to 1 − 1e-6: its term is log 2 up to ~1e-5
    np.testing.assert_allclose(
        latent.decode_error(true, decoded),
        [per_pixel(0.25, 0.5) + math.log(2.0), per_pixel(0.5, 0.25)], rtol=1e-4)
    assert latent.decode_error(true, decoded)[0] != pytest.approx(latent.decode_error(decoded, true)[0])


def test_a_saturated_decode_costs_a_finite_error():
    error = latent.decode_error(np.zeros((1, 2), np.uint8), np.array([[1.0, 0.0]], np.float32))
    assert np.isfinite(error[0]) and error[0] == pytest.approx(-math.log(1e-6), rel=1e-3)


@pytest.mark.parametrize(
    "true, decoded, name",
    [(np.zeros((2, 3)), np.zeros((2, 4)), "same shape"),
     (np.full((1, 2), 1.5), np.zeros((1, 2)), "true"),
     (np.zeros((1, 2)), np.full((1, 2), np.nan), "decoded")],
)
def test_decode_error_rejects_bad_input_naming_it(true, decoded, name):
    with pytest.raises(ValueError, match=name):
        latent.decode_error(true, decoded)


def test_circular_mean_of_theta_wraps_at_pi():
    # Two neighbours just either side of θ = ±π: the same rotation, nearly. A plain mean
    # would say 0 (the opposite image); the circular mean says π.
    means = np.array([[0.0, 0.0], [0.1, 0.0], [9.0, 9.0]])
    factors = np.array([[2.0, math.pi - 0.1], [4.0, -math.pi + 0.1], [3.0, 0.0]])
    a, theta = latent.predict_factors([[0.05, 0.0]], means, factors, k=2)
    assert a[0] == pytest.approx(3.0)
    assert abs(theta[0]) == pytest.approx(math.pi, abs=1e-12)
    # k = 1: the nearest one's own factors
    a, theta = latent.predict_factors(np.array([[8.0, 8.0], [0.09, 0.0]]), means, factors, k=1)
    np.testing.assert_allclose(a, [3.0, 4.0])
    np.testing.assert_allclose(theta, [0.0, -math.pi + 0.1], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(z=[[0.0, 0.0, 0.0]]), "z must"),
     (dict(factors=np.zeros((2, 2))), "one row per mean"),
     (dict(factors=np.zeros((3, 3))), "factors"),
     (dict(k=4), "k must"),
     (dict(means=np.full((3, 2), np.nan)), "means")],
)
def test_predict_factors_rejects_bad_input_naming_it(kwargs, name):
    args = dict(z=[[0.0, 0.0]], means=np.zeros((3, 2)), factors=np.zeros((3, 2)), k=2)
    with pytest.raises(ValueError, match=name):
        latent.predict_factors(**{**args, **kwargs})


class _Oracle:
    """A "decoder" that renders the true flow at the factors the kNN predicts for z."""

    def __init__(self, means, factors, spec, k):
        self.means, self.factors, self.spec, self.k = means, factors, spec, k

    def decode(self, z):
        a, theta = latent.predict_factors(z, self.means, self.factors, self.k)
        return render_images(a, theta, self.spec).astype(np.float32) / 255.0


class _Grey:
    def decode(self, z):
        return np.full((len(z), 36, 36, 3), 0.5, np.float32)


def _heldout(spec):
    rng = np.random.default_rng(1)
    means = rng.normal(size=(40, 2))
    # a and θ are smooth functions of z, θ wrapped into the spec's window
    factors = np.stack([3.0 + 0.5 * means[:, 0], np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * math.pi)], 1)
    return means, factors.astype(np.float32)


def test_a_decoder_that_draws_the_truth_has_zero_error_everywhere():
    spec = FlowSpec()
    means, factors = _heldout(spec)
    grid = latent.cell_centres((-2.0, 2.0), (-2.0, 2.0), 3)
    result = latent.error_map(_Oracle(means, factors, spec, 5), grid, means, factors, spec, k=5)
    assert result.errors.shape == (9,)
    # only the uint8 → float32 rounding of the oracle's image separates the two
    np.testing.assert_allclose(result.errors, 0.0, atol=1e-3)
    assert np.all((result.theta >= spec.theta_min) & (result.theta < spec.theta_max))
    assert result.true.dtype == np.uint8 and result.decoded.shape == result.true.shape


def test_a_grey_decoder_costs_n_log2_minus_the_entropy_of_each_true_image():
    spec = FlowSpec()
    means, factors = _heldout(spec)
    grid = latent.cell_centres((-2.0, 2.0), (-2.0, 2.0), 2)
    result = latent.error_map(_Grey(), grid, means, factors, spec, k=3)
    a, theta = latent.predict_factors(grid, means, factors, k=3)
    true = np.clip(render_images(a, theta, spec) / 255.0, 1e-6, 1 - 1e-6)
    entropy = -(true * np.log(true) + (1 - true) * np.log(1 - true)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(result.errors, 36 * 36 * 3 * math.log(2.0) - entropy, rtol=1e-9)
    # cells differ (the flows differ), and each cell's images are the ones scored
    assert len(set(np.round(result.errors, 3))) == 4
    np.testing.assert_array_equal(result.true, render_images(a, theta, spec))


def test_cell_index_finds_the_cell_whose_centre_is_nearest():
    x_range, y_range, n = (-3.0, 1.0), (0.0, 2.0), 5
    centres = latent.cell_centres(x_range, y_range, n)
    rng = np.random.default_rng(3)
    for xy in rng.uniform((-3.0, 0.0), (1.0, 2.0), size=(50, 2)):
        scaled = (centres - xy) / [4.0 / n, 2.0 / n]  # cells are squares in these units
        expected = int(np.argmin(np.abs(scaled).max(axis=1)))
        assert latent.cell_index(xy, x_range, y_range, n) == expected
    assert latent.cell_index((-99.0, 99.0), x_range, y_range, n) == 0  # outside: nearest edge cell
    assert latent.cell_index((99.0, -99.0), x_range, y_range, n) == n * n - 1
    with pytest.raises(ValueError, match="xy"):
        latent.cell_index((0.0, math.nan), x_range, y_range, n)
