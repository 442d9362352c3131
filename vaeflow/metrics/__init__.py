"""Held-out metrics: likelihood bounds, factor recovery, FID and the realism of prior samples;
`evaluate` computes the first three."""

from vaeflow.metrics.bounds import bernoulli_floor, negative_elbo, negative_iwae
from vaeflow.metrics.evaluate import evaluate, posterior_means, prior_samples
from vaeflow.metrics.factors import factor_r2, knn_predict, r2_score
from vaeflow.metrics.features import FeatureNet, load_feature_net, save_feature_net
from vaeflow.metrics.fid import frechet_distance
from vaeflow.metrics.realism import nearest_mse, prior_sample_realism, unrealistic_share

__all__ = [
    "bernoulli_floor",
    "FeatureNet",
    "evaluate",
    "factor_r2",
    "frechet_distance",
    "knn_predict",
    "load_feature_net",
    "nearest_mse",
    "negative_elbo",
    "negative_iwae",
    "posterior_means",
    "prior_sample_realism",
    "prior_samples",
    "r2_score",
    "save_feature_net",
    "unrealistic_share",
]
