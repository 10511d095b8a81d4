"""normalize -> pca -> train -> evaluate as subprocesses on a slice of the real MNIST."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import run_script, run_stages, write_decoded_slice

from mnist_pipeline.files import load_arrays, save_arrays
from mnist_pipeline.normalization import normalize

SMALL = {
    "split": {"validation": 200},
    "pca": {"n": 20},
    "models": {
        "knn": {"features": "pca", "estimator": "knn", "k": 3},
        "sgd_5": {
            "features": "normalize",
            "estimator": "sgd",
            "target": 5,
            "random_state": 1,
            "cv": 3,
        },
    },
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, mnist_slice, repo_params) -> Path:
    """Run every stage after decode once; tests inspect the folder it leaves."""
    import yaml
    from conftest import deep_update

    root = tmp_path_factory.mktemp("pipeline")
    params = root / "params.yaml"
    merged = deep_update(repo_params, SMALL)
    merged["models"] = SMALL["models"]
    merged["datasets"]["mnist"]["references"].update(test={}, cv={})
    params.write_text(yaml.safe_dump(merged, sort_keys=False))
    write_decoded_slice(root, mnist_slice)
    steps = [
        (
            "normalize",
            "--in",
            "stages/decode",
            "--out",
            "stages/normalize",
            "--labels",
            "metrics/label_distribution.csv",
        ),
        (
            "pca",
            "--in",
            "stages/normalize",
            "--out",
            "stages/pca",
            "--variance",
            "metrics/pca/variance.csv",
        ),
    ]
    for name, features in (("knn", "pca"), ("sgd_5", "normalize")):
        steps.append(
            (
                "train",
                "--model",
                name,
                "--features",
                f"stages/{features}",
                "--out",
                f"stages/train/{name}",
                "--history",
                f"metrics/{name}/history.csv",
            )
        )
        steps.append(
            (
                "evaluate",
                "--model",
                name,
                "--model-dir",
                f"stages/train/{name}",
                "--features",
                f"stages/{features}",
                "--metrics-dir",
                f"metrics/{name}",
                "--out",
                f"stages/evaluate/{name}",
            )
        )
    run_stages(root, params, steps)
    return root


def test_normalize_holds_out_the_last_training_images_as_validation(pipeline, mnist_slice):
    val = load_arrays(pipeline / "stages/normalize/val.npz", ("X", "y"))
    np.testing.assert_array_equal(val["y"], mnist_slice["train_labels"][-200:])
    assert val["X"].dtype == np.float32 and val["X"].shape == (200, 784)


def test_label_distribution_counts_every_digit_per_split(pipeline, mnist_slice):
    lines = (pipeline / "metrics/label_distribution.csv").read_text().splitlines()
    assert lines[0] == "class,train,val,test"
    assert len(lines) == 1 + 10
    counts = [
        np.sum(mnist_slice["train_labels"][:1000] == 5),
        np.sum(mnist_slice["train_labels"][1000:] == 5),
        np.sum(mnist_slice["test_labels"] == 5),
    ]
    assert lines[1 + 5] == "5," + ",".join(map(str, counts))


def test_pca_writes_projections_and_the_whole_variance_spectrum(pipeline):
    train = load_arrays(pipeline / "stages/pca/train.npz", ("X", "y"))
    assert train["X"].shape == (1000, 20)
    lines = (pipeline / "metrics/pca/variance.csv").read_text().splitlines()
    assert lines[0] == "components,share,cumulative"
    assert len(lines) == 1 + 784
    rows = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_array_equal(rows[:, 0], np.arange(1, 785))
    assert np.all(np.diff(rows[:, 1]) <= 0)
    assert rows[-1, 2] == pytest.approx(1.0, abs=1e-6)
    components = load_arrays(pipeline / "stages/pca/components.npz", ("explained_variance_ratio",))[
        "explained_variance_ratio"
    ]
    assert rows[19, 2] == pytest.approx(components.sum(), abs=1e-6)


def test_classifier_writes_fixed_scores_for_test_and_val(pipeline):
    scores = pipeline / "metrics/knn/scores"
    assert sorted(p.name for p in scores.iterdir()) == ["test.json", "val.json"]
    test = json.loads((scores / "test.json").read_text())
    assert list(test) == ["acc", "acc_hi", "acc_lo", "f1"]
    assert test["acc_lo"] < test["acc"] < test["acc_hi"]
    assert list(json.loads((scores / "val.json").read_text())) == ["acc"]


def test_test_predictions_csv_gives_the_accuracy_in_the_scores(pipeline):
    lines = (pipeline / "metrics/knn/predictions/test.csv").read_text().splitlines()
    assert lines[0] == "actual,predicted" and len(lines) == 1 + 300
    correct = sum(
        actual == predicted for actual, predicted in (line.split(",") for line in lines[1:])
    )
    test = json.loads((pipeline / "metrics/knn/scores/test.json").read_text())
    assert test["acc"] == round(correct / 300, 4)


def test_tables_move_out_of_the_scores(pipeline):
    per_class = (pipeline / "metrics/knn/per_class.csv").read_text().splitlines()
    assert per_class[0] == "class,test,val" and len(per_class) == 11
    pairs = (pipeline / "metrics/knn/confused_pairs.csv").read_text().splitlines()
    assert pairs[0] == "pair,actual,predicted,count" and 1 < len(pairs) <= 11
    assert (pipeline / "metrics/knn/pr_curve.csv").read_text() == "recall,precision,threshold\n"


def test_detector_reports_precision_recall_f1_and_ap_of_its_digit(pipeline, mnist_slice):
    scores = pipeline / "metrics/sgd_5/scores"
    assert list(json.loads((scores / "test.json").read_text())) == [
        "acc",
        "acc_hi",
        "acc_lo",
        "ap",
        "f1",
        "p",
        "r",
    ]
    assert list(json.loads((scores / "val.json").read_text())) == ["acc", "ap", "f1", "p", "r"]
    lines = (pipeline / "metrics/sgd_5/predictions/test.csv").read_text().splitlines()
    pairs = [line.split(",") for line in lines[1:]]
    assert sum(actual == "5" for actual, _ in pairs) == np.sum(mnist_slice["test_labels"] == 5)
    true_positives = sum(a == p == "5" for a, p in pairs)
    predicted = sum(p == "5" for _, p in pairs)
    test = json.loads((scores / "test.json").read_text())
    assert test["p"] == round(true_positives / predicted, 4)
    curve = (pipeline / "metrics/sgd_5/pr_curve.csv").read_text().splitlines()
    assert curve[0] == "recall,precision,threshold" and curve[-1] == "0.0,1.0,"


def test_cv_scores_are_scikit_learns_cross_val_score_folds(pipeline):
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import cross_val_score

    train = load_arrays(pipeline / "stages/normalize/train.npz", ("X", "y"))
    folds = cross_val_score(
        SGDClassifier(random_state=1), train["X"], train["y"] == 5, cv=3, scoring="accuracy"
    )
    cv = json.loads((pipeline / "metrics/sgd_5/scores/cv.json").read_text())
    assert list(cv) == ["acc", "acc_sd", "f1", "fold1", "fold2", "fold3", "p", "r"]
    assert [cv["fold1"], cv["fold2"], cv["fold3"]] == [round(f, 4) for f in folds]
    assert (cv["acc"], cv["acc_sd"]) == (round(folds.mean(), 4), round(folds.std(), 4))


def test_cv_predictions_are_cross_val_predicts_one_per_training_image(pipeline):
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import cross_val_predict

    train = load_arrays(pipeline / "stages/normalize/train.npz", ("X", "y"))
    predicted = cross_val_predict(
        SGDClassifier(random_state=1), train["X"], (train["y"] == 5).astype(np.uint8), cv=3
    )
    lines = (pipeline / "metrics/sgd_5/predictions/cv.csv").read_text().splitlines()
    assert lines[0] == "actual,predicted" and len(lines) == 1 + 1000
    assert [line.split(",")[1] == "5" for line in lines[1:]] == list(predicted == 1)
    p, r, f1, _ = precision_recall_fscore_support(train["y"] == 5, predicted == 1, average="binary")
    cv = json.loads((pipeline / "metrics/sgd_5/scores/cv.json").read_text())
    assert (cv["p"], cv["r"], cv["f1"]) == (round(p, 4), round(r, 4), round(f1, 4))


def test_cv_outputs_are_the_same_bytes_when_evaluate_runs_again(pipeline, tmp_path):
    result = run_script(
        "evaluate",
        "--params",
        pipeline / "params.yaml",
        "--model",
        "sgd_5",
        "--model-dir",
        pipeline / "stages/train/sgd_5",
        "--features",
        pipeline / "stages/normalize",
        "--metrics-dir",
        tmp_path / "sgd_5",
        "--out",
        tmp_path / "evaluate",
    )
    assert result.returncode == 0, result.stderr
    for name in ("scores/cv.json", "predictions/cv.csv"):
        assert (tmp_path / "sgd_5" / name).read_bytes() == (
            pipeline / "metrics/sgd_5" / name
        ).read_bytes()


def test_model_without_cv_writes_no_cv_files(pipeline):
    assert not (pipeline / "metrics/knn/scores/cv.json").exists()
    assert not (pipeline / "metrics/knn/predictions/cv.csv").exists()


def test_non_iterative_model_has_an_empty_loss_history(pipeline):
    assert (pipeline / "metrics/knn/history.csv").read_text() == "epoch,loss\n"


@pytest.mark.parametrize("script", ["normalize", "pca", "train", "evaluate"])
def test_every_script_has_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage:")


def test_pca_n_larger_than_the_feature_count_is_refused(pipeline, write_params):
    params = write_params({"pca": {"n": 785}})
    result = run_script(
        "pca",
        "--params",
        params,
        "--in",
        "stages/normalize",
        "--out",
        "stages/pca_big",
        "--variance",
        "pca_big.csv",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "pca: error: pca.n: expected at most 784 (the number of features or training rows), got 785"
    )
    assert not (pipeline / "stages/pca_big").exists()


def test_normalize_follows_the_section_named_on_its_command_line(pipeline, write_params):
    params = write_params({**SMALL, "normalize_deskewed": {"method": "l2", "deskew": True}})
    result = run_script(
        "normalize",
        "--params",
        params,
        "--section",
        "normalize_deskewed",
        "--in",
        "stages/decode",
        "--out",
        "stages/normalize_deskewed",
        cwd=pipeline,
    )
    assert result.returncode == 0, result.stderr
    plain = load_arrays(pipeline / "stages/normalize/test.npz", ("X", "y"))
    (straightened,) = normalize(
        "l2", load_arrays(pipeline / "stages/decode/test.npz", ("images",))["images"], deskewed=True
    )
    written = load_arrays(pipeline / "stages/normalize_deskewed/test.npz", ("X", "y"))
    np.testing.assert_array_equal(written["X"], straightened)
    np.testing.assert_array_equal(written["y"], plain["y"])
    assert not np.allclose(written["X"], plain["X"] / np.linalg.norm(plain["X"], axis=1)[:, None])


def test_pca_error_names_the_section_it_follows(pipeline, write_params):
    params = write_params({"pca_deskewed": {"n": 785}})
    result = run_script(
        "pca",
        "--params",
        params,
        "--section",
        "pca_deskewed",
        "--in",
        "stages/normalize",
        "--out",
        "stages/pca_big",
        "--variance",
        "pca_big.json",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "pca: error: pca_deskewed.n: expected at most 784 (the "
        "number of features or training rows), got 785"
    )


def test_estimator_parameter_scikit_learn_rejects_stops_train_before_fitting(
    pipeline, write_params
):
    params = write_params({"models": {"svm": {"C": -1}}})
    result = run_script(
        "train",
        "--params",
        params,
        "--model",
        "svm",
        "--features",
        "stages/pca",
        "--out",
        "stages/train/bad",
        "--history",
        "bad.csv",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "train: error: models.svm.C: The 'C' parameter of SVC must "
        "be a float in the range (0.0, inf]. Got -1 instead."
    )
    assert not (pipeline / "stages/train/bad").exists()


def test_validation_as_large_as_the_training_set_is_refused(pipeline, write_params):
    params = write_params({"split": {"validation": 1200}})
    result = run_script(
        "normalize",
        "--params",
        params,
        "--in",
        "stages/decode",
        "--out",
        "stages/norm_bad",
        "--labels",
        "labels_bad.csv",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "normalize: error: split.validation: expected fewer than the 1200 training images, got 1200"
    )
    assert not (pipeline / "stages/norm_bad").exists()


def train_fails_with(pipeline: Path, params: Path, model: str, features: str) -> str:
    """Run train@<model> on bad params: exit 1, no model folder, no history; its stderr."""
    result = run_script(
        "train",
        "--params",
        params,
        "--model",
        model,
        "--features",
        f"stages/{features}",
        "--out",
        "stages/train/bad",
        "--history",
        "metrics/bad/history.csv",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert not (pipeline / "stages/train/bad").exists()
    assert not (pipeline / "metrics/bad").exists()
    assert [p.name for p in (pipeline / "stages/train").iterdir() if p.name.startswith(".")] == []
    return result.stderr


@pytest.mark.parametrize(
    ("knn", "message"),
    [
        (
            {"metric": "precomputed"},
            "models.knn.metric: expected a metric of feature rows, got 'precomputed' "
            "(the stages pass features, not distances)",
        ),
        (
            {"algorithm": "kd_tree", "metric": "cosine"},
            "models.knn.metric: expected one of the metrics algorithm kd_tree supports (chebyshev, "
            "cityblock, euclidean, infinity, l1, l2, manhattan, minkowski, p), got 'cosine'",
        ),
        (
            {"n_neighbors": 3},
            "models.knn.k: expected one of k and n_neighbors (the same parameter), got both",
        ),
        (
            {"k": 60000},
            "models.knn.k: expected at most the 1000 training rows of stages/pca/train.npz, "
            "got 60000",
        ),
    ],
    ids=["precomputed", "kd_tree-cosine", "k-and-n_neighbors", "k-above-training-rows"],
)
def test_knn_parameters_that_cannot_work_stop_train_before_fitting(
    pipeline, write_params, knn, message
):
    params = write_params({**SMALL, "models": {"knn": {**SMALL["models"]["knn"], **knn}}})
    assert train_fails_with(pipeline, params, "knn", "pca") == f"train: error: {message}\n"


def test_detector_whose_digit_is_absent_stops_train_before_fitting(pipeline, write_params):
    params = write_params({**SMALL, "models": {"sgd_5": {**SMALL["models"]["sgd_5"], "target": 5}}})
    decoded = load_arrays(pipeline / "stages/normalize/train.npz", ("X", "y"))
    without_5 = pipeline / "stages/no5"
    save_arrays(
        without_5 / "train.npz",
        {"X": decoded["X"][decoded["y"] != 5], "y": decoded["y"][decoded["y"] != 5]},
    )
    assert train_fails_with(pipeline, params, "sgd_5", "no5") == (
        "train: error: stages/no5/train.npz: expected training labels of at least 2 classes "
        "for models.sgd_5, got only class 0\n"
    )


def test_validation_leaving_one_digit_is_refused_before_any_model_is_fitted(pipeline, write_params):
    params = write_params({"split": {"validation": 1199}})
    result = run_script(
        "normalize",
        "--params",
        params,
        "--in",
        "stages/decode",
        "--out",
        "stages/norm_bad",
        "--labels",
        "labels_bad.csv",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "normalize: error: split.validation: expected to leave training "
        "images of at least 2 digits, got 1199 (the 1 left are all 5s)\n"
    )
    assert not (pipeline / "stages/norm_bad").exists()
    assert not (pipeline / "labels_bad.csv").exists()


def test_fifo_in_place_of_the_features_fails_at_once(pipeline, write_params, tmp_path):
    features = tmp_path / "fifo_features"
    features.mkdir()
    os.mkfifo(features / "train.npz")
    params = write_params(SMALL)
    result = run_script(
        "train",
        "--params",
        params,
        "--model",
        "knn",
        "--features",
        features,
        "--out",
        "stages/train/bad",
        "--history",
        "metrics/bad/history.csv",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"train: error: {features / 'train.npz'}: expected a regular file, got a FIFO\n"
    )
    assert not (pipeline / "stages/train/bad").exists()
