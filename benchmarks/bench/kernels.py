"""The micro-benchmarks, each timed in a fresh interpreter on the data of the benchmark's copy
of the project, and the fixed reference kernels that calibrate a run to its machine.

``python -m bench.kernels <kernel> --data <copy> [args...]`` (with benchmarks/ and the copy's
src/ on PYTHONPATH) prints one JSON line: a ``KernelRun``, or for ``calibrate`` a list of
``Calibration`` records. The heavy imports happen inside the kernels, so that importing this
module costs nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.records import Calibration, KernelRun

GEMM_SIZE = 4096
LOOP_ITERATIONS = 10_000_000
SVC_ROWS, SVC_FEATURES, SVC_CLASSES, SVC_NOISE = 10_000, 60, 10, 2.0


# ---------------------------------------------------------------------------------------------
# Reference kernels: the same work on every run and every day, nothing read from the project


def gemm(size: int = GEMM_SIZE) -> float:
    """Seconds of one float32 product of two fixed ``size`` x ``size`` matrices, with the BLAS
    threads the stages get by default."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    started = time.perf_counter()
    np.matmul(a, b)
    return time.perf_counter() - started


def python_loop(iterations: int = LOOP_ITERATIONS) -> float:
    """Seconds of a pure-Python loop of ``iterations`` integer multiply-modulo-adds."""
    started = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return time.perf_counter() - started


def svc_fit(rows: int = SVC_ROWS) -> float:
    """Seconds of one libsvm fit (scikit-learn's SVC, RBF kernel, C=10, as models.svm) on a
    fixed synthetic set: ``rows`` points of 60 features around 10 Gaussian class centres."""
    import numpy as np
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((SVC_CLASSES, SVC_FEATURES))
    y = np.arange(rows) % SVC_CLASSES
    x = centres[y] + SVC_NOISE * rng.standard_normal((rows, SVC_FEATURES))
    started = time.perf_counter()
    SVC(kernel="rbf", C=10).fit(x, y)
    return time.perf_counter() - started


REFERENCES: dict[str, tuple[Callable[..., float], str]] = {
    "gemm": (gemm, f"float32 matrix product, {GEMM_SIZE} x {GEMM_SIZE} by {GEMM_SIZE} square"),
    "python_loop": (python_loop, f"pure-Python loop, {LOOP_ITERATIONS:,} iterations"),
    "svc_fit": (
        svc_fit,
        f"SVC fit (RBF, C=10), {SVC_ROWS:,} fixed synthetic rows x {SVC_FEATURES} features",
    ),
}


WARM_UP_SIZES = {"gemm": 512, "python_loop": 100_000, "svc_fit": 1_000}
"""The size of each reference kernel's untimed first run: enough to import its modules and
start BLAS's threads, small enough that a round between two phases stays cheap (each timed
run allocates its own arrays, so a full-size first run would warm no memory for it)."""


def calibrate(rounds: int = 3) -> list[Calibration]:
    """Each reference kernel, ``rounds`` times, after one small untimed run
    (``WARM_UP_SIZES``)."""
    out = []
    for name, (kernel, description) in REFERENCES.items():
        kernel(WARM_UP_SIZES[name])
        out.append(Calibration(name, description, [round(kernel(), 4) for _ in range(rounds)]))
    return out


# ---------------------------------------------------------------------------------------------
# Micro-benchmarks on the copy's data (its stages/ after the cold run)


def _data(copy: Path, features: str, splits: tuple[str, ...]) -> dict:
    import numpy as np

    return {s: np.load(copy / "stages" / features / f"{s}.npz") for s in splits}


