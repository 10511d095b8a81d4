"""A person's picture of a digit -> MNIST's 28x28 form as MNIST's were made (LeCun et al.): light
ink on black, its bounding box scaled into 20x20, centred by mass. ``read_inputs`` reads files."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

FIELD = 28  # side of the dataset's images
BOX = 20  # the ink's bounding box is scaled to fit BOX x BOX
CENTRE = 14.0  # where MNIST's centres of mass are (measured: 14.0 +- 0.5)
MIN_SIDE = 8  # no digit fits in fewer pixels
INK_FLOOR = 0.25  # ink fainter than this share of the darkest stroke is paper grain or noise
MIN_CONTRAST = 24  # fewer grey levels between paper and ink: a blank picture


class PictureError(ValueError):
    """A file that cannot be made into a digit image; the message says why, in one line."""


@dataclass(frozen=True)
class Picture:
    """An image to classify: its name, original grey levels (None from an array), 28x28 form."""

    name: str
    original: np.ndarray | None
    image: np.ndarray


def read_picture(source: Path | str | IO[bytes]) -> np.ndarray:
    """The picture's grey levels (0-255 floats; a GIF's first frame), transparency laid on the
    background it implies; ``PictureError`` for what is no picture of a digit."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow's warning band (1-2x MAX_IMAGE_PIXELS) would still decode: refuse it too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                if min(image.size) < MIN_SIDE:
                    side = f"{MIN_SIDE}x{MIN_SIDE}"
                    width, height = image.size
                    raise PictureError(
                        f"too small: {width}x{height} pixels (a digit needs at least {side})"
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
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        raise PictureError(err.strerror or str(err)) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise PictureError(f"truncated or damaged image ({err})") from None


def _grey(image) -> np.ndarray:
    """Grey levels of an opened image; transparent pixels become the background: white, or
    black where the opaque pixels are mostly light (light ink)."""
    if not (image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info):
        return np.asarray(image.convert("L"), dtype=np.float64)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    alpha = rgba[..., 3] / 255
    opaque = alpha > 0.5
    light_ink = opaque.any() and grey[opaque].mean() > 127 and not opaque.all()
    return alpha * grey + (1 - alpha) * (0.0 if light_ink else 255.0)


def ink_levels(grey: np.ndarray) -> np.ndarray:
    """Ink as light on black (0-255): the border's median is the paper, made 0, the darkest
    stroke 255, ink under ``INK_FLOOR`` of it dropped."""
    grey = np.asarray(grey, dtype=np.float64)
    paper = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    ink = np.clip(paper - grey if paper > 127 else grey - paper, 0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise PictureError("no ink: a blank image (nothing to recognise)")
    ink *= 255 / peak
    ink[ink < INK_FLOOR * 255] = 0
    return ink


def fit_box(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box scaled (Lanczos, anti-aliased) so its longer side is ``BOX``."""
    from PIL import Image

    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    resized = Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0, 255)


def mnist_form(grey: np.ndarray) -> np.ndarray:
    """A grey picture of one digit (any size, either polarity) as a 28x28 uint8 image, the box's
    centre of mass on (``CENTRE``, ``CENTRE``) to the nearest pixel, never past the edge."""
    box = fit_box(ink_levels(grey))
    (height, width), (r, c) = box.shape, np.mgrid[: box.shape[0], : box.shape[1]]
    top = min(max(round(CENTRE - (r * box).sum() / box.sum()), 0), FIELD - height)
    left = min(max(round(CENTRE - (c * box).sum() / box.sum()), 0), FIELD - width)
    field = np.zeros((FIELD, FIELD))
    field[top : top + height, left : left + width] = box
    return np.round(field).astype(np.uint8)


def _dataset_images(path: Path, npy: bool) -> np.ndarray:
    """The n x 28 x 28 uint8 images of an IDX file or ``.npy`` array (one 28x28 image too)."""
    from mnist_pipeline.data import IdxError, read_idx

    try:
        images = np.load(path, allow_pickle=False) if npy else read_idx(path)
    except (IdxError, ValueError, OSError) as err:
        kind = ".npy array" if npy else "IDX file"
        raise PictureError(f"not a readable {kind} ({err})") from None
    images = images[None] if images.ndim == 2 else images
    if images.ndim != 3 or images.shape[1:] != (FIELD, FIELD) or images.dtype != np.uint8:
        raise PictureError(
            f"expected uint8 images of {FIELD}x{FIELD} (the dataset's form), got "
            f"{images.dtype} of shape {images.shape}"
        )
    return images


def read_inputs(paths: Iterable[Path]) -> tuple[list[Picture], list[str]]:
    """Every image of ``paths`` (pictures, folders of them, IDX files, ``.npy`` arrays), and one
    line ``<file>: <why>`` per file that could not be read; the others are still read."""
    pictures: list[Picture] = []
    errors: list[str] = []
    for path in paths:
        files = [path]
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.name[0] != ".")
        for file in files:
            npy = file.suffix.lower() == ".npy"
            idx = "-idx" in file.name and file.name.removesuffix(".gz").endswith("-ubyte")
            try:
                if not file.exists():
                    raise PictureError("no such file")
                if npy or idx:
                    images = _dataset_images(file, npy)
                    many = len(images) > 1
                    pictures += [
                        Picture(f"{file}[{i}]" if many else str(file), None, image)
                        for i, image in enumerate(images)
                    ]
                else:
                    grey = read_picture(file)
                    pictures.append(Picture(str(file), grey, mnist_form(grey)))
            except PictureError as err:
                errors.append(f"{file}: {err}")
    return pictures, errors
