"""The feature steps as scikit-learn transformers, from uint8 images of the dataset's shape to
the rows a model reads: the one implementation that the feature stages run on the dataset and
that a packaged model runs on a person's picture, so that both give the same bits.

Each feature stage writes its fitted chain (``CHAIN_FILE``, a ``Pipeline`` of these steps)
beside its npz files; a stage built on another's output (pca on normalize) appends its own
step to that stage's chain. ``raw``: ``RawRows``; ``images``: ``WholeImages``; ``normalize``:
``PixelRows``; ``pca``: ``PixelRows`` then ``Float32PCA``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from mnist_pipeline.deskew import deskew
from mnist_pipeline.estimators import check_rules, one_of

CHAIN_FILE = "features.skops"
"""The fitted chain of a feature stage, in its output folder."""
METHODS = ("scale", "offset", "l2", "standardize")


def image_batch(images: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``images`` as an array of n images (n x rows x columns), refusing any other shape, and
    another image shape than ``shape`` where one is given (what the chain was fitted on)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images as an array of n x rows x columns, got {images.shape}")
    if shape is not None and images.shape[1:] != tuple(shape):
        expected = "x".join(map(str, shape))
        raise ValueError(f"expected images of {expected} pixels, got {images.shape[1:]}")
    return images


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


class RawRows(TransformerMixin, BaseEstimator):
    """Images flattened to one row of raw pixels each, their type unchanged (stage ``raw``)."""

    def fit(self, images: np.ndarray, y: Any = None) -> RawRows:
        """Remember the image shape."""
        self.image_shape_ = image_batch(images).shape[1:]
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        """One row of pixels per image."""
        check_is_fitted(self)
        images = image_batch(images, self.image_shape_)
        return images.reshape(len(images), int(np.prod(images.shape[1:])))


class WholeImages(TransformerMixin, BaseEstimator):
    """Images kept as images, N x rows x columns of uint8 pixels (stage ``images``, for the
    convolutional network, which scales them itself): only their shape is checked."""

    def fit(self, images: np.ndarray, y: Any = None) -> WholeImages:
        """Remember the image shape."""
        self.image_shape_ = image_batch(images).shape[1:]
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        """The images, unchanged."""
        check_is_fitted(self)
        return image_batch(images, self.image_shape_)


class PixelRows(TransformerMixin, BaseEstimator):
    """Images to float32 rows (stages ``normalize``, ``normalize_deskewed``): deskewed if
    ``deskew``, divided by 255, then by ``method``: ``scale`` (nothing more), ``offset``
    (x * 0.99 + 0.01), ``l2`` (unit rows), ``standardize`` (each pixel centred and scaled
    by its mean and standard deviation over the images it was fitted on)."""

    def __init__(self, method: str = "scale", deskew: bool = False) -> None:
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
        check_rules(self, {"method": one_of(*METHODS), "deskew": ("true or false", _is_bool)})
        images = image_batch(images)
        self.image_shape_ = images.shape[1:]
        rows = self._scaled(images)
        if self.method == "standardize":
            self.mean_ = rows.mean(axis=0)
            std = rows.std(axis=0)
            std[std == 0] = 1.0
            self.std_ = std
        return self._finish(rows)

    def transform(self, images: np.ndarray) -> np.ndarray:
        """The rows of ``images``, as fitted."""
        check_is_fitted(self)
        return self._finish(self._scaled(image_batch(images, self.image_shape_)))

    def _finish(self, rows: np.ndarray) -> np.ndarray:
        if self.method == "offset":
            return rows * np.float32(0.99) + np.float32(0.01)
        if self.method == "l2":
            return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        if self.method == "standardize":
            return (rows - self.mean_) / self.std_
        return rows


class Float32PCA(PCA):
    """scikit-learn's ``PCA`` whose ``transform`` returns float32 rows, as the pca stage
    writes them."""

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The projection onto the components, in float32."""
        return super().transform(x).astype(np.float32)


TRANSFORMERS = (RawRows, WholeImages, PixelRows, Float32PCA)
"""Every class a feature chain is made of (the trusted types of ``model_files``)."""
