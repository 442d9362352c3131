"""Held-out metrics: likelihood bounds, factor recovery and FID; `evaluate` computes them all."""

from vaeflow.metrics.bounds import bernoulli_floor, negative_elbo, negative_iwae
from vaeflow.metrics.evaluate import evaluate, posterior_means, prior_samples
from vaeflow.metrics.factors import factor_r2, knn_predict, r2_score
from vaeflow.metrics.features import FeatureNet, load_feature_net, save_feature_net
from vaeflow.metrics.fid import frechet_distance

__all__ = [
    "bernoulli_floor",
    "FeatureNet",
    "evaluate",
    "factor_r2",
    "frechet_distance",
    "knn_predict",
    "load_feature_net",
    "negative_elbo",
    "negative_iwae",
    "posterior_means",
    "prior_samples",
    "r2_score",
    "save_feature_net",
]