def bare_matmul(copy: Path, block_rows: int) -> KernelRun:
    """The float32 products the 1-NN stage needs (val and test rows against the 50,000 unit
    training rows), in the estimator's blocks and buffer, without normalising or argmax."""
    import numpy as np

    def unit_rows(x):  # as the registry's, inlined so that older checkouts can be measured
        return np.ascontiguousarray(
            x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))
        )

    data = _data(copy, "normalize", ("train", "val", "test"))
    train = unit_rows(data["train"]["X"])
    queries = [unit_rows(data[s]["X"]) for s in ("val", "test")]
    buffer = np.empty((block_rows, len(train)), dtype=np.float32)
    started = time.perf_counter()
    for rows in queries:
        for start in range(0, len(rows), block_rows):
            block = rows[start : start + block_rows]
            np.matmul(block, train.T, out=buffer[: len(block)])
    return KernelRun(seconds=time.perf_counter() - started)


def one_nn(copy: Path, method: str, features: str, splits: str) -> KernelRun:
    """1-NN by cosine similarity on ``features`` by ``method``: fit + predict seconds and the
    accuracy on each of the comma-separated ``splits``."""
    import numpy as np

    data = _data(copy, features, ("train", "val", "test"))
    x_train, y_train = data["train"]["X"], data["train"]["y"]
    wanted = splits.split(",")
    started = time.perf_counter()
    predictions = {}
    if method == "notebook_float64":
        # The notebook: unit rows in float64, the whole test x train similarity matrix at once.
        train = x_train.astype(np.float64)
        train /= np.linalg.norm(train, axis=1, keepdims=True)
        for split in wanted:
            x = data[split]["X"].astype(np.float64)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            similarity = x @ train.T
            predictions[split] = y_train[similarity.argmax(axis=1)]
            del similarity
    elif method == "cosine_1nn":
        from mnist_pipeline.estimators.cosine_1nn import CosineNearestNeighbor

        model = CosineNearestNeighbor().fit(x_train, y_train)
        predictions = {s: model.predict(data[s]["X"]) for s in wanted}
    elif method in ("sklearn_cosine", "sklearn_euclidean_unit"):
        from sklearn.neighbors import KNeighborsClassifier

        from mnist_pipeline.estimators.cosine_1nn import unit_rows

        if method == "sklearn_cosine":
            model = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
            model.fit(x_train, y_train)
            predictions = {s: model.predict(data[s]["X"]) for s in wanted}
        else:
            model = KNeighborsClassifier(n_neighbors=1, metric="euclidean", algorithm="brute")
            model.fit(unit_rows(x_train), y_train)
            predictions = {s: model.predict(unit_rows(data[s]["X"])) for s in wanted}
    else:
        raise ValueError(method)
    seconds = time.perf_counter() - started
    accuracy = {s: round(float(np.mean(predictions[s] == data[s]["y"])), 6) for s in wanted}
    return KernelRun(seconds=seconds, accuracy=accuracy)


