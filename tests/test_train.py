"""The train stage on the MNIST slice: one model file (a Pipeline from images) and its card."""

import hashlib
import io
import json
import os
import re
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io
from conftest import SLICE_PARAMS, SLICE_STEPS, redirected, run_main, run_script, stage_main
from sklearn.linear_model import SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from mnist_pipeline.estimators.gradient_descent import GradientDescentLogisticRegression
from mnist_pipeline.estimators.mlp import EpochLoggingMLPClassifier
from mnist_pipeline.features import CHAIN_FILE, Float32PCA, PixelRows
from mnist_pipeline.plumbing.files import load_arrays, save_arrays
from mnist_pipeline.plumbing.model_files import ModelFileError, canonical_skops, load_model

history_text = stage_main("train").__globals__["history_text"]


class NotOurs:
    """A type no model of ours is made of."""


def test_history_is_the_csv_pandas_wrote_with_val_only_where_validated():
    import pandas as pd

    losses = [0.406269123, 0.19602849, 1.0, 1e-07, 12345.6789012, 3.0000000000000004]
    rows = [(i + 1, loss, None) for i, loss in enumerate(losses)]
    expected = pd.DataFrame(
        {"epoch": range(1, len(losses) + 1), "loss": [round(x, 6) for x in losses]}
    ).to_csv(index=False, lineterminator="\n")
    assert history_text(rows) == expected
    assert history_text([]) == "epoch,loss\n"
    assert history_text([(0, 0.693147180559945, None)], 15) == "epoch,loss\n0,0.693147180559945\n"
    assert history_text([(1, 0.1234567, 0.9)]) == "epoch,loss,val_acc\n1,0.123457,0.9\n"


STEPS = {  # the feature stage's chain, then the estimator
    "knn": [("pixels", PixelRows), ("pca", Float32PCA), ("model", KNeighborsClassifier)],
    "sgd_5": [("pixels", PixelRows), ("model", SGDClassifier)],
}


@pytest.mark.parametrize("model", STEPS)
def test_model_file_is_the_chain_and_estimator_predicting_what_evaluate_did_from_images(
    slice_run, model
):
    pipeline = load_model(slice_run / f"stages/train/{model}/model.skops")
    images = load_arrays(slice_run / "stages/decode/test.npz", ("images",))["images"]
    evaluated = slice_run / f"stages/evaluate/{model}/predictions.npz"
    assert isinstance(pipeline, Pipeline) and images.dtype == np.uint8
    assert [(name, type(step)) for name, step in pipeline.steps] == STEPS[model]
    expected = load_arrays(evaluated, ("test_pred",))["test_pred"]
    np.testing.assert_array_equal(pipeline.predict(images), expected)


def test_card_names_what_the_model_was_built_from_not_a_commit(slice_run):
    folder = slice_run / "stages/train/sgd_5"
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "card.md", "model.skops"]
    card = json.loads((folder / "card.json").read_text())
    assert card["answers"] == ["not 5", "5"] and card["task"] == "is it a 5"
    assert (card["model"], card["features"], card["estimator"]) == ("sgd_5", "normalize", "sgd")
    assert card["params"] == {"random_state": 1}
    assert card["built_from"]["params"] == {"models.sgd_5": SLICE_PARAMS["models"]["sgd_5"]}
    assert card["built_from"]["files"] == {
        f"stages/normalize/{name}": hashlib.sha256(
            (slice_run / "stages/normalize" / name).read_bytes()
        ).hexdigest()
        for name in (CHAIN_FILE, "train.npz")
    }
    assert card["sha256"] == hashlib.sha256((folder / "model.skops").read_bytes()).hexdigest()
    assert "git_commit" not in card and "test" not in card
    assert card["scores"].startswith("metrics/sgd_5/scores/test.json")
    pixels = {s["step"]: s["params"] for s in card["steps"]}["pixels"]
    assert pixels == {"deskew": False, "method": "scale"}
    assert card["sha256"] in (folder / "card.md").read_text()


def test_same_inputs_give_the_same_bytes_in_another_process_whatever_the_comments(
    slice_run, tmp_path
):
    params = tmp_path / "params.yaml"
    params.write_text("# a comment\n" + (slice_run / "params.yaml").read_text())
    (tmp_path / "datasets.yaml").write_text((slice_run / "datasets.yaml").read_text())
    out = tmp_path / "knn"
    args = redirected(
        SLICE_STEPS["train@knn"], out=out, history=tmp_path / "h.csv", live=tmp_path / "live"
    )
    result = run_script(args[0], "--params", params, *args[1:], cwd=slice_run)
    assert result.returncode == 0, result.stderr
    for name in ("model.skops", "card.json", "card.md"):
        assert (out / name).read_bytes() == (slice_run / "stages/train/knn" / name).read_bytes()
    assert (tmp_path / "h.csv").read_text() == "epoch,loss\n"
    assert not (tmp_path / "live").exists(), "no live metrics for a model without steps"


