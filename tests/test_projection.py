"""PCA's variance spectrum: every principal axis's share of the variance, as a CSV."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_pipeline.projection import explained_variance_ratio, variance_csv


def test_explained_variance_ratio_matches_scikit_learn_pca():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    x[:, 3] = 0.5  # a constant pixel, as MNIST's borders: one zero eigenvalue
    ours = explained_variance_ratio(x, chunk=37)  # blocks that do not divide the rows
    theirs = PCA(svd_solver="full").fit(x).explained_variance_ratio_
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    assert ours.shape == (12,)
    assert ours.sum() == pytest.approx(1.0)
    assert ours[-1] == pytest.approx(0.0, abs=1e-12)
    # float32 features, as the normalize stage writes them: products in float32
    single = explained_variance_ratio(x.astype(np.float32), chunk=37)
    np.testing.assert_allclose(single, theirs, atol=1e-6)
    np.testing.assert_allclose(np.cumsum(single), np.cumsum(theirs), atol=1e-6)


def test_variance_csv_gives_each_share_and_the_running_total_to_8_digits():
    assert variance_csv(np.array([0.5, 1 / 3, 1 / 6])).splitlines() == [
        "components,share,cumulative",
        "1,0.5,0.5",
        "2,0.33333333,0.83333333",
        "3,0.16666667,1",
    ]
