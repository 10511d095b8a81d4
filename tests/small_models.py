"""Two small models for the predict and serve tests, in the files train and evaluate write."""

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from mnist_pipeline.features import Float32PCA, PixelRows
from mnist_pipeline.plumbing.model_files import save_model


def write_models(root: Path, mnist_slice: dict[str, np.ndarray]) -> Path:
    """``root`` holding ``knn`` (10 classes, probabilities) and ``sgd_5`` (is it a 5, a
    margin); sgd_5 scores the higher test accuracy, knn is the best of every class."""
    images, labels = mnist_slice["train_images"], mnist_slice["train_labels"]
    digits = [str(d) for d in range(10)]
    knn = [
        ("pixels", PixelRows()),
        ("pca", Float32PCA(30, random_state=0)),
        ("knn", KNeighborsClassifier(5)),
    ]
    sgd = [("pixels", PixelRows()), ("sgd", SGDClassifier(random_state=0))]
    models = {
        "knn": (knn, labels, digits, "every class", {"acc": 0.9, "f1": 0.9}),
        "sgd_5": (sgd, (labels == 5).astype(np.uint8), ["not 5", "5"], "is it a 5",
                  {"acc": 0.95, "f1": 0.8, "p": 0.8, "r": 0.8}),
    }  # fmt: skip
    for name, (steps, y, answers, task, scores) in models.items():
        folder = root / "stages/train" / name
        folder.mkdir(parents=True)
        save_model(Pipeline(steps).fit(images, y), folder / "model.skops")
        card = {"model": name, "task": task, "answers": answers}
        (folder / "card.json").write_text(json.dumps(card))
        (root / "metrics" / name / "scores").mkdir(parents=True)
        (root / "metrics" / name / "scores/test.json").write_text(json.dumps(scores))
    return root
