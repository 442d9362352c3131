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


@pytest.mark.parametrize("spec", [FlowSpec(), FlowSpec(tanh=False, shift=(0.5, -1.0), scale=(-1.2, 0.8),
                                                       base_scale=0.6)])
def test_compiled_stage_clouds_and_log_probs_equal_the_stage_distributions(spec):
    from vaeflow.flows.chain import stage_clouds, stage_log_probs

    a, theta = 2.5, 1.1
    stages = stage_distributions(a, theta, spec)
    points = np.random.default_rng(4).normal(scale=spec.base_scale, size=(40, 2))
    clouds = stage_clouds(points, a, theta, spec)
    assert clouds.shape == (len(stages), 40, 2)
    expected = [points]
    for _, bijector in flow_stages(a, theta, spec):
        expected.append(bijector.forward(expected[-1][:, None, :]).numpy()[:, 0, :])
    np.testing.assert_allclose(clouds, np.stack(expected), rtol=1e-5, atol=1e-5)
    grids = np.random.default_rng(5).uniform(-0.9, 0.9, size=(len(stages), 30, 2)).astype(np.float32)
    got = stage_log_probs(grids, a, theta, spec)
    want = np.stack([d.log_prob(g[:, None, :]).numpy()[:, 0] for (_, d), g in zip(stages, grids)])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="grids"):
        stage_log_probs(grids[:-1] if spec.tanh else grids[:, :, :1], a, theta, spec)


def test_one_trace_serves_every_spec_and_image():
    # The Dataset page reruns the inspector on every slider move: a retrace per spec would
    # cost more than the eager maths it replaces.
    from vaeflow.flows import chain

    grids = np.zeros((6, 16, 2), np.float32)
    chain.stage_log_probs(grids, 1.0, 0.0, FlowSpec())
    chain.stage_clouds(np.zeros((8, 2)), 1.0, 0.0, FlowSpec())
    traces = (chain._compiled_log_probs.experimental_get_tracing_count(),
              chain._compiled_clouds.experimental_get_tracing_count())
    for k, spec in enumerate([FlowSpec(a_mean=-2.0), FlowSpec(shift=(1.0, 1.0), scale=(2.0, 0.5)),
                              FlowSpec(base_scale=0.9, extent=2.0)]):
        chain.stage_log_probs(grids, 0.5 * k, 0.3 * k, spec)
        chain.stage_clouds(np.ones((8, 2)), 0.5 * k, 0.3 * k, spec)
    assert (chain._compiled_log_probs.experimental_get_tracing_count(),
            chain._compiled_clouds.experimental_get_tracing_count()) == traces
