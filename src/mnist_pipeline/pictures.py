"""A person's picture of a digit -> MNIST's 28x28 form as MNIST's were made (LeCun et al.): light
ink on black, its bounding box scaled into 20x20, centred by mass. ``read_inputs`` reads files."""

import math
import warnings
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from mnist_pipeline.plumbing.files import NotRegularFileError, open_regular

FIELD = 28  # side of the dataset's images
BOX = 20  # the ink's bounding box is scaled to fit BOX x BOX
CENTRE = 14.0  # where MNIST's centres of mass are (measured: 14.0 +- 0.5)
MIN_SIDE = 8  # no digit fits in fewer pixels
INK_FLOOR = 0.25  # ink fainter than this share of the darkest stroke is paper grain or noise
MIN_CONTRAST = 24  # fewer grey levels between paper and ink: a blank picture
MAX_PIXELS = 4_000_000  # a header claiming more is refused unread (the page sends 280x280)
REDUCED_PIXELS = 1_000_000  # larger pictures are reduced to this before the float arithmetic
MAX_IMAGES = 100_000  # in one IDX or .npy file (MNIST's largest holds 60,000)


class PictureError(ValueError):
    """A file that cannot be made into a digit image; the message says why, in one line."""


@dataclass(frozen=True)
class Picture:
    """An image to classify: its name, original grey levels (None from an array), 28x28 form."""

    name: str
    original: np.ndarray | None
    image: np.ndarray


def read_picture(source: Path | str | IO[bytes]) -> np.ndarray:
    """The picture's grey levels (0-255 floats; a GIF's first frame; at most ``REDUCED_PIXELS``),
    transparency laid on the background it implies; ``PictureError`` for no picture of a digit."""
    from PIL import Image, UnidentifiedImageError

    try:
        # Pillow's warning band (1-2x MAX_IMAGE_PIXELS) would still decode: refuse it too
        with warnings.catch_warnings(action="error", category=Image.DecompressionBombWarning):
            opened = open_regular(source) if isinstance(source, str | Path) else nullcontext(source)
            with opened as file, Image.open(file) as image:
                size, side = f"{image.width}x{image.height} pixels", f"{MIN_SIDE}x{MIN_SIDE}"
                if image.width * image.height > MAX_PIXELS:  # from the header: nothing decoded
                    raise PictureError(f"too large: {size} (at most {MAX_PIXELS:,})")
                if min(image.size) < MIN_SIDE:
                    raise PictureError(f"too small: {size} (a digit needs at least {side})")
                k = _reduction(image)
                image.draft(image.mode, (image.width // k, image.height // k))  # JPEG: at 1/k
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
        raise PictureError(err.strerror or str(err).removeprefix(f"{source}: ")) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise PictureError(f"truncated or damaged image ({err})") from None


def _reduction(image) -> int:
    """The factor by which each side of ``image`` shrinks to bring it to ``REDUCED_PIXELS``."""
    return math.ceil(math.sqrt(image.width * image.height / REDUCED_PIXELS))


def _grey(image) -> np.ndarray:
    """Grey levels of a loaded image, reduced to ``REDUCED_PIXELS``; transparent pixels become
    the background: white, or black where the opaque pixels are mostly light (light ink)."""
    k = _reduction(image)  # of the size after draft: a JPEG may come reduced already
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # Scaled by the type's range (F's is 0-255), not clipped: ink 20,000 on 40,000 is a digit
        grey = np.asarray(image.convert("F").reduce(k), dtype=np.float64)
        return np.clip(grey * (255 / max(255 if image.mode == "F" else 65535, grey.max())), 0, 255)
    if not (image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info):
        return np.asarray(image.convert("L").reduce(k), dtype=np.float64)
    rgba = np.asarray(image.convert("RGBA").reduce(k), dtype=np.float64)
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

    image = Image.fromarray(ink.astype(np.float32), mode="F")
    crop = image.crop(image.getbbox())
    scale = BOX / max(crop.size)
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    return np.clip(np.asarray(crop.resize(size, Image.LANCZOS), dtype=np.float64), 0, 255)


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


def _check_header(dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """Refuse, from its header, a file that is not 28x28 uint8 images or holds too many."""
    if len(shape) not in (2, 3) or shape[-2:] != (FIELD, FIELD) or dtype != np.uint8:
        raise PictureError(
            f"expected uint8 images of {FIELD}x{FIELD} (the dataset's form), got {dtype} of "
            f"shape {shape}"
        )
    if len(shape) == 3 and shape[0] > MAX_IMAGES:
        raise PictureError(f"too many images: {shape[0]:,} claimed (at most {MAX_IMAGES:,})")


def _dataset_images(path: Path, npy: bool) -> np.ndarray:
    """The n x 28 x 28 uint8 images of an IDX or ``.npy`` file, its header checked first."""
    from mnist_pipeline.data import IdxError, read_idx

    fmt = np.lib.format
    try:
        if not npy:
            return read_idx(path, _check_header).reshape(-1, FIELD, FIELD)
        with open_regular(path) as file:
            version = fmt.read_magic(file)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(file)
            _check_header(dtype, shape)
            file.seek(0)
            return fmt.read_array(file, allow_pickle=False).reshape(-1, FIELD, FIELD)
    except PictureError:
        raise
    except NotRegularFileError as err:
        raise PictureError(str(err).removeprefix(f"{path}: ")) from None
    except (IdxError, ValueError, OSError) as err:
        kind = ".npy array" if npy else "IDX file"
        raise PictureError(f"not a readable {kind} ({err})") from None


def read_inputs(paths: Iterable[Path]) -> tuple[list[Picture], list[str]]:
    """Every image of ``paths`` (pictures, folders of them, IDX files, ``.npy`` arrays), and one
    line ``<file>: <why>`` per file that could not be read; the others are still read."""
    pictures: list[Picture] = []
    errors: list[str] = []
    for path in paths:
        files = [path]
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.name[0] != ".")
            errors += [] if files else [f"{path}: a folder with no picture in it"]
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
