"""The feature steps as scikit-learn transformers, uint8 images to a model's rows: the feature
stages and a packaged model (on a person's picture) run the same code, so give the same bits.
Each feature stage writes its fitted ``Pipeline`` of them beside its npz files (``CHAIN_FILE``)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from mnist_pipeline.deskew import deskew
from mnist_pipeline.estimators import check_values

CHAIN_FILE = "features.skops"
METHODS = ("scale", "offset", "l2", "standardize")


def _image_batch(images: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``images`` as n x rows x columns, of the image ``shape`` the chain was fitted on if given."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images as an array of n x rows x columns, got {images.shape}")
    if shape is not None and images.shape[1:] != tuple(shape):
        expected = "x".join(map(str, shape))
        raise ValueError(f"expected images of {expected} pixels, got {images.shape[1:]}")
    return images


class WholeImages(TransformerMixin, BaseEstimator):
    """Images kept as uint8 images (stage ``images``, for the convolutional network, which
    scales them itself): only their shape is checked."""

    def fit(self, images: np.ndarray, y: Any = None) -> WholeImages:
        """Remember the image shape."""
        self.image_shape_ = _image_batch(images).shape[1:]
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        """The images, unchanged."""
        check_is_fitted(self)
        return _image_batch(images, self.image_shape_)


class RawRows(WholeImages):
    """Images flattened to one row of raw pixels each, their type unchanged (stage ``raw``)."""

    def transform(self, images: np.ndarray) -> np.ndarray:
        """One row of pixels per image."""
        images = super().transform(images)
        return images.reshape(len(images), int(np.prod(images.shape[1:])))


class PixelRows(TransformerMixin, BaseEstimator):
    """Images to float32 rows (stage ``normalize``): deskewed if ``deskew``, divided by 255,
    then ``method``: ``scale`` (no more), ``offset`` (x * 0.99 + 0.01), ``l2`` (unit rows) or
    ``standardize`` (each pixel by its mean and standard deviation over the fitted images)."""

    def __init__(self, method: Literal[METHODS] = "scale", deskew: bool = False) -> None:
        self.method = method
        self.deskew = deskew

    def _scaled(self, images: np.ndarray) -> np.ndarray:
        if self.deskew:
            images = deskew(images)
        return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)

    def fit(self, images: np.ndarray, y: Any = None) -> PixelRows:
        """Fit ``standardize``'s mean and standard deviation (nothing for the others)."""
        self.fit_transform(images)
        return self

    def fit_transform(self, images: np.ndarray, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit on ``images`` and return their rows, deskewing them once."""
        check_values(self)
        images = _image_batch(images)
        self.image_shape_ = images.shape[1:]
        rows = self._scaled(images)
        if self.method == "standardize":
            self.mean_ = rows.mean(axis=0)
            self.std_ = rows.std(axis=0)
            self.std_[self.std_ == 0] = 1.0
        return self._finish(rows)

    def transform(self, images: np.ndarray) -> np.ndarray:
        """The rows of ``images``, as fitted."""
        check_is_fitted(self)
        return self._finish(self._scaled(_image_batch(images, self.image_shape_)))

    def _finish(self, rows: np.ndarray) -> np.ndarray:
        if self.method == "offset":
            return rows * np.float32(0.99) + np.float32(0.01)
        if self.method == "l2":
            return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        if self.method == "standardize":
            return (rows - self.mean_) / self.std_
        return rows


class Float32PCA(PCA):
    """scikit-learn's ``PCA`` whose ``transform`` returns float32 rows, as stage pca writes."""

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The projection onto the components, in float32."""
        return super().transform(x).astype(np.float32)


TRANSFORMERS = (RawRows, WholeImages, PixelRows, Float32PCA)  # model_files' trusted types
