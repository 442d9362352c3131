"""The two bijectors of the study's chain that TFP does not ship: a quadratic shear and a rotation.

Both act on 2-vectors (``forward_min_event_ndims=1``) and are batched over their parameter:
a parameter of shape ``[N]`` broadcasts against events of shape ``[..., N, 2]``, so one
bijector object holds the transforms of N images. Both preserve area, so their log-det is 0.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, parameter_properties, tensor_util

tfb = tfp.bijectors


def _zero_log_det(param: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Zeros of the batch shape broadcast(y.shape[:-1], param.shape) — a volume-preserving map."""
    shape = tf.broadcast_dynamic_shape(tf.shape(y)[:-1], tf.shape(param))
    return tf.zeros(shape, dtype=y.dtype)


class QuadraticShear(tfb.Bijector):
    """f(z1, z2) = (z1, z2 + a·z1²); inverse (y1, y2 − a·y1²); log|det J| = 0.

    Arguments:
        a: shear coefficient, any shape (the batch shape); broadcasts against ``event[..., 0]``.
        validate_args: passed to `tfb.Bijector`.
        name: name scope.

    >>> import numpy as np
    >>> QuadraticShear(np.float32(2.0)).forward(np.float32([3.0, 1.0])).numpy()
    array([ 3., 19.], dtype=float32)
    """

    def __init__(self, a, validate_args: bool = False, name: str = "quadratic_shear"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([a], dtype_hint=tf.float32)
            self._a = tensor_util.convert_nonref_to_tensor(a, dtype=dtype, name="a")
            super().__init__(
                forward_min_event_ndims=1,
                is_constant_jacobian=True,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(a=parameter_properties.ParameterProperties(event_ndims=0))

    @property
    def a(self) -> tf.Tensor:
        return self._a

    def _forward(self, x):
        z1, z2 = x[..., 0], x[..., 1]
        return tf.stack([z1 + tf.zeros_like(self._a), z2 + self._a * tf.square(z1)], axis=-1)

    def _inverse(self, y):
        y1, y2 = y[..., 0], y[..., 1]
        return tf.stack([y1 + tf.zeros_like(self._a), y2 - self._a * tf.square(y1)], axis=-1)

    def _inverse_log_det_jacobian(self, y):
        return _zero_log_det(self._a, y)

    def _forward_log_det_jacobian(self, x):
        return _zero_log_det(self._a, x)


class Rotation(tfb.Bijector):
    """Counter-clockwise rotation by θ: f(x) = R(θ) x; inverse R(−θ) y; log|det J| = 0.

    Arguments:
        theta: angle in radians, any shape (the batch shape); broadcasts against ``event[..., 0]``.
        validate_args: passed to `tfb.Bijector`.
        name: name scope.

    >>> import numpy as np
    >>> Rotation(np.float32(np.pi / 2)).forward(np.float32([1.0, 0.0])).numpy().round(6).tolist()
    [-0.0, 1.0]
    """

    def __init__(self, theta, validate_args: bool = False, name: str = "rotation"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([theta], dtype_hint=tf.float32)
            self._theta = tensor_util.convert_nonref_to_tensor(theta, dtype=dtype, name="theta")
            super().__init__(
                forward_min_event_ndims=1,
                is_constant_jacobian=True,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(theta=parameter_properties.ParameterProperties(event_ndims=0))

    @property
    def theta(self) -> tf.Tensor:
        return self._theta

    def _rotate(self, v, sign: float):
        cos, sin = tf.cos(self._theta), sign * tf.sin(self._theta)
        v1, v2 = v[..., 0], v[..., 1]
        return tf.stack([cos * v1 - sin * v2, sin * v1 + cos * v2], axis=-1)

    def _forward(self, x):
        return self._rotate(x, 1.0)

    def _inverse(self, y):
        return self._rotate(y, -1.0)

    def _inverse_log_det_jacobian(self, y):
        return _zero_log_det(self._theta, y)

    def _forward_log_det_jacobian(self, x):
        return _zero_log_det(self._theta, x)
