"""Stage `train@<model>`: fit one model of params.yaml on its feature stage's training split and
write it as one scikit-learn Pipeline from uint8 images to classes (the feature stage's fitted
chain, then the estimator): model.skops, with its model card (card.json, card.md)."""

import argparse
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import mnist_pipeline  # noqa: F401  first: it pins NumPy's CPU kernels (see its docstring)

# isort: split
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mnist_pipeline.estimators import EstimatorParamError as ParamError
from mnist_pipeline.estimators import EstimatorSpec, check_values, estimator_spec, fit_error
from mnist_pipeline.features import CHAIN_FILE
from mnist_pipeline.labels import ClassesError, check_classes, task_labels
from mnist_pipeline.params import ParamsError, load_params
from mnist_pipeline.plumbing import model_files as mf
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays, write_json, write_text

log = logging.getLogger("train")


def build_estimator(spec: EstimatorSpec, params: dict[str, Any], key_prefix: str) -> Any:
    """An unfitted estimator of ``spec`` with ``params`` (aliases resolved, YAML lists as
    tuples); an unknown key or a value the spec's check refuses names ``<key_prefix>.<key>``."""
    cls, aliases = spec.estimator_class, spec.aliases
    if both := [alias for alias, own in aliases.items() if alias in params and own in params]:
        raise ParamError(f"{key_prefix}.{both[0]}: expected one of {both[0]} and "
                         f"{aliases[both[0]]} (the same parameter), got both")  # fmt: skip
    own = {aliases.get(k, k): tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    accepted = cls().get_params()
    if unknown := sorted(spec.params_key(k, params) for k in own if k not in accepted):
        raise ParamError(
            f"{key_prefix}.{unknown[0]}: not a parameter of {cls.__name__} (estimator "
            f"'{spec.name}'); expected one of: {', '.join(sorted({*accepted, *aliases}))}"
        )
    estimator = cls(**own)
    check_values(estimator, key_prefix)
    if spec.check_params is not None:
        spec.check_params(estimator, key_prefix)
    return estimator


def history_text(rows: list[tuple[int, float, float | None]], digits: int = 6) -> str:
    """history.csv: ``epoch,loss`` (and ``val_acc`` where any step has one), losses rounded to
    ``digits``; the header alone for a model that does not learn in steps."""
    with_val = any(val is not None for _, _, val in rows)
    lines = [
        f"{step},{round(float(loss), digits)!r}"
        + (f",{round(float(val), 6)!r}" if with_val else "")
        for step, loss, val in rows
    ]
    return "\n".join(["epoch,loss,val_acc" if with_val else "epoch,loss", *lines]) + "\n"


def step_log(name: str, estimator: Any, live_dir: Path) -> tuple[Any, Any]:
    """``fit``'s ``log(step, loss=, val_acc=)``: dvclive's summary (for `dvc exp show` during
    `dvc exp run`) after each step, a log line after about every tenth; and the ``Live`` to end."""
    from dvclive import Live

    logging.getLogger("dvclive").setLevel(logging.WARNING)
    options = {"report": None, "save_dvc_exp": False, "dvcyaml": None, "monitor_system": False}
    live = Live(str(live_dir), resume=False, **options)
    digits = getattr(estimator, "loss_curve_digits", 6)
    steps = getattr(estimator, "epochs", None) or estimator.max_iter

    def log_step(step: int, loss: float, val_acc: float | None = None, **_: Any) -> None:
        live.step = step
        live.log_metric("loss", round(float(loss), digits), plot=False)
        if val_acc is not None:
            live.log_metric("val_acc", round(float(val_acc), 6), plot=False)
        live.sync()  # the summary; next_step would also fsync a VS Code signal file each step
        if step % max(1, steps // 10) == 0:
            val = "" if val_acc is None else f", val acc {val_acc:.4f}"
            log.info("%s: step %d of %d: loss %.4f%s", name, step, steps, loss, val)

    return log_step, live


def train(
    params_path: Path, name: str, features: Path, out: Path, history: Path, live: Path
) -> None:
    """Fit the model ``name`` on ``features``/train.npz; write ``out`` (model.skops, card),
    ``history`` and, for a model that learns in steps, dvclive's summary in ``live``."""
    params = load_params(params_path)
    model, dataset = params.model(name), params.dataset
    spec = estimator_spec(model.estimator, key_prefix=model.key)
    estimator = build_estimator(spec, model.params, model.key)
    data = load_arrays(train_npz := features / "train.npz", ("X", "y"))
    check_classes({str(train_npz): data["y"]}, dataset.classes, dataset.key)
    labels = task_labels(data["y"], model.target)
    if len(found := np.unique(labels)) < 2:
        raise ParamError(
            f"{train_npz}: expected training labels of at least 2 classes "
            f"for {model.key}, got only class {', '.join(map(str, found)) or 'none'}"
        )
    if spec.check_training_data is not None:
        spec.check_training_data(estimator, model.params, len(labels), model.key, str(train_npz))
    chain = mf.load_model(features / CHAIN_FILE)
    read = [features / CHAIN_FILE, train_npz]
    log.info("%s: fitting %s on %s rows", name, type(estimator).__name__, data["X"].shape)
    fit_args, ending = {}, None
    if spec.learns_in_steps:
        read.append(features / "val.npz")
        val = load_arrays(features / "val.npz", ("X", "y"))
        fit_args["validation"] = (
            (val["X"], task_labels(val["y"], model.target)) if len(val["y"]) else None
        )
        fit_args["log"], ending = step_log(name, estimator, live)
    threads = threadpool_limits(limits=spec.blas_threads, user_api="blas")
    with warnings.catch_warnings(record=True) as caught, threads:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            estimator.fit(data["X"], labels, **fit_args)
        except (ValueError, TypeError) as err:
            if (named := fit_error(err, spec, model.params, model.key)) is None:
                raise
            raise named from None
    for warning in caught:  # a fixed epoch budget that stops before convergence
        log.warning("%s: %s: %s", name, warning.category.__name__, str(warning.message)[:200])
    if ending is not None:
        ending.end()
    start, losses = getattr(estimator, "loss_curve_start", 1), getattr(estimator, "loss_curve_", [])
    vals = list(getattr(estimator, "val_accuracy_", [])) or [None] * len(losses)
    rows = list(zip(range(start, start + len(losses)), losses, vals, strict=True))
    write_text(history, history_text(rows, getattr(estimator, "loss_curve_digits", 6)))
    pipeline = Pipeline([*chain.steps, ("model", estimator)])
    model_bytes = mf.skops_bytes(pipeline)
    card = mf.model_card(model, dataset, pipeline, model_bytes, read)
    with atomic_dir(out) as tmp:
        (tmp / mf.MODEL_FILE).write_bytes(model_bytes)
        write_json(tmp / mf.CARD_JSON, card)
        write_text(tmp / mf.CARD_MD, mf.card_markdown(card))
    log.info("%s: %s (%.1f MB)", name, out / mf.MODEL_FILE, len(model_bytes) / 1e6)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 1 with one line for an expected error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    parser.add_argument("--model", required=True, help="the model's name under `models`")
    parser.add_argument("--features", type=Path, required=True, help="the feature stage folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for model.skops, card")
    parser.add_argument("--history", type=Path, required=True, help="loss per step (CSV)")
    parser.add_argument("--live", type=Path, required=True, help="dvclive's folder (steps)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        train(args.params, args.model, args.features, args.out, args.history, args.live)
    except (ParamsError, ParamError, ClassesError, mf.ModelFileError, OSError) as err:
        print(f"train: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
