"""Classify a person's own digit pictures with the packaged models (stage ``package``).

Pictures are prepared as MNIST's were (``mnist_pipeline.preparation``); an IDX images file or a
``.npy`` array is taken as images already in the dataset's form. Each packaged model answers
with its class, its confidence (a probability where it has ``predict_proba``, else the margin
of its ``decision_function`` over the runner-up) and the runner-up class.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_pipeline.preparation import FIELD, PictureError, prepare_file

PACKAGES = Path("stages/package")
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
ARRAY_SUFFIXES = (".npy",)


@dataclass(frozen=True)
class Picture:
    """One image to classify: what to call it, the original picture (grey levels; None for
    an image that came as an array) and the 28x28 uint8 image the models see."""

    name: str
    original: np.ndarray | None
    image: np.ndarray


@dataclass(frozen=True)
class Package:
    """A packaged model: its name, its Pipeline and its model card."""

    name: str
    pipeline: Any
    card: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """One model's answer for one image."""

    answer: str
    confidence: float
    kind: str
    """``probability`` or ``margin``."""
    runner_up: str
    runner_up_confidence: float | None = None
    """The runner-up's probability (None for a margin, which is over the runner-up)."""

    def text(self) -> str:
        """``7 p=0.98, then 1 p=0.01`` or ``7 margin 2.31 over 1``."""
        if self.kind == "margin":
            return f"{self.answer} margin {self.confidence:.2f} over {self.runner_up}"
        return (
            f"{self.answer} p={self.confidence:.2f}, then {self.runner_up} "
            f"p={self.runner_up_confidence:.2f}"
        )


def is_idx(path: Path) -> bool:
    """Whether ``path`` is named as an IDX file (``...-idx3-ubyte``, gzipped or not)."""
    return "-idx" in path.name and path.name.removesuffix(".gz").endswith("-ubyte")


def dataset_images(path: Path) -> np.ndarray:
    """The images of an IDX file or ``.npy`` array: n x 28 x 28 (or one 28 x 28) uint8."""
    from mnist_pipeline.plumbing.idx import IdxError, read_idx

    try:
        images = read_idx(path) if is_idx(path) else np.load(path, allow_pickle=False)
    except (IdxError, ValueError, OSError) as err:
        raise PictureError(
            f"not a readable {'IDX file' if is_idx(path) else '.npy array'} ({err})"
        ) from None
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != (FIELD, FIELD) or images.dtype != np.uint8:
        raise PictureError(
            f"expected uint8 images of {FIELD}x{FIELD} (the dataset's form), got "
            f"{images.dtype} of shape {images.shape}"
        )
    return images


def gather(paths: Iterable[Path]) -> tuple[list[Picture], list[str]]:
    """Every image of ``paths`` (files, folders of them, IDX files, ``.npy`` arrays), and one
    line per file that could not be read or prepared, naming it."""
    pictures: list[Picture] = []
    errors: list[str] = []
    for path in paths:
        files = (
            sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if path.is_dir()
            else [path]
        )
        for file in files:
            try:
                if not file.exists():
                    raise PictureError("no such file")
                if is_idx(file) or file.suffix.lower() in ARRAY_SUFFIXES:
                    images = dataset_images(file)
                    pictures += [
                        Picture(f"{file}[{i}]" if len(images) > 1 else str(file), None, image)
                        for i, image in enumerate(images)
                    ]
                else:
                    original, image = prepare_file(file)
                    pictures.append(Picture(str(file), original, image))
            except PictureError as err:
                errors.append(f"{file}: {err}")
    return pictures, errors


def load_package(model: str | Path, root: Path = Path()) -> Package:
    """The package of ``model``: a model name (``root``/stages/package/<name>), a package
    folder, or a model.skops file beside its card.json."""
    from mnist_pipeline.plumbing.model_files import load_model

    path = Path(model)
    if not path.exists():
        path = root / PACKAGES / str(model)
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: no packaged model {model!r} (run `dvc repro package@{model}`, or "
                f"`dvc artifacts get` it)"
            )
    folder, file = (path, path / MODEL_FILE) if path.is_dir() else (path.parent, path)
    card_path = folder / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
    return Package(card.get("model", folder.name), load_model(file), card)


def packaged_models(root: Path = Path()) -> list[str]:
    """The names of the packaged models under ``root``/stages/package, leaderboard order
    where the metrics allow, else alphabetical."""
    found = sorted(p.name for p in (root / PACKAGES).glob(f"*/{MODEL_FILE}") for p in [p.parent])
    try:
        order = [row["name"] for row in leaderboard_rows(root)]
    except (ValueError, OSError):
        return found
    return sorted(
        found, key=lambda name: (order.index(name) if name in order else len(order), name)
    )