def mlp_per_sample(copy: Path, samples: int, flavour: str) -> KernelRun:
    """The MLP article's training: one weight update per image, with params.yaml models.mlp's
    hidden units and learning rate. Times ``samples`` updates and extrapolates to models.mlp's
    epochs over every training image (marked as extrapolated)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from mnist_pipeline.plumbing.params import load_params

    mlp = load_params(copy / "params.yaml").model("mlp").params
    hidden, learning_rate, epochs = (
        mlp["hidden_layer_sizes"][0],
        mlp["learning_rate_init"],
        mlp["max_iter"],
    )
    # One BLAS thread: the per-sample products are tiny, a second thread only slows them.
    threadpool_limits(limits=1, user_api="blas")
    data = _data(copy, "normalize", ("train",))
    x = data["train"]["X"][:samples]
    y = data["train"]["y"][:samples]
    total = epochs * len(data["train"]["y"])
    if flavour == "numpy":
        # As the article: 784-hidden-10, sigmoid, no biases, targets 0.01/0.99, inputs offset to
        # 0.01-1.0, squared error, plain gradient step after every image.
        rng = np.random.default_rng(0)
        w_ih = rng.normal(0.0, 784**-0.5, (hidden, 784))
        w_ho = rng.normal(0.0, hidden**-0.5, (10, hidden))
        inputs = x.astype(np.float64) * 0.99 + 0.01

        def sigmoid(z):
            return 1.0 / (1.0 + np.exp(-z))

        started = time.perf_counter()
        for row, label in zip(inputs, y, strict=True):
            i = row.reshape(-1, 1)
            target = np.full((10, 1), 0.01)
            target[label] = 0.99
            hidden_out = sigmoid(w_ih @ i)
            out = sigmoid(w_ho @ hidden_out)
            out_err = target - out
            hidden_err = w_ho.T @ out_err
            w_ho += learning_rate * (out_err * out * (1.0 - out)) @ hidden_out.T
            w_ih += learning_rate * (hidden_err * hidden_out * (1.0 - hidden_out)) @ i.T
        seconds = time.perf_counter() - started
    else:
        import warnings

        from sklearn.neural_network import MLPClassifier

        model = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            activation="logistic",
            solver="sgd",
            learning_rate_init=learning_rate,
            batch_size=1,
            momentum=0.0,
            max_iter=1,
            shuffle=False,
            random_state=0,
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, y)
        seconds = time.perf_counter() - started
    return KernelRun(
        seconds=seconds,
        samples=samples,
        extrapolated_to=total,
        extrapolated_seconds=seconds / samples * total,
    )


def mlp_minibatch(copy: Path) -> KernelRun:
    """The pipeline's MLP (params.yaml models.mlp) fitted as train@mlp fits it."""
    import warnings

    import numpy as np

    from mnist_pipeline.plumbing.params import load_params
    from mnist_pipeline.plumbing.registry import build_estimator
    from mnist_pipeline.plumbing.threads import blas_threads

    model = load_params(copy / "params.yaml").model("mlp")
    data = _data(copy, "normalize", ("train", "test"))
    estimator = build_estimator(model.estimator, model.params, key_prefix=model.key)
    started = time.perf_counter()
    with warnings.catch_warnings(), blas_threads(model.estimator):
        warnings.simplefilter("ignore")
        estimator.fit(data["train"]["X"], data["train"]["y"])
    seconds = time.perf_counter() - started
    accuracy = float(np.mean(estimator.predict(data["test"]["X"]) == data["test"]["y"]))
    return KernelRun(seconds=seconds, accuracy={"test": round(accuracy, 6)})


def gradient_descent(copy: Path, flavour: str, iterations: int = 0) -> KernelRun:
    """The IDX notebook's gradient descent on all 60,000 raw training images, "is it a 4".
    ``ours``: params.yaml models.gd_4 fitted as train@gd_4 fits it (X cast to float64 once).
    ``recast``: the same loop, but the bias column stacked and the uint8 pixels cast to float64
    again in every iteration; ``iterations`` of them timed, extrapolated to models.gd_4's."""
    import numpy as np

    from mnist_pipeline.labels import task_labels
    from mnist_pipeline.plumbing.params import load_params
    from mnist_pipeline.plumbing.registry import build_estimator
    from mnist_pipeline.plumbing.threads import blas_threads

    model = load_params(copy / "params.yaml").model("gd_4")
    data = _data(copy, model.features, ("train",))["train"]
    y = task_labels(data["y"], model.target)
    if flavour == "ours":
        estimator = build_estimator(model.estimator, model.params, key_prefix=model.key)
        started = time.perf_counter()
        with blas_threads(model.estimator):
            estimator.fit(data["X"], y)
        seconds = time.perf_counter() - started
        return KernelRun(seconds=seconds, loss_195=float(estimator.loss_curve_[195]))
    x, target = data["X"], y.astype(np.float64)
    w = np.zeros(x.shape[1] + 1)
    total = model.params["max_iter"]
    with blas_threads(model.estimator):
        started = time.perf_counter()
        for _ in range(iterations):
            xb = np.hstack([np.ones((len(x), 1)), x]).astype(np.float64)
            h = 1 / (1 + np.exp(-(xb @ w)))
            w = w - model.params["learning_rate"] * (xb.T @ (h - target) / len(target))
        seconds = time.perf_counter() - started
    return KernelRun(
        seconds=seconds,
        samples=iterations,
        extrapolated_to=total,
        extrapolated_seconds=seconds / iterations * total,
    )


SVM_SIDES = ("today", "pipeline")
"""The two estimators ``svm_fit`` compares: today's SVC and the one the pipeline builds."""


