"""The evaluate stage on the MNIST slice: scores, predictions, tables and a detector's CV."""

import json

import numpy as np
from conftest import SLICE_STEPS, params_copy, redirected, run_main, stage_main

from mnist_pipeline.plumbing.files import load_arrays

positive_scores = stage_main("evaluate").__globals__["positive_scores"]


def test_evaluate_records_the_decision_function_above_zero_or_the_probability_above_half():
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import SGDClassifier

    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    y = (x[:, 0] > 0).astype(int)
    _, kind, threshold = positive_scores(SGDClassifier(random_state=0).fit(x, y), x)
    assert (kind, threshold) == ("decision_function", 0.0)
    _, kind, threshold = positive_scores(DummyClassifier(strategy="most_frequent").fit(x, y), x)
    assert (kind, threshold) == ("predict_proba", 0.5)


def test_classifier_writes_scores_the_predictions_give_and_tables_beside_them(slice_run):
    scores = slice_run / "metrics/knn/scores"
    assert sorted(p.name for p in scores.iterdir()) == ["test.json", "val.json"]
    test = json.loads((scores / "test.json").read_text())
    assert list(test) == ["acc", "acc_hi", "acc_lo", "f1"]
    assert test["acc_lo"] < test["acc"] < test["acc_hi"]
    assert list(json.loads((scores / "val.json").read_text())) == ["acc"]
    assert sorted(p.name for p in (slice_run / "metrics/knn/predictions").iterdir()) == ["test.csv"]
    lines = (slice_run / "metrics/knn/predictions/test.csv").read_text().splitlines()
    assert lines[0] == "actual,predicted" and len(lines) == 1 + 300
    correct = sum(actual == predicted for actual, predicted in (x.split(",") for x in lines[1:]))
    assert test["acc"] == round(correct / 300, 4)
    per_class = (slice_run / "metrics/knn/per_class.csv").read_text().splitlines()
    assert per_class[0] == "class,test,val" and len(per_class) == 11
    pairs = (slice_run / "metrics/knn/confused_pairs.csv").read_text().splitlines()
    assert pairs[0] == "pair,actual,predicted,count" and 1 < len(pairs) <= 11
    assert (slice_run / "metrics/knn/pr_curve.csv").read_text() == "recall,precision,threshold\n"


def test_detector_reports_precision_recall_f1_and_ap_of_its_digit(slice_run, mnist_slice):
    scores = slice_run / "metrics/sgd_5/scores"
    test = json.loads((scores / "test.json").read_text())
    assert list(test) == ["acc", "acc_hi", "acc_lo", "ap", "f1", "p", "r"]
    assert list(json.loads((scores / "val.json").read_text())) == ["acc", "ap", "f1", "p", "r"]
    lines = (slice_run / "metrics/sgd_5/predictions/test.csv").read_text().splitlines()
    pairs = [line.split(",") for line in lines[1:]]
    assert sum(actual == "5" for actual, _ in pairs) == np.sum(mnist_slice["test_labels"] == 5)
    true_positives = sum(a == p == "5" for a, p in pairs)
    predicted = sum(p == "5" for _, p in pairs)
    assert test["p"] == round(true_positives / predicted, 4)
    curve = (slice_run / "metrics/sgd_5/pr_curve.csv").read_text().splitlines()
    assert curve[0] == "recall,precision,threshold" and curve[-1] == "0.0,1.0,"


def test_cv_files_are_scikit_learns_cross_val_score_and_cross_val_predict(slice_run):
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import cross_val_predict, cross_val_score

    train = load_arrays(slice_run / "stages/normalize/train.npz", ("X", "y"))
    x, y = train["X"], (train["y"] == 5).astype(np.uint8)
    folds = cross_val_score(SGDClassifier(random_state=1), x, y, cv=3, scoring="accuracy")
    predicted = cross_val_predict(SGDClassifier(random_state=1), x, y, cv=3)
    cv = json.loads((slice_run / "metrics/sgd_5/scores/cv.json").read_text())
    assert list(cv) == ["acc", "acc_sd", "f1", "fold1", "fold2", "fold3", "p", "r"]
    assert [cv["fold1"], cv["fold2"], cv["fold3"]] == [round(f, 4) for f in folds]
    assert (cv["acc"], cv["acc_sd"]) == (round(folds.mean(), 4), round(folds.std(), 4))
    lines = (slice_run / "metrics/sgd_5/predictions/cv.csv").read_text().splitlines()
    assert lines[0] == "actual,predicted" and len(lines) == 1 + 1000
    assert [line.split(",")[1] == "5" for line in lines[1:]] == list(predicted == 1)
    p, r, f1, _ = precision_recall_fscore_support(y, predicted, average="binary")
    assert (cv["p"], cv["r"], cv["f1"]) == (round(p, 4), round(r, 4), round(f1, 4))


def test_a_model_file_that_is_no_skops_file_is_one_line(slice_run, tmp_path):
    (tmp_path / "model/model.skops").parent.mkdir()
    (tmp_path / "model/model.skops").write_bytes(b"\x80\x04K\x01.")  # a pickle
    paths = dict(model_dir=tmp_path / "model", metrics_dir=tmp_path / "m", out=tmp_path / "out")
    script, *args = redirected(SLICE_STEPS["evaluate@knn"], **paths)
    result = run_main(script, "--params", params_copy(slice_run, tmp_path), *args, cwd=slice_run)
    assert result.returncode == 1 and not (tmp_path / "m").exists()
    assert result.stderr.startswith(
        f"evaluate: error: {tmp_path / 'model/model.skops'}: "
        "not a skops model file of this project (BadZipFile"
    )