def leaderboard_rows(root: Path) -> list[Any]:
    """The leaderboard of ``root``'s workspace (its metrics/)."""
    from mnist_pipeline.results import leaderboard

    return leaderboard("workspace", str(root))


def default_model(root: Path = Path()) -> str:
    """The leaderboard's best model of every class (not a detector) in ``root``'s metrics/."""
    rows = [row for row in leaderboard_rows(root) if row["target"] is None]
    if not rows:
        raise ValueError(f"{root / 'metrics'}: no scored model of every class; pass --model")
    return rows[0]["name"]


def answers(package: Package, images: np.ndarray) -> list[Answer]:
    """``package``'s answer for each image (n x 28 x 28 uint8)."""
    pipeline = package.pipeline
    names = package.card.get("answers") or [str(c) for c in pipeline.classes_]
    labels = list(pipeline.classes_)
    model = pipeline[-1]
    rows = pipeline[:-1].transform(images)  # once, for the answer and its confidence
    predicted = model.predict(rows)
    if hasattr(model, "predict_proba"):
        scores, kind = model.predict_proba(rows), "probability"
    else:
        scores, kind = np.asarray(model.decision_function(rows), dtype=np.float64), "margin"
        if scores.ndim == 1:  # a binary decision: positive for classes_[1]
            scores = np.column_stack([np.zeros(len(scores)), scores])
    result = []
    for label, row in zip(predicted, scores, strict=True):
        best = labels.index(label)
        runner = next(j for j in np.argsort(-row, kind="stable") if j != best)
        if kind == "probability":
            answer = Answer(names[best], float(row[best]), kind, names[runner], float(row[runner]))
        else:
            answer = Answer(names[best], float(row[best] - row[runner]), kind, names[runner])
        result.append(answer)
    return result


def text_lines(pictures: Sequence[Picture], results: dict[str, list[Answer]]) -> list[str]:
    """One line per image: the file, then each model's answer (a header names the models when
    there are several)."""
    width = max(len(p.name) for p in pictures)
    models = list(results)
    cells = [[results[m][i].text() for m in models] for i in range(len(pictures))]
    if len(models) == 1:
        return [f"{p.name:<{width}}  {row[0]}" for p, row in zip(pictures, cells, strict=True)]
    widths = [max(len(m), *(len(row[j]) for row in cells)) for j, m in enumerate(models)]
    header = "  ".join([" " * width, *(m.ljust(w) for m, w in zip(models, widths, strict=True))])
    lines = [header.rstrip()]
    for p, row in zip(pictures, cells, strict=True):
        lines.append(
            "  ".join(
                [p.name.ljust(width), *(c.ljust(w) for c, w in zip(row, widths, strict=True))]
            ).rstrip()
        )
    return lines


def json_records(pictures: Sequence[Picture], results: dict[str, list[Answer]]) -> list[dict]:
    """One record per image and model."""
    return [
        {
            "file": p.name,
            "model": model,
            "class": found[i].answer,
            "confidence": round(found[i].confidence, 6),
            "confidence_kind": found[i].kind,
            "runner_up": found[i].runner_up,
            "runner_up_confidence": found[i].runner_up_confidence,
        }
        for i, p in enumerate(pictures)
        for model, found in results.items()
    ]


def show(pictures: Sequence[Picture], results: dict[str, list[Answer]], dest: Path) -> None:
    """A PNG of each picture's preparation, one row each: the original, its ink made light
    on black, the ink's bounding box scaled into 20x20, and the 28x28 image the models saw,
    titled with the first model's answer."""
    from mnist_pipeline.plumbing.drawing import new_figure, save_png, style
    from mnist_pipeline.preparation import fit_box, ink_levels

    first = next(iter(results))
    titles = ("original", "ink, background black", "scaled into 20x20", "28x28: ")
    with style():
        figure = new_figure(8.0, 2.1 * len(pictures))
        axes = figure.subplots(len(pictures), 4, squeeze=False)
        for row, picture in zip(axes, pictures, strict=True):
            panels: list[np.ndarray | None] = [None, None, None, picture.image]
            if picture.original is not None:
                ink = ink_levels(picture.original)
                panels[:3] = [picture.original, ink, fit_box(ink)]
            answer = results[first][pictures.index(picture)].answer
            for ax, image, title in zip(row, panels, titles, strict=True):
                if image is not None:
                    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                ax.set_title(title + (f"{first} says {answer}" if title == titles[-1] else ""))
                ax.set_xticks([])
                ax.set_yticks([])
            row[0].set_ylabel(Path(picture.name).name, fontsize=8)
    save_png(figure, dest, 100)