def today_svc(params: dict) -> Any:
    """scikit-learn's ``SVC`` with the model's parameters that SVC takes: what train@svm fitted
    before the pipeline had its own SVM estimator (parameters of that estimator which SVC does
    not have, such as a thread count, are left out)."""
    from sklearn.svm import SVC

    accepted = SVC().get_params()
    return SVC(**{key: value for key, value in params.items() if key in accepted})


def svm_fit(copy: Path, side: str, model_name: str = "svm") -> KernelRun:
    """Fit model ``model_name`` of the copy's params.yaml on its features' train.npz and predict
    its test.npz, timing each, as ``side`` has it: ``today``, scikit-learn's SVC with the
    model's parameters (``today_svc``), fitted as it is and predicting in row slices as
    evaluate@svm did (``threads.predict_in_slices``, not ``predict_rows``, whose choice follows
    the registry); ``pipeline``, the estimator the registry builds, fitted and
    predicting as train@ and evaluate@ do (``blas_threads``, ``predict_rows``). Gives the fit
    seconds, the prediction seconds, the test accuracy and a digest of the predictions."""
    import contextlib
    import hashlib
    import warnings

    import numpy as np

    from mnist_pipeline.labels import task_labels
    from mnist_pipeline.plumbing.params import load_params

    model = load_params(copy / "params.yaml").model(model_name)
    if side == "today":
        from mnist_pipeline.plumbing.threads import predict_in_slices

        estimator, threads, predict = (
            today_svc(model.params),
            contextlib.nullcontext,
            predict_in_slices,
        )
    elif side == "pipeline":
        from mnist_pipeline.plumbing.registry import build_estimator
        from mnist_pipeline.plumbing.threads import blas_threads, predict_rows

        estimator = build_estimator(model.estimator, model.params, key_prefix=model.key)
        threads = functools.partial(blas_threads, model.estimator)
        predict = functools.partial(predict_rows, model.estimator)
    else:
        raise ValueError(f"svm_fit: side: expected one of {', '.join(SVM_SIDES)}, got {side!r}")
    data = _data(copy, model.features, ("train", "test"))
    y_train = task_labels(data["train"]["y"], model.target)
    y_test = task_labels(data["test"]["y"], model.target)
    with warnings.catch_warnings(), threads():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        estimator.fit(data["train"]["X"], y_train)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predictions = predict(estimator, data["test"]["X"])
        predict_seconds = time.perf_counter() - started
    predictions = np.asarray(predictions).astype(np.int64)
    return KernelRun(
        seconds=fit_seconds,
        predict_seconds=predict_seconds,
        accuracy={"test": round(float(np.mean(predictions == y_test)), 6)},
        predictions_sha256=hashlib.sha256(predictions.tobytes()).hexdigest(),
        estimator=f"{model.estimator}: {estimator!r}" if side == "pipeline" else repr(estimator),
    )


KERNELS: dict[str, Callable[..., KernelRun]] = {
    "bare_matmul": bare_matmul,
    "one_nn": one_nn,
    "mlp_per_sample": mlp_per_sample,
    "mlp_minibatch": mlp_minibatch,
    "gradient_descent": gradient_descent,
    "svm_fit": svm_fit,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.kernels",
        description="Run one benchmark kernel; print its result as one JSON line.",
    )
    parser.add_argument("kernel", choices=[*KERNELS, "calibrate"])
    parser.add_argument("--data", type=Path, help="the benchmark's copy of the project")
    parser.add_argument("args", nargs="*", help="the kernel's own arguments")
    args = parser.parse_intermixed_args(argv)
    if args.kernel == "calibrate":
        rounds = int(args.args[0]) if args.args else 3
        print(json.dumps([asdict(c) for c in calibrate(rounds)]))
        return 0
    if args.data is None:
        parser.error(f"{args.kernel}: --data is required")
    converted = [int(a) if a.isdigit() else a for a in args.args]
    print(json.dumps(asdict(KERNELS[args.kernel](args.data, *converted))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
