"""Stage `evaluate@<model>`: score train's model.skops on the validation and test splits (and a
k-fold cross-validation on the training split for a model with `cv`): metrics/<model>/scores/,
predictions/, per_class.csv, confused_pairs.csv, pr_curve.csv, and predictions.npz."""

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import mnist_pipeline  # noqa: F401  first: it pins NumPy's CPU kernels (see its docstring)

# isort: split
import numpy as np
from threadpoolctl import threadpool_limits

from mnist_pipeline import scoring
from mnist_pipeline.estimators import estimator_spec
from mnist_pipeline.labels import ClassesError, check_classes, class_names, task_labels
from mnist_pipeline.params import ParamsError, load_params
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays, save_arrays
from mnist_pipeline.plumbing.files import write_json as json_to
from mnist_pipeline.plumbing.files import write_text as text_to
from mnist_pipeline.plumbing.model_files import MODEL_FILE, ModelFileError, load_model

log = logging.getLogger("evaluate")


def positive_scores(estimator: Any, x: np.ndarray) -> tuple[np.ndarray, str, float]:
    """A detector's score for the positive class, its method, and the threshold above which
    ``predict`` says "positive": the decision function (> 0), else the probability (> 0.5)."""
    if hasattr(estimator, "decision_function"):
        return estimator.decision_function(x), "decision_function", 0.0
    return estimator.predict_proba(x)[:, 1], "predict_proba", 0.5


def cross_validation(
    model: Any, estimator: Any, x: np.ndarray, y: np.ndarray, names: list[str]
) -> tuple[dict[str, float], np.ndarray]:
    """``cross_val_predict`` with scikit-learn's ``cv=model.cv`` folds, fold by fold (a log
    line each): scores/cv.json's values (each fold's accuracy is ``cross_val_score``'s) and
    the cross-validated predictions, one per training row."""
    from sklearn.base import clone
    from sklearn.model_selection import check_cv

    y_pred, folds = np.empty_like(y), []
    for done, (fit_rows, rows) in enumerate(check_cv(model.cv, y, classifier=True).split(x, y)):
        y_pred[rows] = clone(estimator).fit(x[fit_rows], y[fit_rows]).predict(x[rows])
        folds.append(float(np.mean(y_pred[rows] == y[rows])))
        log.info("%s: cross-validation fold %d: accuracy %.4f", model.name, done + 1, folds[-1])
    kind = "classifier" if model.target is None else "detector"
    return scoring.cv_scores(folds, scoring.confusion(y, y_pred, len(names)), kind), y_pred


def evaluate(
    params_path: Path, name: str, model_dir: Path, features: Path, metrics: Path, out: Path
) -> None:
    """Score ``model_dir``/model.skops's estimator on ``features``' val and test rows (what its
    feature chain makes of the images) and write the tables under ``metrics`` and ``out``."""
    params = load_params(params_path)
    model, dataset = params.model(name), params.dataset
    splits = {s: load_arrays(features / f"{s}.npz", ("X", "y")) for s in ("val", "test")}
    classes = dataset.classes, dataset.key
    check_classes({str(features / f"{s}.npz"): d["y"] for s, d in splits.items()}, *classes)
    estimator = load_model(model_dir / MODEL_FILE).steps[-1][1]
    names = class_names(model.target, dataset.classes)
    kind = "classifier" if model.target is None else "detector"
    scores, matrices, arrays, predictions = {}, {}, {}, {}
    curve = np.empty(0), np.empty(0), np.empty(0)
    threads = estimator_spec(model.estimator, key_prefix=model.key).blas_threads
    with threadpool_limits(limits=threads, user_api="blas"):
        for split, data in splits.items():
            if len(data["y"]) == 0:
                log.info("%s: no %s split in %s, not scored", name, split, features)
                continue
            y_true = task_labels(data["y"], model.target)
            y_pred, ap = estimator.predict(data["X"]), None
            if kind == "detector":
                score, score_kind, threshold = positive_scores(estimator, data["X"])
                *split_curve, ap = scoring.precision_recall(y_true, score)
                arrays[f"{split}_score"] = score.astype(np.float32)
                if split == "test":
                    curve = tuple(split_curve)
                    arrays |= {"score_kind": np.array(score_kind), "threshold": np.array(threshold)}
                    arrays |= {"curve_precision": curve[0], "curve_recall": curve[1]}
                    arrays["test_ap"] = np.array(ap)
            matrices[split] = scoring.confusion(y_true, y_pred, len(names))
            scores[split] = scoring.split_scores(matrices[split], kind, split, ap)
            arrays[f"{split}_pred"], predictions[split] = y_pred, (y_true, y_pred)
            log.info("%s: %s accuracy %.4f", name, split, scores[split]["acc"])
        if "test" not in scores:
            raise ValueError(f"{features / 'test.npz'}: the test split is empty")
        if model.cv is not None:
            train = load_arrays(features / "train.npz", ("X", "y"))
            check_classes({str(features / "train.npz"): train["y"]}, *classes)
            y_train = task_labels(train["y"], model.target)
            scores["cv"], cv_pred = cross_validation(model, estimator, train["X"], y_train, names)
            predictions["cv"] = y_train, cv_pred
    with atomic_dir(metrics / "scores") as tmp:
        for split, values in scores.items():
            json_to(tmp / f"{split}.json", values)
    with atomic_dir(metrics / "predictions") as tmp:
        for split in [s for s in ("test", "cv") if s in predictions]:
            text_to(tmp / f"{split}.csv", scoring.predictions_csv(*predictions[split], names))
    ordered = {split: matrices[split] for split in ("test", "val") if split in matrices}
    text_to(metrics / "per_class.csv", scoring.per_class_csv(ordered, names))
    text_to(metrics / "confused_pairs.csv", scoring.confused_pairs_csv(matrices["test"], names))
    text_to(metrics / "pr_curve.csv", scoring.pr_curve_csv(*curve))
    with atomic_dir(out) as tmp:
        save_arrays(tmp / "predictions.npz", arrays)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 1 with one line for an expected error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    parser.add_argument("--model", required=True, help="the model's name under `models`")
    parser.add_argument("--model-dir", type=Path, required=True, help="train's folder")
    parser.add_argument("--features", type=Path, required=True, help="the feature stage folder")
    parser.add_argument("--metrics-dir", type=Path, required=True, help="folder for the tables")
    parser.add_argument("--out", type=Path, required=True, help="folder for predictions.npz")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        evaluate(args.params, args.model, args.model_dir, args.features, args.metrics_dir, args.out)
    except (ParamsError, ClassesError, ModelFileError, OSError, ValueError) as err:
        print(f"evaluate: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
