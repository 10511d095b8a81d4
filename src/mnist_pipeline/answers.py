"""The trained models a person uses (predict, serve, elsewhere): found under stages/train, loaded
with their card, ordered as the leaderboard, and their answers to images."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from mnist_pipeline.plumbing.files import open_regular
from mnist_pipeline.plumbing.model_files import MODEL_FILE, ModelFileError, load_model

MODELS = Path("stages/train")
CARD_CAP = 1 << 20  # bytes of card.json; train writes a few kB


@dataclass(frozen=True)
class Model:
    """A trained model: its name, Pipeline (uint8 images -> classes), task (``every class`` or,
    for a detector, ``is it a 5``) and class names, ``i`` first (the card's answers, or labels)."""

    name: str
    pipeline: Any
    task: str
    names: list[str]


def load(model: str | Path) -> Model:
    """A model by name (stages/train/<name>), folder or model.skops file, with its card.json if
    any; ``FileNotFoundError`` or ``ModelFileError`` naming the file."""
    path = Path(model)
    if not path.exists():
        path = MODELS / str(model)
        if not (path / MODEL_FILE).exists():
            raise FileNotFoundError(
                f"{path / MODEL_FILE}: no trained model {str(model)!r} (run `dvc repro "
                f"train@{model}`, or `dvc artifacts get` it)"
            )
    folder, file = (path, path / MODEL_FILE) if path.is_dir() else (path.parent, path)
    pipeline = load_model(file)
    try:  # a tampered file may hold any object, or a Pipeline of anything
        classes = len(pipeline[-1].classes_) if callable(pipeline[-1].predict) else 0
    except (TypeError, ValueError, LookupError, AttributeError):
        classes = 0
    if not (isinstance(pipeline, Pipeline) and classes):
        raise ModelFileError(f"{file}: not the model train writes (a fitted classifier Pipeline)")
    card = _card(folder / "card.json", classes) if (folder / "card.json").exists() else {}
    names = card.get("answers") or [str(c) for c in pipeline.classes_]
    return Model(card.get("model", folder.name), pipeline, card.get("task", "every class"), names)


def _card(path: Path, classes: int) -> dict[str, Any]:
    """The card train wrote for a model of ``classes`` classes, or a one-line error naming it."""
    try:  # a FIFO or a folder is refused at once by open_regular, naming it
        with open_regular(path) as fh:
            data = fh.read(CARD_CAP + 1)
        card = json.loads(data.decode()) if len(data) <= CARD_CAP else None
    except (PermissionError, ValueError, RecursionError) as err:  # not UTF-8, not JSON, too deep
        raise ModelFileError(f"{path}: not the card train writes ({err})") from None
    names = card.get("answers", [""] * classes) if isinstance(card, dict) else None
    texts = [card.get("model", ""), card.get("task", ""), *names] if isinstance(names, list) else []
    if len(texts) == classes + 2 and all(isinstance(text, str) for text in texts):
        return card
    why = f"a JSON object under 1 MB: string model, task and {classes} answers, one per class"
    raise ModelFileError(f"{path}: not the card train writes ({why})")


def test_scores(name: str) -> dict[str, float] | None:
    """The model's test scores as evaluate wrote them (metrics/<name>/scores/test.json)."""
    try:
        return json.loads(Path("metrics", name, "scores/test.json").read_text())
    except (OSError, ValueError):
        return None


def model_names() -> list[str]:
    """The trained models in the leaderboard's order: classifiers by test accuracy, detectors
    (their scores have precision ``p``) by F1, then unscored; ties by name."""

    def key(name: str) -> tuple[int, float, str]:
        if (scores := test_scores(name)) is None:
            return 2, 0.0, name
        return ("p" in scores), -scores["f1" if "p" in scores else "acc"], name

    names = sorted((p.parent.name for p in MODELS.glob(f"*/{MODEL_FILE}")), key=key)
    if not names:
        raise FileNotFoundError(f"{MODELS}: no trained model (run `dvc repro`)")
    return names


def default_model() -> str:
    """The leaderboard's best model of every class (not a detector)."""
    for name in model_names():
        if (scores := test_scores(name)) is not None and "p" not in scores:
            return name
    raise FileNotFoundError("metrics: no scored model of every class; pass --model")


def answers(model: Model, images: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    """``model``'s answer to each 28 x 28 uint8 image: class, confidence (a probability, or the
    decision function's margin over the runner-up) and runner-up."""
    labels, names, estimator = list(model.pipeline.classes_), model.names, model.pipeline[-1]
    # once, for the answer and its confidence
    rows = model.pipeline[:-1].transform(np.stack(images))
    margin = not hasattr(estimator, "predict_proba")
    if margin:
        scores = np.asarray(estimator.decision_function(rows), dtype=np.float64)
        if scores.ndim == 1:  # a binary decision: positive for classes_[1]
            scores = np.column_stack([np.zeros(len(scores)), scores])
    else:
        scores = estimator.predict_proba(rows)
    found = []
    for label, row in zip(estimator.predict(rows), scores, strict=True):
        best = labels.index(label)
        runner = next(j for j in np.argsort(-row, kind="stable") if j != best)
        found.append(
            {
                "class": names[best],
                "confidence": round(float(row[best] - row[runner] if margin else row[best]), 6),
                "confidence_kind": "margin" if margin else "probability",
                "runner_up": names[runner],
                "runner_up_confidence": None if margin else round(float(row[runner]), 6),
            }
        )
    return found


def text(answer: dict[str, Any]) -> str:
    """``7 p=0.98, then 1 p=0.01`` or ``7 margin 2.31 over 1``."""
    template = "{class} p={confidence:.2f}, then {runner_up} p={runner_up_confidence:.2f}"
    if answer["confidence_kind"] == "margin":
        template = "{class} margin {confidence:.2f} over {runner_up}"
    return template.format_map(answer)
