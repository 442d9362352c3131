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
    return _stages(a, theta, tf.constant(spec.shift, dtype=dtype), tf.constant(spec.scale, dtype=dtype),
                   spec.tanh)


def _stages(a, theta, shift, scale, tanh: bool) -> list[tuple[str, tfb.Bijector]]:
    stages = [
        ("shift", tfb.Shift(shift)),
        ("scale", tfb.Scale(scale)),
        ("shear", QuadraticShear(a)),
        ("rotation", Rotation(theta)),
    ]
    if tanh:
        stages.append(("tanh", tfb.Tanh()))
    return stages


def flow_bijector(a, theta, spec: FlowSpec | None = None, dtype=tf.float32) -> tfb.Chain:
    """The whole chain f5 ∘ … ∘ f1 as one `tfb.Chain` (batch shape [N])."""
    # tfb.Chain applies its list last-to-first, so reverse the application order.
    return tfb.Chain([b for _, b in reversed(flow_stages(a, theta, spec, dtype))])


def base_distribution(batch_shape, spec: FlowSpec | None = None, dtype=tf.float32) -> tfd.Distribution:
    """N(0, base_scale² I) on R², event shape [2], batch shape `batch_shape` (an int n means [n])."""
    spec = spec or FlowSpec()
    return _base(batch_shape, tf.constant(spec.base_scale, dtype), dtype)


def _base(batch_shape, base_scale, dtype) -> tfd.Distribution:
    shape = tf.concat([tf.reshape(batch_shape, [-1]), [2]], axis=0)
    # Independent Normals rather than MultivariateNormalDiag: the same law, without the linear
    # operator, whose overhead the flow inspector's eager log-densities would pay on every grid.
    normal = tfd.Normal(loc=tf.zeros(shape, dtype), scale=base_scale)
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


def stage_clouds(points, a: float, theta: float, spec: FlowSpec | None = None) -> np.ndarray:
    """Base points pushed through the stages of one image's flow, compiled (the flow inspector's
    clouds, fast enough to follow a slider).

    Arguments:
        points: float (n, 2) draws of the base N(0, base_scale² I).
        a, theta: the image's shear coefficient and rotation angle (radians), scalars.
        spec: the flow; `FlowSpec()` when None.

    Returns:
        float32 (K + 1, n, 2): entry 0 is `points`, entry k the points after stages 1..k, for the
        K stages of `flow_stages` (the same as applying their bijectors one by one).
    """
    spec = spec or FlowSpec()
    a, theta = (float(v[0]) for v in as_factors(a, theta))
    points = tf.constant(np.asarray(points, np.float32).reshape(-1, 1, 2))
    return _compiled_clouds(points, *_parameters(a, theta, spec), spec.tanh).numpy()[:, :, 0, :]


def stage_log_probs(grids, a: float, theta: float, spec: FlowSpec | None = None) -> np.ndarray:
    """Each stage's log-density on its own points, compiled: entry k of `stage_distributions`
    (one image) evaluated at ``grids[k]``.

    Arguments:
        grids: float (K + 1, m, 2), one set of m points per entry of `stage_distributions`.
        a, theta, spec: as in `stage_clouds`.

    Returns:
        float32 (K + 1, m) log p_k(grids[k]). After tanh, points outside (−1, 1)² give NaN or
        −inf (the inverse is not defined there): clip or mask them.
    """
    spec = spec or FlowSpec()
    a, theta = (float(v[0]) for v in as_factors(a, theta))
    grids = np.asarray(grids, np.float32)
    n_entries = len(STAGE_NAMES) + (0 if spec.tanh else -1) + 1
    if grids.ndim != 3 or grids.shape[0] != n_entries or grids.shape[2] != 2:
        raise ValueError(f"grids must have shape ({n_entries}, m, 2) for this spec, got {grids.shape}")
    grids = tf.constant(grids[:, :, None, :])
    return _compiled_log_probs(grids, *_parameters(a, theta, spec), spec.tanh).numpy()[:, :, 0]


def _parameters(a: float, theta: float, spec: FlowSpec) -> tuple[tf.Tensor, ...]:
    # Tensors, not Python numbers, so one trace serves every spec (one per value of tanh).
    return tuple(tf.constant(v, tf.float32) for v in ([a], [theta], spec.shift, spec.scale, spec.base_scale))


@tf.function(reduce_retracing=True)
def _compiled_clouds(points, a, theta, shift, scale, base_scale, tanh: bool):
    del base_scale
    clouds = [points]
    for _, bijector in _stages(a, theta, shift, scale, tanh):
        clouds.append(bijector.forward(clouds[-1]))
    return tf.stack(clouds)


@tf.function(reduce_retracing=True)
def _compiled_log_probs(grids, a, theta, shift, scale, base_scale, tanh: bool):
    stages = _stages(a, theta, shift, scale, tanh)
    base = _base(tf.shape(a), base_scale, a.dtype)
    log_probs = [base.log_prob(grids[0])]
    for k in range(1, len(stages) + 1):
        chain = tfb.Chain([b for _, b in reversed(stages[:k])])
        log_probs.append(tfd.TransformedDistribution(distribution=base, bijector=chain).log_prob(grids[k]))
    return tf.stack(log_probs)
