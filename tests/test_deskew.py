"""deskew straightens slanted strokes, and is the per-image SciPy shear it replaced."""

import numpy as np
import pytest
from scipy.ndimage import affine_transform

from mnist_pipeline.deskew import deskew


def moments(image: np.ndarray) -> tuple[float, float, float]:
    """Centre of mass (row, column) and the column's slope against the row."""
    r, c = np.mgrid[: image.shape[0], : image.shape[1]]
    mass = image.sum()
    mean_r, mean_c = (image * r).sum() / mass, (image * c).sum() / mass
    slope = (image * (r - mean_r) * (c - mean_c)).sum() / (image * (r - mean_r) ** 2).sum()
    return mean_r, mean_c, slope


def stroke(top: tuple[float, float], bottom: tuple[float, float]) -> np.ndarray:
    """A straight anti-aliased stroke 1.2 wide from ``top`` to ``bottom`` (row, column), uint8."""
    r, c = np.mgrid[:28, :28].astype(float)
    (r0, c0), (r1, c1) = top, bottom
    t = np.clip(
        ((r - r0) * (r1 - r0) + (c - c0) * (c1 - c0)) / ((r1 - r0) ** 2 + (c1 - c0) ** 2), 0, 1
    )
    distance = np.hypot(r - (r0 + t * (r1 - r0)), c - (c0 + t * (c1 - c0)))
    return (255 * np.clip(1.2 + 0.5 - distance, 0, 1)).astype(np.uint8)


def reference_deskew(image: np.ndarray) -> np.ndarray:
    """The implementation deskew replaced: one SciPy affine transform per image."""
    image = image.astype(np.float32) / np.float32(255)
    rows, cols = image.shape
    r, c = np.mgrid[:rows, :cols].astype(np.float32)
    mass = max(float(image.sum()), 1e-12)
    mean_r, mean_c = float((image * r).sum() / mass), float((image * c).sum() / mass)
    var_r = float((image * (r - mean_r) ** 2).sum() / mass)
    cov = float((image * (r - mean_r) * (c - mean_c)).sum() / mass)
    alpha = cov / var_r if var_r > 1e-12 else 0.0
    shear = np.array([[1.0, 0.0], [alpha, 1.0]])
    offset = np.array([mean_r, mean_c]) - shear @ np.array([rows / 2.0, cols / 2.0])
    return np.clip(affine_transform(image, shear, offset=offset, order=1) * 255, 0, 255)


@pytest.mark.parametrize("top, bottom", [((4, 18), (23, 9)), ((5, 8), (22, 19))])
def test_a_slanted_stroke_comes_out_upright_and_centred(top, bottom):
    slanted = stroke(top, bottom)
    assert abs(moments(slanted.astype(float))[2]) > 0.4  # about half a column per row
    upright = deskew(slanted[None])[0]
    mean_r, mean_c, slope = moments(upright)
    assert abs(slope) < 0.03
    assert abs(mean_r - 14) < 0.6 and abs(mean_c - 14) < 0.6
    columns = np.flatnonzero(upright.sum(axis=0) > 0.5 * 255)
    assert columns.max() - columns.min() <= 4  # a near-vertical bar now, not ten columns wide
    assert upright.sum() == pytest.approx(slanted.sum(dtype=float), rel=0.1)  # ink is kept


def test_is_the_per_image_scipy_shear_on_real_digits_in_any_chunks(mnist_slice):
    images = mnist_slice["train_images"][:300]
    expected = np.stack([reference_deskew(image) for image in images])
    got = deskew(images)
    assert got.dtype == np.float32 and got.shape == expected.shape
    # Equal but for float rounding (here the moments are summed in float64, there in float32).
    np.testing.assert_allclose(got, expected, rtol=0, atol=0.01)  # of 255
    np.testing.assert_array_equal(deskew(images, chunk=7), got)  # the chunk size changes nothing
    assert not deskew(np.zeros((3, 28, 28), np.uint8)).any()  # a blank image stays blank
