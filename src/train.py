"""Stage `train@<model>`: fit one model of params.yaml's `models` on its training features."""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import time
import warnings
from pathlib import Path

from mnist_pipeline.files import atomic_dir, load_arrays, write_text
from mnist_pipeline.labels import task_labels
from mnist_pipeline.params import Model, ParamsError, load_params
from mnist_pipeline.registry import (
    EstimatorParamError,
    blas_threads,
    build_estimator,
    check_training_data,
)
from mnist_pipeline.stage import run_stage

log = logging.getLogger("train")


def training_history(estimator) -> str:
    """CSV of the loss per epoch for estimators that record it (the MLP, the gradient-descent
    model); the header only for the others. Epochs count from the estimator's
    ``loss_curve_start`` (default 1: the MLP's first loss is after its first epoch; 0 for the
    gradient-descent model, whose first loss is before any update) and losses are rounded to
    its ``loss_curve_digits`` decimals (default 6). The bytes pandas's ``to_csv`` wrote,
    without importing pandas (0.3 s, a third of a 1-NN train stage, which imports no
    scikit-learn and so no pandas otherwise)."""
    losses = getattr(estimator, "loss_curve_", [])
    start = getattr(estimator, "loss_curve_start", 1)
    digits = getattr(estimator, "loss_curve_digits", 6)
    rows = [
        f"{epoch},{round(float(loss), digits)!r}" for epoch, loss in enumerate(losses, start=start)
    ]
    return "\n".join(["epoch,loss", *rows]) + "\n"


def train(model: Model, features: Path, out: Path, history_csv: Path) -> None:
    estimator = build_estimator(model.estimator, model.params, key_prefix=model.key)
    data = load_arrays(features / "train.npz", ("X", "y"))
    labels = task_labels(data["y"], model.target)
    check_training_data(
        estimator, model.params, labels, key_prefix=model.key, source=str(features / "train.npz")
    )
    log.info(
        "%s: fitting %s on %d x %d %s features",
        model.name,
        type(estimator).__name__,
        *data["X"].shape,
        model.features,
    )
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, blas_threads(model.estimator):
        if type(estimator).__module__.startswith("sklearn."):
            # Imported only for scikit-learn's estimators: the registry's own 1-NN needs no
            # scikit-learn, whose import is 0.8 s of start-up.
            from sklearn.exceptions import ConvergenceWarning

            warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(data["X"], labels)
    fit_seconds = time.perf_counter() - started
    for warning in caught:
        # A fixed epoch or iteration budget (the notebooks' own) is a choice, not a fault:
        # say it in one line rather than scikit-learn's paragraph.
        log.warning(
            "%s: %s: %s",
            model.name,
            warning.category.__name__,
            str(warning.message).splitlines()[0],
        )
    with atomic_dir(out) as tmp, (tmp / "model.pkl").open("wb") as fh:
        pickle.dump(estimator, fh, protocol=pickle.HIGHEST_PROTOCOL)
    write_text(history_csv, training_history(estimator))
    log.info("%s: fitted in %.1f s", model.name, fit_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fit the scikit-learn estimator that params.yaml's models.<name> describes "
        "on the training split of its features; writes model.pkl and a per-epoch loss CSV.",
    )
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (models.<name>)")
    parser.add_argument("--model", required=True, help="the model's name under `models`")
    parser.add_argument(
        "--features", type=Path, required=True, help="the feature stage's folder (train.npz)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for model.pkl")
    parser.add_argument(
        "--history",
        type=Path,
        required=True,
        help="CSV of loss per epoch (header only for non-iterative models)",
    )
    args = parser.parse_args(argv)
    return run_stage(
        "train",
        lambda: train(
            load_params(args.params).model(args.model), args.features, args.out, args.history
        ),
        (ParamsError, EstimatorParamError, FileNotFoundError),
    )


if __name__ == "__main__":
    sys.exit(main())
