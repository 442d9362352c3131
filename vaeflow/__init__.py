"""vaeflow: flow datasets, a VAE with a 2-D latent, its trainer, run directories and metrics.

Public names are re-exported here; see README.md for the tour.
"""

from vaeflow.flows.spec import FlowSpec

__all__ = ["FlowSpec"]
