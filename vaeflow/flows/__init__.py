"""The study's normalizing flow: its spec, its two custom bijectors and the batched chain."""

from vaeflow.flows.bijectors import QuadraticShear, Rotation
from vaeflow.flows.chain import (
    STAGE_NAMES,
    flow_bijector,
    flow_distribution,
    flow_stages,
    stage_distributions,
)
from vaeflow.flows.spec import FlowSpec

__all__ = [
    "FlowSpec",
    "QuadraticShear",
    "Rotation",
    "STAGE_NAMES",
    "flow_bijector",
    "flow_distribution",
    "flow_stages",
    "stage_distributions",
]
