"""Fitting one model of params.yaml on its training features: ``model.pkl`` and the loss per
epoch (stage ``train@<model>``)."""

from __future__ import annotations

import contextlib
import logging
import pickle
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from mnist_pipeline.labels import check_classes, task_labels
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays, write_text
from mnist_pipeline.plumbing.live import StepLog, history_text, write_empty_summary
from mnist_pipeline.plumbing.params import Dataset, Model
from mnist_pipeline.plumbing.registry import (
    EstimatorParamError,
    EstimatorSpec,
    build_estimator,
    estimator_spec,
)
from mnist_pipeline.plumbing.threads import blas_threads

log = logging.getLogger("train")


def training_history(estimator: Any) -> str:
    """history.csv of a fitted estimator: the loss per epoch for estimators that record it (the
    MLP, the gradient-descent model, the network) and the val accuracy of each epoch where it
    was measured (``val_accuracy_``); the header only for the others. Epochs count from the
    estimator's ``loss_curve_start`` (default 1: the MLP's first loss is after its first epoch;
    0 for the gradient-descent model, whose first loss is before any update) and losses are
    rounded to its ``loss_curve_digits`` decimals (default 6)."""
    losses = getattr(estimator, "loss_curve_", [])
    start = getattr(estimator, "loss_curve_start", 1)
    val = list(getattr(estimator, "val_accuracy_", [])) or [None] * len(losses)
    rows = list(zip(range(start, start + len(losses)), losses, val, strict=True))
    return history_text(rows, getattr(estimator, "loss_curve_digits", 6))


def check_training_data(
    spec: EstimatorSpec,
    estimator: Any,
    params: Mapping[str, Any],
    labels: np.ndarray,
    *,
    key_prefix: str,
    source: str,
) -> None:
    """Refuse, before fitting, what the training data makes impossible: labels of fewer than
    two classes, or a parameter that ``spec``'s own check refuses for this many rows (knn: more
    neighbours than rows). ``source`` names the data's file."""
    classes = np.unique(labels)
    if len(classes) < 2:
        found = ", ".join(map(str, classes)) or "none"
        raise EstimatorParamError(
            f"{source}: expected training labels of at least 2 classes "
            f"for {key_prefix}, got only class {found}"
        )
    if spec.check_training_data is not None:
        spec.check_training_data(estimator, params, len(labels), key_prefix, source)


def step_arguments(
    model: Model, estimator: Any, features: Path, live_dir: Path, history_csv: Path
) -> dict[str, Any]:
    """``fit``'s keyword arguments for an estimator that learns in steps: the validation split
    of ``features`` (None where it has no rows) and the ``StepLog`` of its live metrics."""
    val = load_arrays(features / "val.npz", ("X", "y"))
    validation = (val["X"], task_labels(val["y"], model.target)) if len(val["y"]) else None
    start = getattr(estimator, "loss_curve_start", 1)
    steps = getattr(estimator, "epochs", None) or estimator.max_iter
    unit = "epoch" if start == 1 else "iteration"
    log = StepLog(
        model.name,
        live_dir,
        history_csv,
        steps + 1 - start,
        first=start,
        unit=unit,
        loss_digits=getattr(estimator, "loss_curve_digits", 6),
    )
    return {"validation": validation, "log": log}


def train(
    model: Model, features: Path, out: Path, history_csv: Path, live_dir: Path, dataset: Dataset
) -> None:
    """Fit ``model`` on ``features/train.npz``, whose labels must run over ``dataset.classes``
    (``check_classes``); write ``out/model.pkl``, ``history_csv`` and
    the live metrics in ``live_dir`` (``mnist_pipeline.plumbing.live``; for an estimator that
    learns in steps, while it trains, with ``features/val.npz`` as its validation split).
    Warnings during the fit (a fixed epoch budget that stops before convergence) are logged
    as one line each."""
    spec = estimator_spec(model.estimator, key_prefix=model.key)
    estimator = build_estimator(spec, model.params, key_prefix=model.key)
    data = load_arrays(features / "train.npz", ("X", "y"))
    check_classes({str(features / "train.npz"): data["y"]}, dataset.classes, dataset.key)
    labels = task_labels(data["y"], model.target)
    check_training_data(
        spec,
        estimator,
        model.params,
        labels,
        key_prefix=model.key,
        source=str(features / "train.npz"),
    )
    log.info(
        "%s: fitting %s on %d x %s %s features",
        model.name,
        type(estimator).__name__,
        data["X"].shape[0],
        " x ".join(map(str, data["X"].shape[1:])),
        model.features,
    )
    in_steps = spec.learns_in_steps
    fit_arguments = (
        step_arguments(model, estimator, features, live_dir, history_csv) if in_steps else {}
    )
    started = time.perf_counter()
    with (
        warnings.catch_warnings(record=True) as caught,
        blas_threads(spec.blas_threads),
        contextlib.ExitStack() as closing,
    ):
        warnings.simplefilter("always", ConvergenceWarning)
        if in_steps:
            closing.enter_context(fit_arguments["log"])
        estimator.fit(data["X"], labels, **fit_arguments)
    fit_seconds = time.perf_counter() - started
    for warning in caught:
        log.warning(
            "%s: %s: %s",
            model.name,
            warning.category.__name__,
            str(warning.message).splitlines()[0],
        )
    with atomic_dir(out) as tmp, (tmp / "model.pkl").open("wb") as fh:
        pickle.dump(estimator, fh, protocol=pickle.HIGHEST_PROTOCOL)
    write_text(history_csv, training_history(estimator))
    if not in_steps:
        write_empty_summary(live_dir)
    log.info("%s: fitted in %.1f s", model.name, fit_seconds)
