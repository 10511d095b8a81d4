"""A person's picture of a digit turned into the dataset's form, as MNIST's were made (LeCun et
al.): grey, light ink on a black background, the ink's bounding box scaled to fit 20x20 with
its aspect ratio kept and anti-aliased, then placed by its centre of mass in a 28x28 field.

``read_picture`` opens any PNG, JPEG, BMP or GIF (any size, colour, polarity) as grey levels
and refuses, with one line, what is no picture of a digit; ``mnist_form`` does the rest. The
steps and a picture of them: docs/predict.md.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

FIELD = 28
"""Side of the dataset's images."""
BOX = 20
"""Side of the box the ink's bounding box is scaled to fit."""
CENTRE = 14.0
"""Where MNIST's digits have their centre of mass (row and column; measured: 14.0 +- 0.5)."""
MIN_SIDE = 8
"""Pictures smaller than this in width or height are refused: no digit fits in them."""
INK_FLOOR = 0.25
"""Ink fainter than this share of the darkest stroke is background (paper grain, JPEG noise)."""
MIN_CONTRAST = 24
"""Grey levels between background and ink below which a picture counts as blank."""


class PictureError(ValueError):
    """A file that cannot be made into a digit image; the message says why, in one line."""


def read_picture(path: Path | str) -> np.ndarray:
    """The picture at ``path`` as float grey levels (rows x columns, 0-255), its first frame
    for an animated GIF. Transparent pixels count as background: the picture is laid on
    white, or on black where its opaque pixels are mostly light. Refused with a
    ``PictureError``: a file that is no image Pillow reads, a truncated or damaged one, one
    of more pixels than Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``), and
    one under ``MIN_SIDE`` pixels wide or high."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width < MIN_SIDE or height < MIN_SIDE:
                    raise PictureError(
                        f"too small: {width}x{height} pixels (a digit needs at least "
                        f"{MIN_SIDE}x{MIN_SIDE})"
                    )
                image.seek(0)
                image.load()
                return _grey(image)
    except PictureError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureError(
            f"refused: claims more pixels than Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} "
            "(a decompression bomb?)"
        ) from None
    except UnidentifiedImageError:
        raise PictureError("not an image (expected PNG, JPEG, BMP or GIF)") from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, FileNotFoundError | IsADirectoryError | PermissionError):
            raise PictureError(err.strerror or str(err)) from None
        raise PictureError(f"truncated or damaged image ({err})") from None


def _grey(image: Image.Image) -> np.ndarray:
    """Grey levels of an opened image, transparency laid on the background it implies."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float64)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    alpha = rgba[..., 3] / 255
    opaque = alpha > 0.5
    light_ink = opaque.any() and grey[opaque].mean() > 127 and not opaque.all()
    background = 0.0 if light_ink else 255.0
    return alpha * grey + (1 - alpha) * background


def ink_levels(grey: np.ndarray) -> np.ndarray:
    """Ink as light on black, 0-255: the background level (the median of the picture's
    border) made 0, a light background inverted, the darkest stroke made 255, and ink
    fainter than ``INK_FLOOR`` of it dropped. ``PictureError`` if no ink stands out."""
    grey = np.asarray(grey, dtype=np.float64)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    ink = background - grey if background > 127 else grey - background
    ink = np.clip(ink, 0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise PictureError("no ink: a blank image (nothing to recognise)")
    ink = ink * (255 / peak)
    ink[ink < INK_FLOOR * 255] = 0
    return ink


def fit_box(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box, scaled (anti-aliased, Lanczos) so that its longer side is
    ``BOX`` pixels and its aspect ratio kept."""
    from PIL import Image

    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(crop.astype(np.float32), mode="F").resize(
        size, Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(resized, dtype=np.float64), 0, 255)


def centred(box: np.ndarray) -> np.ndarray:
    """``box`` placed in a ``FIELD`` x ``FIELD`` field so that its centre of mass lands on
    (``CENTRE``, ``CENTRE``), to the nearest pixel and never past the field's edge."""
    field = np.zeros((FIELD, FIELD))
    height, width = box.shape
    mass = box.sum()
    r, c = np.mgrid[:height, :width]
    top = round(CENTRE - (r * box).sum() / mass)
    left = round(CENTRE - (c * box).sum() / mass)
    top = min(max(top, 0), FIELD - height)
    left = min(max(left, 0), FIELD - width)
    field[top : top + height, left : left + width] = box
    return field


def mnist_form(grey: np.ndarray) -> np.ndarray:
    """A grey picture of one digit (any size, either polarity) as a 28x28 uint8 image of the
    dataset's form: ``ink_levels``, then ``fit_box``, then ``centred``."""
    return np.round(centred(fit_box(ink_levels(grey)))).astype(np.uint8)


def prepare_file(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """The picture at ``path`` (grey levels) and its 28x28 image in the dataset's form."""
    grey = read_picture(path)
    return grey, mnist_form(grey)