def test_skops_file_has_one_timestamp_numbered_ids_and_is_canonical(slice_run):
    data = (slice_run / "stages/train/knn/model.skops").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        schema = archive.read("schema.json").decode()
    ids = {int(i) for i in re.findall(r'"__id__": (\d+)', schema)}
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert ids == set(range(1, len(ids) + 1))
    assert canonical_skops(data) == data


def test_loading_refuses_a_model_file_of_a_type_we_do_not_trust(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(skops.io.dumps(NotOurs()))
    with pytest.raises(ModelFileError) as raised:
        load_model(path)
    assert (
        str(raised.value) == f"{path}: holds types this project does not trust: {__name__}.NotOurs"
    )


SYSTEM = {"__class__": "system", "__module__": "os", "__loader__": "ReduceNode"}  # no such loader
LIST = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "protocol": 2}
NESTED = json.dumps(LIST | {"content": [SYSTEM]}).encode()
READS = json.dumps([{"file": "1.npy"}] * 1100).encode()  # 1.1 GB, were each read
STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
NAMES = "expected schema.json and numbered .npy/.npz files, stored as train writes"


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ({"schema.json": (b" " * 10**6, 300, DEFLATED)},
         "schema.json unpacks to 300,000,000 bytes, over 10 MB"),
        ({"schema.json": (b"{}", 1, DEFLATED)}, NAMES),
        ({"schema.json": (b"{}", 1, STORED), "../run.py": (b"", 1, STORED)}, NAMES),
        ({"schema.json": (READS, 1, STORED), "1.npy": (bytes(10**6), 1, STORED)},
         "its schema reads over 1 GB of arrays"),
        ({"schema.json": (NESTED, 1, STORED)}, "TypeError: Can't find loader ReduceNode"),
    ],
    ids=["zip bomb", "compressed", "a stranger's member", "1100 array reads", "nested os.system"],
)  # fmt: skip
def test_a_model_file_train_would_not_write_is_refused_unpacking_nothing(tmp_path, members, why):
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as archive:  # in chunks: 300 MB of bomb in 300 KB
        for name, (chunk, count, compression) in members.items():
            archive.compression = compression
            with archive.open(name, "w") as member:
                for _ in range(count):
                    member.write(chunk)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as raised:
            load_model(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert str(raised.value).startswith(f"{path}: not a skops model file of this project ({why}")
    assert "\n" not in str(raised.value) and peak < 10**7, "one line, nothing unpacked"


def test_model_that_learns_in_steps_writes_live_metrics_and_history(slice_run, write_params):
    mlp = {"features": "normalize", "estimator": "mlp", "hidden_layer_sizes": [10]}
    mlp |= {"max_iter": 2, "random_state": 0, "batch_size": 64}
    params = write_params({**SLICE_PARAMS, "models": {"mlp": mlp}})
    live, history = params.parent / "live", params.parent / "history.csv"
    result = train(slice_run, params, "mlp", "stages/normalize", params.parent / "mlp", history)
    assert result.returncode == 0, result.stderr
    summary = json.loads((live / "metrics.json").read_text())
    assert list(summary) == ["loss", "val_acc", "step"] and summary["step"] == 2
    assert sorted(p.name for p in live.iterdir()) == ["metrics.json"]  # no dvc.yaml, no plots
    lines = history.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_acc"
    assert lines[-1] == f"2,{summary['loss']},{summary['val_acc']}"


def test_mlp_reporting_each_epoch_fits_the_very_weights_of_scikit_learns(mnist_slice):
    x = mnist_slice["train_images"].reshape(1200, -1).astype(np.float32) / 255
    y = mnist_slice["train_labels"]
    params = {"hidden_layer_sizes": (20,), "max_iter": 3, "random_state": 0, "batch_size": 64}
    logged = []
    with pytest.warns(UserWarning):
        ours = EpochLoggingMLPClassifier(**params).fit(
            x[:1000],
            y[:1000],
            validation=(x[1000:], y[1000:]),
            log=lambda epoch, **m: logged.append((epoch, m)),
        )
        theirs = MLPClassifier(**params).fit(x[:1000], y[:1000])
    for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
        assert a.tobytes() == b.tobytes()
    assert [(e, m["loss"]) for e, m in logged] == list(enumerate(theirs.loss_curve_, start=1))
    assert ours.val_accuracy_ == [m["val_acc"] for _, m in logged]
    gd_logged = []
    gd = GradientDescentLogisticRegression(max_iter=3).fit(
        x[:1000], y[:1000] == 4, log=lambda step, **m: gd_logged.append((step, m["loss"]))
    )
    assert gd_logged == list(enumerate(gd.loss_curve_))


def train(cwd: Path, params: Path, model: str, features: str | Path, out: Path, history: Path):
    """train@<model> in ``cwd``, writing ``out``, ``history`` and live/ beside it."""
    live = history.parent / "live"
    paths = dict(model=model, features=features, out=out, history=history, live=live)
    script, *args = redirected(SLICE_STEPS["train@knn"], **paths)
    return run_main(script, "--params", params, *args, cwd=cwd)


def train_fails_with(slice_run: Path, params: Path, model: str, features: str | Path) -> str:
    """Run train@<model> on bad params or data: exit 1, no model folder, no history; stderr."""
    out, history = params.parent / "train/bad", params.parent / "metrics/bad/history.csv"
    result = train(slice_run, params, model, features, out, history)
    assert result.returncode == 1
    assert not out.exists() and not history.parent.exists()
    return result.stderr


KD_TREE = "chebyshev, cityblock, euclidean, infinity, l1, l2, manhattan, minkowski, p"
BAD_PARAMETERS = {  # the model's params, the start of train's one line
    "ours": ({"svm": {"C": -1}}, "models.svm.C: input should be greater than 0, got -1"),
    "scikit-learns-in-fit": ({"knn": {"k": 0}}, "models.knn.k: "),  # scikit-learn's words follow
    "precomputed": (
        {"knn": {"k": 3, "metric": "precomputed"}},
        "models.knn.metric: expected a metric of feature rows, got 'precomputed' "
        "(the stages pass features, not distances)",
    ),
    "kd_tree-cosine": (
        {"knn": {"algorithm": "kd_tree", "metric": "cosine"}},
        f"models.knn.metric: expected one of the metrics algorithm kd_tree supports ({KD_TREE}), "
        "got 'cosine'",
    ),
    "k-twice": (
        {"knn": {"k": 3, "n_neighbors": 3}},
        "models.knn.k: expected one of k and n_neighbors (the same parameter), got both",
    ),
    "k-above-rows": (
        {"knn": {"k": 60000}},
        "models.knn.k: expected at most the 1000 training rows of stages/pca/train.npz, got 60000",
    ),
}


@pytest.mark.parametrize(("models", "message"), BAD_PARAMETERS.values(), ids=BAD_PARAMETERS)
def test_parameters_that_cannot_work_stop_train_with_one_line_naming_the_key(
    slice_run, write_params, models, message
):
    ((name, values),) = models.items()
    model = {"features": "pca", "estimator": "one_vs_one_svc" if name == "svm" else "knn"}
    params = write_params({**SLICE_PARAMS, "models": {name: model | values}})
    stderr = train_fails_with(slice_run, params, name, "stages/pca")
    errors = [line for line in stderr.splitlines() if line.startswith("train: error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"train: error: {message}")


def test_detector_whose_digit_is_absent_stops_train_before_fitting(
    slice_run, write_params, tmp_path
):
    params = write_params(SLICE_PARAMS)
    features = load_arrays(slice_run / "stages/normalize/train.npz", ("X", "y"))
    kept = features["y"] != 5
    save_arrays(tmp_path / "no5/train.npz", {"X": features["X"][kept], "y": features["y"][kept]})
    assert train_fails_with(slice_run, params, "sgd_5", tmp_path / "no5").endswith(
        f"train: error: {tmp_path / 'no5/train.npz'}: expected training labels of at least 2 "
        "classes for models.sgd_5, got only class 0\n"
    )


def test_fifo_in_place_of_the_features_fails_at_once(slice_run, write_params, tmp_path):
    features = tmp_path / "fifo_features"
    features.mkdir()
    os.mkfifo(features / "train.npz")
    assert train_fails_with(slice_run, write_params(SLICE_PARAMS), "knn", features) == (
        f"train: error: {features / 'train.npz'}: expected a regular file, got a FIFO\n"
    )


def test_missing_feature_chain_is_named(slice_run, write_params, tmp_path):
    features = tmp_path / "no_chain"
    features.mkdir()
    for name in ("train.npz", "val.npz"):
        (features / name).write_bytes((slice_run / "stages/pca" / name).read_bytes())
    stderr = train_fails_with(slice_run, write_params(SLICE_PARAMS), "knn", features)
    assert stderr.startswith("train: error: ") and str(features / CHAIN_FILE) in stderr
