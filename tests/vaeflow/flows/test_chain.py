"""The batched chain: shapes, equality with per-image flows, normalisation, per-stage access."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow.flows.chain import STAGE_NAMES, flow_distribution, flow_stages, stage_distributions
from vaeflow.flows.spec import FlowSpec

tfd = tfp.distributions

A = np.array([3.0, 1.5, 4.2])
THETA = np.array([0.3, 2.0, 4.0])


def test_one_call_builds_a_batch_of_flows():
    d = flow_distribution(A, THETA)
    assert d.batch_shape == [3] and d.event_shape == [2]
    x = d.sample(7, seed=1)
    assert x.shape == (7, 3, 2)
    assert d.log_prob(x).shape == (7, 3)
    assert np.all(np.abs(x.numpy()) < 1)  # tanh squashes into the square


def test_batched_log_prob_equals_each_flow_alone():
    x = np.random.default_rng(0).uniform(-0.9, 0.9, size=(50, 1, 2))
    batched = flow_distribution(A, THETA, dtype=tf.float64).log_prob(np.repeat(x, 3, axis=1)).numpy()
    for i in range(3):
        alone = flow_distribution(A[i : i + 1], THETA[i : i + 1], dtype=tf.float64).log_prob(x).numpy()[:, 0]
        np.testing.assert_allclose(batched[:, i], alone, rtol=1e-12)


@pytest.mark.parametrize("a, theta", [(3.0, 0.0), (5.5, 2.2), (1.0, 4.0)])
def test_density_integrates_to_one_over_the_square(a, theta):
    # Midpoint rule on a fine grid over (−1, 1)²; with tanh on all mass lies inside.
    m = 1200
    g = -1 + (np.arange(m) + 0.5) * 2 / m
    X, Y = np.meshgrid(g, g)
    pts = np.stack([X, Y], axis=-1).reshape(-1, 1, 2)
    p = flow_distribution(a, theta, dtype=tf.float64).prob(pts).numpy()
    assert abs(p.sum() * (2 / m) ** 2 - 1.0) < 0.01


def test_log_prob_is_the_change_of_variables_formula():
    # p(x) = N(z; 0, s²I) · |det ∂f⁻¹/∂x|, with z = f⁻¹(x) computed by hand for one image.
    spec = FlowSpec()
    a, theta = 2.5, 1.1
    x = np.array([0.3, -0.4])
    u = np.arctanh(x)
    c, s = np.cos(theta), np.sin(theta)
    r = np.array([c * u[0] + s * u[1], -s * u[0] + c * u[1]])
    w = np.array([r[0], r[1] - a * r[0] ** 2])
    z = w / np.array(spec.scale) - np.array(spec.shift)
    log_base = -0.5 * np.sum(z**2) / spec.base_scale**2 - np.log(2 * np.pi * spec.base_scale**2)
    log_det = -np.log(np.prod(spec.scale)) - np.sum(np.log1p(-(x**2)))
    got = flow_distribution(a, theta, dtype=tf.float64).log_prob(x[None, :]).numpy()[0]
    assert got == pytest.approx(log_base + log_det, rel=1e-10)


def test_stages_are_named_in_application_order_and_tanh_is_optional():
    assert [n for n, _ in flow_stages(A, THETA)] == list(STAGE_NAMES)
    assert [n for n, _ in flow_stages(A, THETA, FlowSpec(tanh=False))] == list(STAGE_NAMES[:-1])


def test_stage_distributions_push_the_base_forward_one_stage_at_a_time():
    stages = stage_distributions(A, THETA, dtype=tf.float64)
    assert [n for n, _ in stages] == ["base", *STAGE_NAMES]
    x = np.random.default_rng(1).uniform(-0.9, 0.9, size=(20, 3, 2))
    # After the shift the law is N((0, −2), 0.3² I) exactly.
    shifted = tfd.MultivariateNormalDiag(loc=tf.constant([0.0, -2.0], tf.float64), scale_diag=[0.3, 0.3])
    np.testing.assert_allclose(stages[1][1].log_prob(x).numpy(), shifted.log_prob(x).numpy(), rtol=1e-12)
    # The last stage is the whole flow.
    whole = flow_distribution(A, THETA, dtype=tf.float64).log_prob(x).numpy()
    np.testing.assert_allclose(stages[-1][1].log_prob(x).numpy(), whole, rtol=1e-12)
    for _, d in stages:
        assert d.batch_shape == [3] and d.sample(4, seed=2).shape == (4, 3, 2)


@pytest.mark.parametrize(
    "a, theta, field",
    [
        (np.zeros((2, 2)), np.zeros((2, 2)), "a"),
        (np.zeros(3), np.zeros(2), "a and theta"),
        (np.array([1.0, np.nan]), np.zeros(2), "a"),
        (np.zeros(2), np.array([np.inf, 0.0]), "theta"),
        (np.zeros(0), np.zeros(0), "a"),
        ("abc", 0.0, "a"),
    ],
)
def test_bad_factors_are_value_errors_naming_the_argument(a, theta, field):
    with pytest.raises(ValueError, match=field):
        flow_distribution(a, theta)


def test_the_base_is_an_isotropic_normal_with_the_specs_scale():
    from vaeflow.flows.chain import base_distribution

    spec = FlowSpec(base_scale=0.7)
    base = base_distribution(3, spec, tf.float64)
    assert base.batch_shape == [3] and base.event_shape == [2]
    z = np.random.default_rng(2).normal(size=(50, 3, 2))
    expected = -0.5 * (z**2).sum(axis=-1) / 0.49 - np.log(2 * np.pi * 0.49)
    np.testing.assert_allclose(base.log_prob(z).numpy(), expected, rtol=1e-12)
    draws = base.sample(20000, seed=3).numpy()
    assert draws.shape == (20000, 3, 2)
    np.testing.assert_allclose(draws.std(axis=0), 0.7, rtol=0.03)
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=0.05)
