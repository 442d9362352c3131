"""The study's flow as one batched `TransformedDistribution`, with access to every stage.

    z ~ N(0, base_scale² I),   x = f5 ∘ f4 ∘ f3 ∘ f2 ∘ f1 (z)

    f1 shift by `spec.shift`, f2 scale by `spec.scale`, f3 quadratic shear (z1, z2 + a z1²),
    f4 rotation by θ, f5 tanh (when `spec.tanh`).

One call builds the flows of N images at once: the shear and rotation carry parameters of shape
[N], so the distribution has batch shape [N] and event shape [2]. Evaluate it on points of shape
[..., N, 2] to get log-densities of shape [..., N].
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow.flows.bijectors import QuadraticShear, Rotation
from vaeflow.flows.spec import FlowSpec

tfb = tfp.bijectors
tfd = tfp.distributions

STAGE_NAMES = ("shift", "scale", "shear", "rotation", "tanh")


def as_factors(a, theta) -> tuple[np.ndarray, np.ndarray]:
    """Validate per-image factors: two finite 1-D arrays of equal length N ≥ 1 (float64 copies).

    Scalars count as length 1.

    Raises:
        ValueError: naming `a` or `theta` for a wrong shape, a length mismatch or a non-finite value.
    """
    out = []
    for name, value in (("a", a), ("theta", theta)):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be an array of numbers: {err}") from None
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D of shape (N,), got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"{name} must hold at least one value, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got {arr[~np.isfinite(arr)][:3]}...")
        out.append(arr)
    if out[0].shape != out[1].shape:
        raise ValueError(f"a and theta must have the same shape, got {out[0].shape} and {out[1].shape}")
    return out[0], out[1]


def flow_stages(a, theta, spec: FlowSpec | None = None, dtype=tf.float32) -> list[tuple[str, tfb.Bijector]]:
    """The chain's stages in application order, as ``(name, bijector)`` pairs.

    Names are taken from `STAGE_NAMES`; "tanh" is left out when ``spec.tanh`` is False.

    Arguments:
        a, theta: per-image shear coefficients and angles, 1-D of equal length N (or scalars).
        spec: the flow; `FlowSpec()` when None.
        dtype: float dtype of the parameters (float32 to render, float64 for exact tests).

    >>> [name for name, _ in flow_stages(3.0, 0.5)]
    ['shift', 'scale', 'shear', 'rotation', 'tanh']
    """
    spec = spec or FlowSpec()
    a, theta = as_factors(a, theta)
    return chain_stages(tf.constant(a, dtype=dtype), tf.constant(theta, dtype=dtype), spec)


def chain_stages(a: tf.Tensor, theta: tf.Tensor, spec: FlowSpec) -> list[tuple[str, tfb.Bijector]]:
    """`flow_stages` for tensors already validated (usable inside `tf.function`); dtype of `a`."""
    dtype = a.dtype
    stages = [
        ("shift", tfb.Shift(tf.constant(spec.shift, dtype=dtype))),
        ("scale", tfb.Scale(tf.constant(spec.scale, dtype=dtype))),
        ("shear", QuadraticShear(a)),
        ("rotation", Rotation(theta)),
    ]
    if spec.tanh:
        stages.append(("tanh", tfb.Tanh()))
    return stages


def flow_bijector(a, theta, spec: FlowSpec | None = None, dtype=tf.float32) -> tfb.Chain:
    """The whole chain f5 ∘ … ∘ f1 as one `tfb.Chain` (batch shape [N])."""
    # tfb.Chain applies its list last-to-first, so reverse the application order.
    return tfb.Chain([b for _, b in reversed(flow_stages(a, theta, spec, dtype))])


def base_distribution(batch_shape, spec: FlowSpec | None = None, dtype=tf.float32) -> tfd.Distribution:
    """N(0, base_scale² I) on R², event shape [2], batch shape `batch_shape` (an int n means [n])."""
    spec = spec or FlowSpec()
    shape = tf.concat([tf.reshape(batch_shape, [-1]), [2]], axis=0)
    # Independent Normals rather than MultivariateNormalDiag: the same law, without the linear
    # operator, whose overhead the flow inspector's eager log-densities would pay on every grid.
    normal = tfd.Normal(loc=tf.zeros(shape, dtype), scale=tf.constant(spec.base_scale, dtype))
    return tfd.Independent(normal, reinterpreted_batch_ndims=1)


def flow_distribution(a, theta, spec: FlowSpec | None = None, dtype=tf.float32) -> tfd.TransformedDistribution:
    """The flows of N images as one `TransformedDistribution`: batch shape [N], event shape [2].

    Arguments:
        a, theta: 1-D of equal length N (see `as_factors`).
        spec: the flow; `FlowSpec()` when None.
        dtype: float32 (rendering) or float64 (exact tests).

    >>> import numpy as np
    >>> d = flow_distribution(np.array([3.0, 2.0]), np.array([0.0, 1.0]))
    >>> d.batch_shape, d.event_shape
    (TensorShape([2]), TensorShape([2]))
    >>> d.log_prob(np.zeros((5, 2, 2), np.float32)).shape
    TensorShape([5, 2])
    """
    a, theta = as_factors(a, theta)
    return chain_distribution(tf.constant(a, dtype=dtype), tf.constant(theta, dtype=dtype), spec or FlowSpec())


def chain_distribution(a: tf.Tensor, theta: tf.Tensor, spec: FlowSpec) -> tfd.TransformedDistribution:
    """`flow_distribution` for tensors already validated (usable inside `tf.function`).

    The batch shape is ``a.shape`` (= ``theta.shape``), so ``a[:, None]`` gives batch [N, 1],
    which broadcasts against points of shape [1, M, 2] to log-densities of shape [N, M].
    """
    stages = chain_stages(a, theta, spec)
    return tfd.TransformedDistribution(
        distribution=base_distribution(tf.shape(a), spec, a.dtype),
        bijector=tfb.Chain([b for _, b in reversed(stages)]),
    )


def stage_distributions(
    a, theta, spec: FlowSpec | None = None, dtype=tf.float32
) -> list[tuple[str, tfd.Distribution]]:
    """The base and its push-forward after each stage: ``[("base", p0), ("shift", p1), …]``.

    Entry k is the base pushed through stages 1..k, so the last entry is `flow_distribution`.
    Each has batch shape [N] and event shape [2]; use ``.sample`` for the cloud and
    ``.log_prob`` for the density after that stage (the flow inspector's panels).

    >>> [name for name, _ in stage_distributions(3.0, 0.5)]
    ['base', 'shift', 'scale', 'shear', 'rotation', 'tanh']
    """
    stages = flow_stages(a, theta, spec, dtype)
    base = base_distribution(as_factors(a, theta)[0].size, spec, dtype)
    out: list[tuple[str, tfd.Distribution]] = [("base", base)]
    for k in range(1, len(stages) + 1):
        chain = tfb.Chain([b for _, b in reversed(stages[:k])])
        out.append((stages[k - 1][0], tfd.TransformedDistribution(distribution=base, bijector=chain)))
    return out
