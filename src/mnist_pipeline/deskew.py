"""Deskewing: each digit sheared upright by its image moments (LeCun et al.)."""

import numpy as np


def deskew(images: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Each digit sheared by its second-order moments so its principal axis is vertical and
    re-centred on its centre of mass, as float32 on the 0-255 scale: scipy's bilinear
    ``affine_transform`` per image (a test compares them), done ``chunk`` images at a time."""
    images = np.asarray(images)
    return np.concatenate(
        [_deskew_chunk(images[i : i + chunk]) for i in range(0, len(images), chunk)]
        or [images.astype(np.float32)]
    )


def _deskew_chunk(images: np.ndarray) -> np.ndarray:
    images = images.astype(np.float32) / np.float32(255)
    n, rows, cols = images.shape
    r, c = np.mgrid[:rows, :cols].astype(np.float32)
    mass = np.maximum(images.sum(axis=(1, 2)), 1e-12)
    mean_r = np.einsum("nij,ij->n", images, r) / mass
    mean_c = np.einsum("nij,ij->n", images, c) / mass
    dr = r[None] - mean_r[:, None, None]
    dc = c[None] - mean_c[:, None, None]
    var_r = np.einsum("nij,nij->n", images, dr * dr) / mass
    cov_rc = np.einsum("nij,nij->n", images, dr * dc) / mass
    alpha = np.where(var_r > 1e-12, cov_rc / np.maximum(var_r, 1e-12), 0.0).astype(np.float64)

    out_rows = np.arange(rows, dtype=np.float64)
    # Rows: output row r reads input row r + mean_r - rows/2 (one shift per image).
    in_r = out_rows[None, :] + (mean_r.astype(np.float64) - rows / 2.0)[:, None]
    r0 = np.floor(in_r)
    fr = (in_r - r0).astype(np.float32)[..., None]
    padded = np.zeros((n, rows + 2, cols + 2), np.float32)  # a zero border of one pixel
    padded[:, 1:-1, 1:-1] = images
    top = np.clip(r0, -1, rows - 1).astype(np.intp) + 1  # row index into `padded`
    each = np.arange(n)[:, None]
    mixed = padded[each, top] * (1 - fr) + padded[each, top + 1] * fr
    mixed *= ((in_r >= 0) & (in_r <= rows - 1))[..., None]
    # Columns: along output row r, column c reads c + alpha*(r - rows/2) + mean_c - cols/2.
    shift = (
        alpha[:, None] * (out_rows[None, :] - rows / 2.0)
        + (mean_c.astype(np.float64) - cols / 2.0)[:, None]
    )
    c0 = np.floor(shift)
    fc = (shift - c0).astype(np.float32)[..., None]
    out_cols = np.arange(cols)
    in_c = out_cols + shift[..., None]
    left = np.clip(out_cols + c0[..., None].astype(np.intp), -1, cols - 1) + 1
    out = (
        np.take_along_axis(mixed, left, axis=2) * (1 - fc)
        + np.take_along_axis(mixed, left + 1, axis=2) * fc
    )
    out *= (in_c >= 0) & (in_c <= cols - 1)
    return np.clip(out * 255, 0, 255)
