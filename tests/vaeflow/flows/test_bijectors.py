"""One property suite for every bijector of the chain (and the chain itself), in float64.

Adding a bijector = adding one line to BIJECTORS.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow.flows.bijectors import QuadraticShear, Rotation
from vaeflow.flows.chain import flow_bijector
from vaeflow.flows.spec import FlowSpec

tfb = tfp.bijectors
F64 = tf.float64

A = np.array([3.0, 0.5, -1.2, 4.7])  # one parameter per batch member (N = 4)
THETA = np.array([0.0, 1.0, 2.5, 5.9])

BIJECTORS = {
    "shift": lambda: tfb.Shift(tf.constant([0.0, -2.0], F64)),
    "scale": lambda: tfb.Scale(tf.constant([1.0, 0.5], F64)),
    "shear": lambda: QuadraticShear(tf.constant(A, F64)),
    "rotation": lambda: Rotation(tf.constant(THETA, F64)),
    "tanh": lambda: tfb.Tanh(),
    "chain": lambda: flow_bijector(A, THETA, FlowSpec(), dtype=F64),
    "chain_no_tanh": lambda: flow_bijector(A, THETA, FlowSpec(tanh=False), dtype=F64),
}


def check_bijector(bijector: tfb.Bijector, x: np.ndarray) -> None:
    """Round trip, fldj(x) = −ildj(f(x)), fldj = log|det ∂f/∂x| by autodiff, all finite.

    `x`: float64 points of shape (M, N, 2), N = the bijector's batch size.
    """
    x = tf.constant(x, F64)
    y = bijector.forward(x)
    assert y.shape == x.shape
    assert np.all(np.isfinite(y.numpy()))
    np.testing.assert_allclose(bijector.inverse(y).numpy(), x.numpy(), rtol=1e-9, atol=1e-9)

    # Constant-Jacobian bijectors (Shift, Scale) may return a log-det that merely broadcasts.
    fldj = np.broadcast_to(bijector.forward_log_det_jacobian(x, event_ndims=1).numpy(), x.shape[:-1])
    ildj = np.broadcast_to(bijector.inverse_log_det_jacobian(y, event_ndims=1).numpy(), x.shape[:-1])
    np.testing.assert_allclose(fldj, -ildj, rtol=1e-9, atol=1e-9)

    flat = tf.reshape(x, [-1, 2])  # batch_jacobian wants (B, 2); rebuild the (M, N) layout inside
    with tf.GradientTape() as tape:
        tape.watch(flat)
        out = tf.reshape(bijector.forward(tf.reshape(flat, x.shape)), [-1, 2])
    jac = tape.batch_jacobian(out, flat)  # (M·N, 2, 2): each point's output depends on it alone
    _, logdet = np.linalg.slogdet(jac.numpy())
    np.testing.assert_allclose(fldj.reshape(-1), logdet, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("name", sorted(BIJECTORS))
def test_bijector_properties(name):
    x = np.random.default_rng(0).normal(0.0, 0.6, size=(5, A.size, 2))
    check_bijector(BIJECTORS[name](), x)


@pytest.mark.parametrize("name", ["tanh", "chain"])
def test_finite_near_the_tanh_edge(name):
    bijector = BIJECTORS[name]()
    # Points within 1e-12 of the square's edge and corners (float64 still resolves them).
    edge = 1.0 - 1e-12
    y = np.array([[edge, 0.0], [-edge, 0.3], [0.2, edge], [edge, -edge]])[:, None, :].repeat(A.size, axis=1)
    x = bijector.inverse(tf.constant(y, F64))
    ildj = bijector.inverse_log_det_jacobian(tf.constant(y, F64), event_ndims=1)
    assert np.all(np.isfinite(x.numpy())) and np.all(np.isfinite(ildj.numpy()))
    np.testing.assert_allclose(bijector.forward(x).numpy(), y, rtol=0, atol=1e-9)


def test_shear_and_rotation_are_the_studys_maps():
    z = tf.constant([[[2.0, 1.0]] * A.size], F64)  # (1, N, 2)
    sheared = QuadraticShear(tf.constant(A, F64)).forward(z).numpy()[0]
    np.testing.assert_allclose(sheared, np.stack([np.full(A.size, 2.0), 1.0 + A * 4.0], axis=1))
    rotated = Rotation(tf.constant(THETA, F64)).forward(z).numpy()[0]
    c, s = np.cos(THETA), np.sin(THETA)
    np.testing.assert_allclose(rotated, np.stack([2 * c - s, 2 * s + c], axis=1))


def test_parameters_set_the_batch_shape():
    assert QuadraticShear(tf.constant(A, F64)).experimental_batch_shape() == [A.size]
    assert Rotation(tf.constant(THETA, F64)).experimental_batch_shape() == [A.size]
