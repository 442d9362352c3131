"""The unrealistic-prior-sample metric: nearest-image MSE and the share over the threshold."""

import numpy as np
import pytest

from vaeflow.metrics import nearest_mse, unrealistic_share


def test_nearest_mse_is_the_brute_force_minimum():
    rng = np.random.default_rng(0)
    queries = rng.integers(0, 256, (7, 6, 6, 3), dtype=np.uint8)
    references = rng.integers(0, 256, (30, 6, 6, 3), dtype=np.uint8)
    q = queries.astype(np.float64) / 255
    r = references.astype(np.float64) / 255
    brute = ((q[:, None] - r[None]) ** 2).mean(axis=(2, 3, 4)).min(axis=1)
    np.testing.assert_allclose(nearest_mse(queries, references, batch_size=3), brute, atol=1e-6)
    # a query equal to a reference is at distance 0
    assert nearest_mse(references[4:5], references)[0] == pytest.approx(0.0, abs=1e-6)


def test_nearest_mse_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="image shape"):
        nearest_mse(np.zeros((2, 6, 6, 3), np.uint8), np.zeros((2, 5, 5, 3), np.uint8))


def test_unrealistic_share_counts_samples_over_three_times_the_90th_percentile():
    recon = np.linspace(0.0, 1.0, 101)  # 90th percentile 0.9, threshold 2.7
    samples = np.array([0.1, 2.6, 2.7, 2.71, 10.0])
    result = unrealistic_share(samples, recon)
    assert result["reconstruction_quantile"] == pytest.approx(0.9)
    assert result["threshold"] == pytest.approx(2.7)
    assert result["unrealistic_share"] == pytest.approx(2 / 5)
    assert unrealistic_share(samples, recon, factor=1.0)["unrealistic_share"] == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="quantile"):
        unrealistic_share(samples, recon, quantile=1.0)
    with pytest.raises(ValueError, match="sample_distances"):
        unrealistic_share([], recon)
