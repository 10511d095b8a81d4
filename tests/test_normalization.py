"""The feature rows normalize writes: each scaling method, and deskewing only when asked."""

from __future__ import annotations

import numpy as np

from mnist_pipeline.deskew import deskew
from mnist_pipeline.normalization import normalize

IMAGES = np.array([[[0, 255], [51, 102]], [[255, 255], [0, 0]]], dtype=np.uint8)


def test_scale_divides_by_255():
    (rows,) = normalize("scale", IMAGES[:1])
    np.testing.assert_allclose(rows, [[0, 1, 0.2, 0.4]])
    assert rows.dtype == np.float32


def test_offset_maps_into_001_to_1():
    (rows,) = normalize("offset", IMAGES[:1])
    np.testing.assert_allclose(rows, [[0.01, 1.0, 0.208, 0.406]], rtol=1e-6)


def test_l2_gives_unit_rows():
    rows = normalize("l2", IMAGES)
    np.testing.assert_allclose(np.linalg.norm(rows[0], axis=1), [1, 1], rtol=1e-6)


def test_standardize_uses_training_statistics_only():
    train, test = normalize("standardize", IMAGES, IMAGES[:1] // 2)
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(train[:, 1], 0)  # a constant pixel stays 0, not NaN
    np.testing.assert_allclose(test[0, 0], (0 - 0.5) / 0.5)


def test_normalize_deskews_only_when_asked(mnist_slice):
    images = mnist_slice["train_images"][:20]
    (plain,) = normalize("scale", images)
    (straightened,) = normalize("scale", images, deskewed=True)
    np.testing.assert_array_equal(plain, images.reshape(20, -1) / np.float32(255))
    np.testing.assert_allclose(straightened, deskew(images).reshape(20, -1) / 255, atol=1e-6)
    assert not np.array_equal(plain, straightened)
