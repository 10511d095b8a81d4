"""`dvc exp run -S dataset=<name>` on five synthetic classes of images stored transposed."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_repo, read_params_files, run_tool, write_dataset, write_params_files
from test_overlays import read_csv

from mnist_pipeline.plumbing.files import load_arrays

pytestmark = pytest.mark.slow

SHAPES = ["ring", "bar", "cross", "dot", "wave"]
STORED_SHAPE = (24, 32)
"""Rows x columns as the files store them; decode turns each image upright to 32 x 24."""
TRAIN, TEST = 700, 200


def shape_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noisy upright 32 x 24 images, a bright band at each class's rows; stored transposed."""
    rows, cols = STORED_SHAPE[1], STORED_SHAPE[0]
    images = rng.integers(0, 60, size=(len(labels), rows, cols))
    for i, label in enumerate(labels):
        top = 2 + 6 * int(label) + int(rng.integers(0, 2))
        images[i, top : top + 4, 3:-3] = 255
    return images.astype(np.uint8).transpose(0, 2, 1)


@pytest.fixture(scope="module")
def switched(tmp_path_factory) -> Path:
    """A copy describing ``shapes``, cut to four models (detectors of 2 and 3), switched to it."""
    repo = copy_repo(tmp_path_factory.mktemp("switch"))
    rng = np.random.default_rng(16)
    arrays = {}
    for split, count in (("train", TRAIN), ("test", TEST)):
        labels = np.arange(count, dtype=np.uint8) % len(SHAPES)
        arrays[f"{split}_labels"], arrays[f"{split}_images"] = labels, shape_images(labels, rng)
    files = write_dataset(repo / "data/shapes", arrays)
    params = read_params_files(repo)
    params["datasets"]["shapes"] = {
        "title": "Shapes",
        "licence": "CC0 (synthetic)",
        "citation": "tests/test_dataset_switch.py",
        "mirrors": ["data/shapes"],
        "files": files,
        "image_shape": list(STORED_SHAPE),
        "transpose": True,
        "classes": SHAPES,
        "class_noun": "shape",
        "image_noun": "image",
        "references": {"source": "nobody's", "test": {}, "cv": {}},
    }
    params["split"]["validation"] = 100
    models = params["models"]
    models["sgd_5"]["target"], models["gd_4"]["target"] = 2, 3
    params["models"] = {name: models[name] for name in ("knn", "mlp", "sgd_5", "gd_4")}
    params["datasets"]["mnist"]["references"].update(test={}, cv={})  # name dropped models
    write_params_files(repo, params)
    run_tool(sys.executable, "src/artifacts.py", cwd=repo)  # as `make repro` does
    run_tool("git", "add", "-A", cwd=repo)
    run_tool("git", "commit", "-q", "-m", "describe shapes", cwd=repo)
    run_tool("dvc", "exp", "run", "-S", "dataset=shapes", cwd=repo)
    return repo


def test_decode_stores_the_images_upright_and_counts_the_five_classes(switched):
    test = load_arrays(switched / "stages/decode/test.npz", ("images", "labels"))
    assert test["images"].shape == (TEST, 32, 24)
    rows = read_csv(switched / "metrics/label_distribution.csv")
    assert [(row["class"], int(row["test"])) for row in rows] == [(s, TEST // 5) for s in SHAPES]


def test_the_models_name_the_classes_and_the_detectors_their_target(switched):
    assert json.loads((switched / "metrics/knn/scores/test.json").read_text())["acc"] > 0.9
    classes = {
        m: [r["class"] for r in read_csv(switched / f"metrics/{m}/per_class.csv")]
        for m in ("knn", "sgd_5", "gd_4")
    }
    assert classes == {"knn": SHAPES, "sgd_5": ["not_cross", "cross"], "gd_4": ["not_dot", "dot"]}
    predicted = read_csv(switched / "metrics/knn/predictions/test.csv")
    assert {row["predicted"] for row in predicted} <= set(SHAPES)
    overlay = read_csv(switched / "metrics/overlays/per_class.csv")
    assert [(r["model"], r["class"]) for r in overlay] == [
        (m, s) for m in ("knn", "mlp") for s in SHAPES
    ]


def test_every_picture_is_drawn(switched):
    for model in ("knn", "mlp", "sgd_5", "gd_4"):
        assert (switched / f"plots/figures/{model}/misclassified.png").stat().st_size > 0
    for picture in ("digits", "accuracy"):
        assert (switched / f"plots/summary/{picture}.png").stat().st_size > 0
