"""Speed, memory and accuracy of the pipeline on the shipped full MNIST, measured in a copy.

Each repeat copies the working tree's project files (tracked or not, but not git-ignored) to
a fresh temporary git repository, so the working tree's stages/ and DVC cache are never
touched, and there:

1. runs a cold ``dvc repro`` (no stages/, no DVC cache, no run cache): total wall time, and
   the wall time, CPU time and peak resident memory of every stage's process;
2. times a no-op ``dvc repro`` against ``dvc status`` on the reproduced repository;
3. times ``dvc exp run -S pca.n=40`` as a share of the cold run;
4. times, each in a fresh interpreter on the data the run just made, the nearest-neighbour
   notebook's unchunked float64 similarity matrix against the ``cosine_1nn`` estimator and
   the bare float32 blocked matrix product it needs (and scikit-learn's own brute-force 1-NN),
   and the MLP article's per-sample training loop (a fixed number of samples, extrapolated to
   its 5 epochs of 50,000 images) against the pipeline's mini-batch MLP.

After the repeats, ``dvc exp run -S normalize.deskew=true`` in the last copy compares every
model's accuracy with and without deskewing, as does ``-S normalize.deskew=true -S
normalize.method=l2`` (deskewed rows scaled to unit length, the features ``svm`` reads by
default); ``-S models.svm.features=pca`` gives ``svm`` on the notebooks' plain PCA features.
Medians over the repeats go to a JSON file and a Markdown report; nothing is written into the
working tree but ``--out``.

How a stage is measured: dvc runs each stage's ``python src/<stage>.py ...`` through the
shell, so ``python`` is resolved on PATH. The benchmark puts a directory first on PATH whose
``python`` is a tiny stdlib-only wrapper (started with ``-I -S``, about 15 ms): it forks, execs
the real interpreter with the same arguments, and ``os.wait4`` returns that process's own
resource usage (peak RSS = ``ru_maxrss``, CPU = ``ru_utime + ru_stime``), exact per stage and
with no polling, psutil or /usr/bin/time. The wrapper's own start-up is included in the cold
run's total, which therefore slightly over- rather than under-states it.

Usage: ``.venv/bin/python benchmarks/run.py --repeat 3 --out benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mnist_pipeline.files import write_text

REPO = Path(__file__).resolve().parents[1]
SCHEMA = 1

# Targets on the reference machine (2 cores, 24 GiB): see the issue "speed, memory and
# accuracy beyond the notebooks".
TARGETS = {
    "cold_repro_seconds": 60.0,
    "max_stage_peak_rss_mb": 2048.0,
    "noop_repro_over_status": 1.5,
    "exp_pca40_share_of_cold": 0.35,
    "nearest_stage_over_bare_matmul": 1.3,
}
NOTEBOOK_ACCURACY = {"nearest": 0.9708, "nearest_pca": 0.9703}
MLP_ARTICLE = {
    "accuracy": 0.972,
    "tolerance": 0.005,
    "epochs": 5,
    "hidden": 200,
    "learning_rate": 0.1,
}
GD_NOTEBOOK_LOSS_195 = 0.06895031073787411
"""The IDX notebook's printed loss after 195 gradient-descent updates (models.gd_4)."""
NOOP_PAIRS = 5

WRAPPER = """#!{python} -IS
# Written by benchmarks/run.py: run the real interpreter, log its wall time and resource use.
import json, os, sys, time
REAL = {real!r}
started, t0 = time.time(), time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(REAL, [REAL] + sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
record = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "started": started, "wall": wall,
          "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss, "exit": code}}
log = os.environ.get("BENCH_STAGE_LOG")
if log:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (json.dumps(record) + "\\n").encode())
    os.close(fd)
sys.exit(code if code >= 0 else 128 - code)
"""


# ---------------------------------------------------------------------------------------------
# The repository copy and the tools


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tool_env(extra_path: list[Path], stage_log: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*map(str, extra_path), env.get("PATH", "")])
    env["DVC_NO_ANALYTICS"] = "1"
    for key, value in (
        ("GIT_AUTHOR_NAME", "benchmark"),
        ("GIT_COMMITTER_NAME", "benchmark"),
        ("GIT_AUTHOR_EMAIL", "benchmark@example.invalid"),
        ("GIT_COMMITTER_EMAIL", "benchmark@example.invalid"),
    ):
        env.setdefault(key, value)
    if stage_log is not None:
        env["BENCH_STAGE_LOG"] = str(stage_log)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run a command to completion; return (wall seconds, stdout). Fails loudly."""
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {result.returncode} in {cwd}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return wall, result.stdout


def copy_repo(dest: Path) -> Path:
    """The working tree's project files in a new git repository with one commit (as
    tests/conftest.py::copy_repo), without metrics/ and plots/: a cold start in which every
    stage runs, the picture stages too (in a fresh clone they find the committed PNGs up to
    date and skip)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file() and not name.startswith(("metrics/", "plots/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    env = tool_env([])
    for args in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "benchmark copy of the working tree"],
    ):
        run(args, dest, env)
    return dest


def write_wrapper(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "python"
    wrapper.write_text(WRAPPER.format(python=sys.executable, real=sys.executable))
    wrapper.chmod(0o755)
    return folder


def stage_name(argv: list[str]) -> str:
    """dvc's name for the stage that ran this command: ``src/evaluate.py --model knn ...`` ->
    ``evaluate@knn``; ``src/pca.py --section pca_deskewed ...`` -> ``pca_deskewed`` (the
    params section a reused script follows is named after its stage)."""
    script = Path(argv[0]).stem if argv else "?"
    if "--model" in argv[:-1]:
        return f"{script}@{argv[argv.index('--model') + 1]}"
    if "--section" in argv[:-1]:
        return argv[argv.index("--section") + 1]
    return script


def read_stage_log(path: Path) -> dict[str, dict]:
    stages: dict[str, dict] = {}
    if not path.is_file():
        return stages
    for line in path.read_text().splitlines():
        record = json.loads(line)
        stages[stage_name(record["argv"])] = {
            "wall": round(record["wall"], 3),
            "cpu": round(record["cpu"], 3),
            "peak_rss_mb": round(record["maxrss_kb"] / 1024, 1),
            "exit": record["exit"],
        }
    return stages


def read_metrics(repo: Path) -> dict[str, dict[str, float]]:
    """Validation and test accuracy of every model under metrics/."""
    out = {}
    for path in sorted((repo / "metrics").glob("*/scores/test.json")):
        val = path.with_name("val.json")
        if val.is_file():  # older checkouts wrote metrics/<model>/metrics.json instead
            out[path.parent.parent.name] = {
                "val": json.loads(val.read_text())["acc"],
                "test": json.loads(path.read_text())["acc"],
            }
    for path in sorted((repo / "metrics").glob("*/metrics.json")):
        data = json.loads(path.read_text())
        if "test" in data and "val" in data:
            out[path.parent.name] = {
                "val": data["val"]["accuracy"],
                "test": data["test"]["accuracy"],
            }
    return out


def metrics_fingerprint(repo: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((repo / "metrics").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(repo)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------------
# Measurements in a fresh interpreter: `run.py --child NAME --data COPY` prints one JSON line


def child_data(copy: Path, features: str, splits: tuple[str, ...]) -> dict:
    import numpy as np

    return {s: np.load(copy / "stages" / features / f"{s}.npz") for s in splits}


def child_bare_matmul(copy: Path, block_rows: int) -> dict:
    """The float32 products the 1-NN stage needs (val and test rows against the 50,000 unit
    training rows), in the estimator's blocks and buffer, without normalising or argmax."""
    import numpy as np

    def unit_rows(x):  # as the registry's, inlined so that older checkouts can be measured
        return np.ascontiguousarray(
            x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))
        )

    data = child_data(copy, "normalize", ("train", "val", "test"))
    train = unit_rows(data["train"]["X"])
    queries = [unit_rows(data[s]["X"]) for s in ("val", "test")]
    buffer = np.empty((block_rows, len(train)), dtype=np.float32)
    started = time.perf_counter()
    for rows in queries:
        for start in range(0, len(rows), block_rows):
            block = rows[start : start + block_rows]
            np.matmul(block, train.T, out=buffer[: len(block)])
    return {
        "seconds": time.perf_counter() - started,
        "rows": sum(map(len, queries)),
        "train_rows": len(train),
        "block_rows": block_rows,
    }


def child_one_nn(copy: Path, method: str, features: str, splits: str) -> dict:
    """1-NN by cosine similarity on ``features``: fit + predict time and test accuracy."""
    import numpy as np

    data = child_data(copy, features, ("train", "val", "test"))
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
    return {
        "seconds": seconds,
        "splits": wanted,
        "accuracy": {s: round(float(np.mean(predictions[s] == data[s]["y"])), 6) for s in wanted},
    }


def child_mlp_per_sample(copy: Path, samples: int, flavour: str) -> dict:
    """The MLP article's training: one weight update per image. Times ``samples`` updates and
    extrapolates to the article's 5 epochs of 50,000 images (labelled as extrapolated)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the per-sample products are tiny, a second thread only slows them.
    threadpool_limits(limits=1, user_api="blas")
    data = child_data(copy, "normalize", ("train",))
    x = data["train"]["X"][:samples]
    y = data["train"]["y"][:samples]
    total = MLP_ARTICLE["epochs"] * len(data["train"]["y"])
    if flavour == "numpy":
        # As the article: 784-200-10, sigmoid, no biases, targets 0.01/0.99, inputs offset to
        # 0.01-1.0, squared error, learning rate 0.1, plain gradient step after every image.
        rng = np.random.default_rng(0)
        w_ih = rng.normal(0.0, 784**-0.5, (MLP_ARTICLE["hidden"], 784))
        w_ho = rng.normal(0.0, MLP_ARTICLE["hidden"] ** -0.5, (10, MLP_ARTICLE["hidden"]))
        inputs = x.astype(np.float64) * 0.99 + 0.01
        lr = MLP_ARTICLE["learning_rate"]

        def sigmoid(z):
            return 1.0 / (1.0 + np.exp(-z))

        started = time.perf_counter()
        for row, label in zip(inputs, y, strict=True):
            i = row.reshape(-1, 1)
            target = np.full((10, 1), 0.01)
            target[label] = 0.99
            hidden = sigmoid(w_ih @ i)
            out = sigmoid(w_ho @ hidden)
            out_err = target - out
            hidden_err = w_ho.T @ out_err
            w_ho += lr * (out_err * out * (1.0 - out)) @ hidden.T
            w_ih += lr * (hidden_err * hidden * (1.0 - hidden)) @ i.T
        seconds = time.perf_counter() - started
    else:
        import warnings

        from sklearn.neural_network import MLPClassifier

        model = MLPClassifier(
            hidden_layer_sizes=(MLP_ARTICLE["hidden"],),
            activation="logistic",
            solver="sgd",
            learning_rate_init=MLP_ARTICLE["learning_rate"],
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
    return {
        "seconds": seconds,
        "samples": samples,
        "per_sample_seconds": seconds / samples,
        "extrapolated_seconds": seconds / samples * total,
        "extrapolated_to_samples": total,
    }


def child_mlp_minibatch(copy: Path) -> dict:
    """The pipeline's MLP (params.yaml models.mlp) fitted as train@mlp fits it."""
    import warnings

    import numpy as np

    from mnist_pipeline.params import load_params
    from mnist_pipeline.registry import build_estimator
    from mnist_pipeline.threads import blas_threads

    model = load_params(copy / "params.yaml").model("mlp")
    data = child_data(copy, "normalize", ("train", "test"))
    estimator = build_estimator(model.estimator, model.params, key_prefix=model.key)
    started = time.perf_counter()
    with warnings.catch_warnings(), blas_threads(model.estimator):
        warnings.simplefilter("ignore")
        estimator.fit(data["train"]["X"], data["train"]["y"])
    seconds = time.perf_counter() - started
    accuracy = float(np.mean(estimator.predict(data["test"]["X"]) == data["test"]["y"]))
    return {"seconds": seconds, "test_accuracy": round(accuracy, 6)}


def child_gradient_descent(copy: Path, flavour: str, iterations: int = 0) -> dict:
    """The IDX notebook's gradient descent on all 60,000 raw training images, "is it a 4".
    ``ours``: params.yaml models.gd_4 fitted as train@gd_4 fits it (X cast to float64 once).
    ``recast``: the same loop, but the bias column stacked and the uint8 pixels cast to float64
    again in every iteration; ``iterations`` of them timed, extrapolated to models.gd_4's."""
    import numpy as np

    from mnist_pipeline.labels import task_labels
    from mnist_pipeline.params import load_params
    from mnist_pipeline.registry import build_estimator
    from mnist_pipeline.threads import blas_threads

    model = load_params(copy / "params.yaml").model("gd_4")
    data = child_data(copy, model.features, ("train",))["train"]
    y = task_labels(data["y"], model.target)
    if flavour == "ours":
        estimator = build_estimator(model.estimator, model.params, key_prefix=model.key)
        started = time.perf_counter()
        with blas_threads(model.estimator):
            estimator.fit(data["X"], y)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "loss_195": estimator.loss_curve_[195]}
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
    return {
        "seconds": seconds,
        "samples": iterations,
        "extrapolated_to_samples": total,
        "extrapolated_seconds": seconds / iterations * total,
    }


CHILDREN: dict[str, Callable[..., dict]] = {
    "bare_matmul": child_bare_matmul,
    "one_nn": child_one_nn,
    "mlp_per_sample": child_mlp_per_sample,
    "mlp_minibatch": child_mlp_minibatch,
    "gradient_descent": child_gradient_descent,
}


def measure_process(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """Run a command; return its wall time, peak RSS (``os.wait4``, that process's own) and
    stdout. Fails loudly."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr)
        # Read stdout to the end, then reap the process ourselves to get its own rusage.
        stdout = process.stdout.read()
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(
                f"{' '.join(command)} exited {process.returncode}:\n"
                f"{stderr.read().decode()[-4000:]}"
            )
    return {
        "wall": round(wall, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stdout": stdout.decode(),
        "load": load(),
    }


def measure_child(python: Path, copy: Path, name: str, *args: str) -> dict:
    """Run one measurement in a fresh interpreter; add its peak RSS."""
    command = [
        str(python),
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--data",
        str(copy),
        *args,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy / "src"), env.get("PYTHONPATH", "")])
    measured = measure_process(command, copy, env)
    result = json.loads(measured.pop("stdout").strip().splitlines()[-1])
    result["process_wall"] = measured["wall"]
    result["peak_rss_mb"] = measured["peak_rss_mb"]
    result["load"] = measured["load"]
    return result


def nearest_stage_vs_bare(
    python: Path, copy: Path, scratch: Path, block_rows: int, pairs: int
) -> list[dict]:
    """``evaluate@nearest``'s own command (outputs to a scratch folder) and the bare product,
    alternately, so that each ratio compares two runs minutes apart at most."""
    command = [
        str(python),
        "src/evaluate.py",
        "--params",
        "params.yaml",
        "--model",
        "nearest",
        "--model-dir",
        "stages/train/nearest",
        "--features",
        "stages/normalize",
        "--metrics-dir",
        str(scratch / "metrics"),
        "--out",
        str(scratch / "out"),
    ]
    out = []
    for _ in range(pairs):
        stage = measure_process(command, copy, dict(os.environ))
        bare = measure_child(python, copy, "bare_matmul", str(block_rows))
        out.append(
            {
                "stage_wall": stage["wall"],
                "stage_peak_rss_mb": stage["peak_rss_mb"],
                "bare_seconds": round(bare["seconds"], 3),
                "ratio": round(stage["wall"] / bare["seconds"], 3),
            }
        )
    return out


def python_startup(python: Path) -> dict[str, float]:
    """Seconds to start the interpreter and import what stages import (best of 3)."""
    out = {}
    for module in ("", "numpy", "pandas", "sklearn", "sklearn.svm", "scipy.ndimage"):
        code = f"import {module}" if module else "pass"
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([str(python), "-c", code], check=True)
            best = min(best, time.perf_counter() - started)
        out[module or "python -c pass"] = round(best, 3)
    return out


# ---------------------------------------------------------------------------------------------
# One repeat


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    try:
        yield root
    finally:
        if keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def dvc_command(python: Path) -> str:
    return str(python.parent / "dvc")


def timed_dvc(copy: Path, env: dict[str, str], stage_log: Path, *args: str) -> dict:
    stage_log.unlink(missing_ok=True)
    load_before = load()
    wall, stdout = run([dvc_command(Path(sys.executable)), *args], copy, env)
    stages = read_stage_log(stage_log)
    ran = re.findall(r"Running stage '([^']+)'", stdout)
    process_total = sum(s["wall"] for s in stages.values())
    return {
        "wall": round(wall, 3),
        "stages": stages,
        "ran": ran,
        "stage_process_total": round(process_total, 3),
        "dvc_overhead": round(wall - process_total, 3),
        "load_before": load_before,
        "load_after": load(),
    }


def one_repeat(index: int, root: Path, args: argparse.Namespace) -> dict:
    python = Path(sys.executable)
    copy = copy_repo(root / "repo")
    wrapper_dir = write_wrapper(root / "wrapper")
    stage_log = root / "stages.jsonl"
    env = tool_env([wrapper_dir, python.parent], stage_log)
    result: dict = {"repeat": index}

    log(f"repeat {index}: cold dvc repro {args.core_target or ''} in {copy}")
    core = timed_dvc(copy, env, stage_log, "repro", *filter(None, [args.core_target]))
    rest = timed_dvc(copy, env, stage_log, "repro") if args.core_target else None
    cold = {
        "wall": round(core["wall"] + (rest["wall"] if rest else 0.0), 3),
        "core": core,
        "rest": rest,
        "stages": {**core["stages"], **(rest["stages"] if rest else {})},
    }
    cold["stage_process_total"] = round(sum(v["wall"] for v in cold["stages"].values()), 3)
    cold["dvc_overhead"] = round(cold["wall"] - cold["stage_process_total"], 3)
    failed = {k: v for k, v in cold["stages"].items() if v["exit"] != 0}
    if failed:
        raise RuntimeError(f"stages failed: {failed}")
    cold["metrics"] = read_metrics(copy)
    cold["metrics_sha256"] = metrics_fingerprint(copy)
    history = copy / "metrics/gd_4/history.csv"
    if history.is_file():
        cold["gd_4_loss_195"] = float(history.read_text().splitlines()[1 + 195].split(",")[1])
    result["cold"] = cold
    log(
        f"repeat {index}: cold {core['wall']:.1f} s"
        + (f" + {rest['wall']:.1f} s for the other stages" if rest else "")
    )
    # The reproduced state becomes the copy's HEAD: the baseline of the experiments, and what
    # the deskew experiment returns to.
    run(["git", "add", "-A"], copy, env)
    run(["git", "commit", "-q", "-m", "cold dvc repro"], copy, env)

    noop, status = [], []
    for _ in range(NOOP_PAIRS):
        wall, stdout = run([dvc_command(python), "repro"], copy, env)
        if "Running stage" in stdout:
            raise RuntimeError(f"a second dvc repro ran stages:\n{stdout}")
        noop.append(round(wall, 3))
        status.append(round(run([dvc_command(python), "status"], copy, env)[0], 3))
    result["noop_repro"] = noop
    result["status"] = status
    log(
        f"repeat {index}: no-op repro {statistics.median(noop):.2f} s, "
        f"status {statistics.median(status):.2f} s"
    )

    log(f"repeat {index}: evaluate@nearest against the bare matrix product")
    result["nearest_vs_bare"] = nearest_stage_vs_bare(
        python, copy, root / "scratch", args.block_rows, args.pairs
    )

    children: dict[str, dict] = {}
    if not args.skip_notebooks:
        log(f"repeat {index}: notebook methods vs ours")
        children["cosine_1nn_val_test"] = measure_child(
            python, copy, "one_nn", "cosine_1nn", "normalize", "val,test"
        )
        children["cosine_1nn_test"] = measure_child(
            python, copy, "one_nn", "cosine_1nn", "normalize", "test"
        )
        children["notebook_float64_test"] = measure_child(
            python, copy, "one_nn", "notebook_float64", "normalize", "test"
        )
        if not args.skip_sklearn_knn:
            children["cosine_1nn_pca_val_test"] = measure_child(
                python, copy, "one_nn", "cosine_1nn", "pca", "val,test"
            )
            for method in ("sklearn_cosine", "sklearn_euclidean_unit"):
                for features in ("normalize", "pca"):
                    children[f"{method}_{features}_val_test"] = measure_child(
                        python, copy, "one_nn", method, features, "val,test"
                    )
        for flavour in ("numpy", "sklearn"):
            children[f"mlp_per_sample_{flavour}"] = measure_child(
                python, copy, "mlp_per_sample", str(args.mlp_samples), flavour
            )
        children["mlp_minibatch"] = measure_child(python, copy, "mlp_minibatch")
        if (copy / "stages/raw/train.npz").is_file():  # checkouts from before gd_4 have none
            children["gd_4_fit"] = measure_child(python, copy, "gradient_descent", "ours")
            children["gd_4_recast_per_iteration"] = measure_child(
                python, copy, "gradient_descent", "recast", str(args.gd_iterations)
            )
    result["children"] = children

    log(f"repeat {index}: dvc exp run -S pca.n=40")
    result["exp_pca40"] = timed_dvc(copy, env, stage_log, "exp", "run", "-S", "pca.n=40")
    result["copy"] = str(copy)
    return result


EXPERIMENTS = {
    "deskew": ("normalize.deskew=true",),
    "deskew_l2": ("normalize.deskew=true", "normalize.method=l2"),
    "svm_plain": ("models.svm.features=pca",),
}


def feature_experiments(copy: Path, root: Path) -> dict:
    """Each of ``EXPERIMENTS`` as ``dvc exp run -S ...`` from the cold run's state (the copy's
    HEAD, restored before each): every model's accuracy, beside the default run's."""
    python = Path(sys.executable)
    out: dict = {}
    for name, settings in EXPERIMENTS.items():
        stage_log = root / f"{name}.jsonl"
        env = tool_env([root / "wrapper", python.parent], stage_log)
        run(["git", "reset", "-q", "--hard", "HEAD"], copy, env)
        run([dvc_command(python), "checkout", "--force"], copy, env)
        out.setdefault("default", read_metrics(copy))
        log(f"dvc exp run -S {' -S '.join(settings)}")
        measured = timed_dvc(
            copy,
            env,
            stage_log,
            "exp",
            "run",
            *[arg for setting in settings for arg in ("-S", setting)],
        )
        measured["settings"] = list(settings)
        measured["metrics"] = read_metrics(copy)
        out[name] = measured
    return out


# ---------------------------------------------------------------------------------------------
# Summary


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def machine() -> dict:
    import importlib.metadata as md

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    versions = {}
    for package in ("numpy", "scipy", "scikit-learn", "pandas", "dvc"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[package] = md.version(package)
    blas = ""
    with contextlib.suppress(Exception):
        import numpy  # noqa: F401  (loads the BLAS that threadpoolctl reports)
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            blas = (
                f"{info[0].get('internal_api')} {info[0].get('version')} "
                f"({info[0].get('num_threads')} threads, {info[0].get('architecture')})"
            )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "ram_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "blas": blas,
    }


def stage_table(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Median wall, CPU and peak RSS of each stage over the repeats, in the order they ran."""
    names = list(dict.fromkeys(name for stages in runs for name in stages))
    table = {}
    for name in names:
        seen = [stages[name] for stages in runs if name in stages]
        table[name] = {
            key: median([x[key] for x in seen]) for key in ("wall", "cpu", "peak_rss_mb")
        }
    return table


def without_models(cold: dict, models: list[str]) -> float:
    """Estimate of the model pipeline's cold wall time without ``models``: less their train
    and evaluate stages' wall time and those stages' mean share of dvc's own overhead."""
    core = cold["core"]
    names = [f"{step}@{m}" for m in models for step in ("train", "evaluate")]
    present = [n for n in names if n in core["stages"]]
    per_stage = core["dvc_overhead"] / max(len(core["stages"]), 1)
    return core["wall"] - sum(core["stages"][n]["wall"] for n in present) - per_stage * len(present)


def summarise(
    repeats: list[dict], deskew: dict | None, startup: dict, separate: list[str] = ()
) -> dict:
    colds = [r["cold"] for r in repeats]
    per_stage = stage_table([c["stages"] for c in colds])
    core_stages = list(stage_table([c["core"]["stages"] for c in colds]))
    summary: dict = {
        "cold_repro_seconds": median([c["wall"] for c in colds]),
        "cold_repro_seconds_all": [c["wall"] for c in colds],
        "cold_model_pipeline_seconds": median([c["core"]["wall"] for c in colds]),
        "cold_model_pipeline_seconds_all": [c["core"]["wall"] for c in colds],
        "model_pipeline_stages": core_stages,
        "separate_models": list(separate),
        "cold_model_pipeline_without_separate_seconds": median(
            [without_models(c, list(separate)) for c in colds]
        ),
        "cold_other_stages_seconds": (
            median([c["rest"]["wall"] for c in colds]) if colds[0]["rest"] else 0.0
        ),
        "cold_stage_process_seconds": median([c["stage_process_total"] for c in colds]),
        "cold_dvc_overhead_seconds": median([c["dvc_overhead"] for c in colds]),
        "stages": per_stage,
        "max_stage_peak_rss_mb": max(s["peak_rss_mb"] for s in per_stage.values()),
        "max_stage_peak_rss_stage": max(per_stage, key=lambda s: per_stage[s]["peak_rss_mb"]),
        "noop_repro_seconds": median([x for r in repeats for x in r["noop_repro"]]),
        "status_seconds": median([x for r in repeats for x in r["status"]]),
        "exp_pca40_seconds": median([r["exp_pca40"]["wall"] for r in repeats]),
        "exp_pca40_stages": repeats[0]["exp_pca40"]["ran"],
        "exp_pca40_stage_table": stage_table([r["exp_pca40"]["stages"] for r in repeats]),
        "metrics": colds[0]["metrics"],
        "metrics_identical_across_repeats": len({c["metrics_sha256"] for c in colds}) == 1,
        "python_startup_and_imports_seconds": startup,
    }
    summary["noop_repro_over_status"] = round(
        summary["noop_repro_seconds"] / summary["status_seconds"], 3
    )
    summary["exp_pca40_share_of_cold"] = round(
        statistics.median([r["exp_pca40"]["wall"] / r["cold"]["wall"] for r in repeats]), 3
    )
    pairs = [p for r in repeats for p in r["nearest_vs_bare"]]
    summary["nearest_stage_seconds"] = median([p["stage_wall"] for p in pairs])
    summary["nearest_stage_peak_rss_mb"] = median([p["stage_peak_rss_mb"] for p in pairs])
    summary["bare_matmul_seconds"] = median([p["bare_seconds"] for p in pairs])
    summary["nearest_stage_over_bare_matmul"] = median([p["ratio"] for p in pairs])

    children = [r["children"] for r in repeats if r["children"]]
    if children:

        def med(name: str, key: str = "seconds") -> float:
            return median([c[name][key] for c in children if name in c])

        comparison = {
            name: {"seconds": med(name), "peak_rss_mb": med(name, "peak_rss_mb")}
            for name in children[0]
        }
        for name, value in comparison.items():
            first = children[0][name]
            for key in ("accuracy", "test_accuracy"):
                if key in first:
                    value[key] = first[key]
            if "extrapolated_seconds" in first:
                value["extrapolated_seconds"] = med(name, "extrapolated_seconds")
                value["samples_timed"] = first["samples"]
                value["extrapolated_to_samples"] = first["extrapolated_to_samples"]
        summary["comparisons"] = comparison
        ours = comparison["cosine_1nn_test"]
        ratios = {
            "notebook float64 1-NN / cosine_1nn, time (test split)": comparison[
                "notebook_float64_test"
            ]["seconds"]
            / ours["seconds"],
            "notebook float64 1-NN / cosine_1nn, peak RSS (test split)": comparison[
                "notebook_float64_test"
            ]["peak_rss_mb"]
            / ours["peak_rss_mb"],
            "cosine_1nn fit+predict / bare product (val+test, in process)": comparison[
                "cosine_1nn_val_test"
            ]["seconds"]
            / summary["bare_matmul_seconds"],
            "article's per-sample MLP, NumPy, extrapolated / mini-batch MLP": comparison[
                "mlp_per_sample_numpy"
            ]["extrapolated_seconds"]
            / comparison["mlp_minibatch"]["seconds"],
            "per-sample MLP, scikit-learn batch_size=1, extrapolated / mini-batch MLP": comparison[
                "mlp_per_sample_sklearn"
            ]["extrapolated_seconds"]
            / comparison["mlp_minibatch"]["seconds"],
        }
        for features, ours_name in (
            ("normalize", "cosine_1nn_val_test"),
            ("pca", "cosine_1nn_pca_val_test"),
        ):
            for method in ("sklearn_cosine", "sklearn_euclidean_unit"):
                name = f"{method}_{features}_val_test"
                if name in comparison and ours_name in comparison:
                    ratios[f"{name} / cosine_1nn ({features}, val+test)"] = (
                        comparison[name]["seconds"] / comparison[ours_name]["seconds"]
                    )
        if "gd_4_fit" in comparison:
            ratios["gradient descent re-casting X every iteration, extrapolated / gd_4 fit"] = (
                comparison["gd_4_recast_per_iteration"]["extrapolated_seconds"]
                / comparison["gd_4_fit"]["seconds"]
            )
        summary["ratios"] = {k: round(v, 2) for k, v in ratios.items()}

    targets = {}
    for key, limit in TARGETS.items():
        targets[key] = {"value": summary[key], "target": limit, "met": bool(summary[key] <= limit)}
    budget = TARGETS["cold_repro_seconds"]
    extra = ["cold_model_pipeline_seconds"] if colds[0]["rest"] else []
    if separate:
        extra.append("cold_model_pipeline_without_separate_seconds")
    for key in extra:
        targets[key] = {
            "value": summary[key],
            "target": budget,
            "met": bool(summary[key] <= budget),
        }
    metrics = summary["metrics"]
    checks = {
        f"{name} test accuracy == {value}": metrics.get(name, {}).get("test") == value
        for name, value in NOTEBOOK_ACCURACY.items()
    }
    if "mlp" in metrics:
        checks[f"mlp within {MLP_ARTICLE['tolerance']} of {MLP_ARTICLE['accuracy']}"] = (
            abs(metrics["mlp"]["test"] - MLP_ARTICLE["accuracy"]) <= MLP_ARTICLE["tolerance"]
        )
    gd_loss = colds[0].get("gd_4_loss_195")
    if gd_loss is not None:
        checks[f"gd_4 loss at iteration 195 within 1e-12 of {GD_NOTEBOOK_LOSS_195!r}"] = (
            abs(gd_loss - GD_NOTEBOOK_LOSS_195) <= 1e-12
        )
    checks["metrics byte-identical across repeats"] = summary["metrics_identical_across_repeats"]
    summary["targets"] = targets
    summary["checks"] = checks

    if deskew is not None:
        summary["deskew"] = {
            "experiments": {
                name: {
                    "settings": deskew[name]["settings"],
                    "exp_seconds": deskew[name]["wall"],
                    "normalize_stage_seconds": deskew[name]["stages"]
                    .get("normalize", {})
                    .get("wall"),
                }
                for name in EXPERIMENTS
            },
            "models": {
                model: {
                    "default": deskew["default"][model],
                    **{name: deskew[name]["metrics"].get(model) for name in EXPERIMENTS},
                }
                for model in deskew["default"]
            },
        }
    return summary


def markdown(results: dict) -> str:
    m, s = results["machine"], results["summary"]
    lines = [
        f"Measured by `benchmarks/run.py --repeat {results['repeat']}` on {m['cpu']}, "
        f"{m['cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + (f"; BLAS {m['blas']}" if m["blas"] else "")
        + ". Medians of the repeats; load "
        f"average (1, 5, 15 min) before: {', '.join(map(str, results['load_before']))}, after: "
        f"{', '.join(map(str, results['load_after']))}.",
        "",
        "| target | median | limit | met |",
        "|---|---:|---:|---|",
    ]
    n_core = len(s["model_pipeline_stages"])
    names = {
        "cold_repro_seconds": f"cold `dvc repro`, all {len(s['stages'])} stages of dvc.yaml, s",
        "cold_model_pipeline_seconds": (
            f"cold `dvc repro evaluate` (download -> evaluate@*, {n_core} stages), s"
        ),
        "cold_model_pipeline_without_separate_seconds": (
            "the same without "
            + ", ".join(f"`{m}`" for m in s["separate_models"])
            + " (estimate: less its stages and their share of dvc's overhead), s"
        ),
        "max_stage_peak_rss_mb": f"peak RSS of any stage, MB ({s['max_stage_peak_rss_stage']})",
        "noop_repro_over_status": (
            f"no-op `dvc repro` / `dvc status` "
            f"({s['noop_repro_seconds']:.2f} s / "
            f"{s['status_seconds']:.2f} s)"
        ),
        "exp_pca40_share_of_cold": (
            f"`dvc exp run -S pca.n=40` / cold `dvc repro` "
            f"({s['exp_pca40_seconds']:.1f} s / "
            f"{s['cold_repro_seconds']:.1f} s)"
        ),
        "nearest_stage_over_bare_matmul": (
            f"`evaluate@nearest` / bare float32 blocked product, paired runs "
            f"({s['nearest_stage_seconds']:.2f} s / {s['bare_matmul_seconds']:.2f} s)"
        ),
    }
    order = [
        "cold_model_pipeline_seconds",
        "cold_model_pipeline_without_separate_seconds",
        "cold_repro_seconds",
        "max_stage_peak_rss_mb",
        "noop_repro_over_status",
        "exp_pca40_share_of_cold",
        "nearest_stage_over_bare_matmul",
    ]
    for key in order:
        if key in s["targets"]:
            target = s["targets"][key]
            lines.append(
                f"| {names[key]} | {target['value']:g} | {target['target']:g} | "
                f"{'yes' if target['met'] else '**no**'} |"
            )
    for check, ok in s["checks"].items():
        lines.append(f"| {check} | | | {'yes' if ok else '**no**'} |")
    lines += [
        "",
        f"Cold run: {s['cold_stage_process_seconds']:.1f} s in the stages' processes, "
        f"{s['cold_dvc_overhead_seconds']:.1f} s in dvc itself (start-up, hashing, "
        "caching, dvc.lock, git).",
        "",
        "| stage | wall s | CPU s | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    for stage, v in s["stages"].items():
        lines.append(f"| `{stage}` | {v['wall']:.2f} | {v['cpu']:.2f} | {v['peak_rss_mb']:.0f} |")
    lines += [
        "",
        f"`dvc exp run -S pca.n=40` reran {len(s['exp_pca40_stages'])} stages: "
        + ", ".join(f"`{x}`" for x in s["exp_pca40_stages"])
        + ".",
    ]
    if "comparisons" in s:
        c = s["comparisons"]
        lines += [
            "",
            "| method (same data, fresh interpreter) | s | peak RSS MB | note |",
            "|---|---:|---:|---|",
        ]
        for name, v in c.items():
            note = ""
            if "accuracy" in v:
                note = ", ".join(f"{k} {a:.4f}" for k, a in v["accuracy"].items())
            if "extrapolated_seconds" in v:
                note = (
                    f"{v['samples_timed']:,} updates timed, **extrapolated** to "
                    f"{v['extrapolated_to_samples']:,}"
                    + (" (5 epochs)" if name.startswith("mlp") else "")
                    + f": {v['extrapolated_seconds']:.0f} s"
                )
            if "test_accuracy" in v:
                note = f"test {v['test_accuracy']:.4f}"
            lines.append(f"| `{name}` | {v['seconds']:.2f} | {v['peak_rss_mb']:.0f} | {note} |")
        lines += ["", "| ratio | value |", "|---|---:|"]
        lines += [f"| {k} | {v:g}x |" for k, v in s["ratios"].items()]
    if "deskew" in s:
        d = s["deskew"]
        lines.append("")
        for name, e in d["experiments"].items():
            normalize = e["normalize_stage_seconds"]
            lines.append(
                f"`dvc exp run -S {' -S '.join(e['settings'])}` ({name}): "
                f"{e['exp_seconds']:.1f} s"
                + ("." if normalize is None else f", normalize stage {normalize:.2f} s.")
            )
        names = list(d["experiments"])
        lines += [
            "",
            "| model | val | test | "
            + " | ".join(f"val, {n} | test, {n} | test change, pp" for n in names)
            + " |",
            "|---|---:|---:|" + "---:|---:|---:|" * len(names),
        ]
        nan = float("nan")
        for model, v in d["models"].items():
            a = v["default"]
            cells = [f"`{model}`", f"{a['val']:.4f}", f"{a['test']:.4f}"]
            for n in names:
                b = v.get(n) or {}
                cells += [
                    f"{b.get('val', nan):.4f}",
                    f"{b.get('test', nan):.4f}",
                    f"{100 * (b.get('test', nan) - a['test']):+.2f}",
                ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Start-up of a fresh interpreter and imports (best of 3, s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in s["python_startup_and_imports_seconds"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=textwrap.dedent(__doc__.split("\n\n")[0]),
        epilog="Each repeat takes about four minutes on two cores, the two feature experiments "
        "about three more. Run it on an otherwise idle machine: the load average is recorded.",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="repeats; medians are reported (default 3)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results.json",
        help="JSON results file (default benchmarks/results.json)",
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the Markdown report here (it is always printed)"
    )
    parser.add_argument(
        "--core-target",
        default="evaluate",
        help="the cold run first reproduces this target (default: evaluate, "
        "i.e. download -> evaluate@*, the models' pipeline), then the rest of "
        "dvc.yaml, and reports both; '' for one `dvc repro`",
    )
    parser.add_argument(
        "--separate",
        action="append",
        default=[],
        help="model(s) whose train and evaluate stages are also taken out of "
        "the model pipeline's time, as an estimate (for a model kept outside "
        "the 60 s budget)",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=2,
        help="evaluate@nearest / bare product pairs per repeat (default 2)",
    )
    parser.add_argument(
        "--block-rows",
        type=int,
        default=512,
        help="rows per block of the bare matrix product (as cosine_1nn's default block_rows)",
    )
    parser.add_argument(
        "--mlp-samples",
        type=int,
        default=2000,
        help="images the per-sample MLP loops are timed on (default 2000)",
    )
    parser.add_argument(
        "--gd-iterations",
        type=int,
        default=20,
        help="iterations the re-casting gradient-descent loop is timed on (default 20)",
    )
    parser.add_argument(
        "--skip-notebooks", action="store_true", help="skip the notebook-method comparisons"
    )
    parser.add_argument(
        "--skip-sklearn-knn",
        action="store_true",
        help="skip scikit-learn's brute-force 1-NN timings",
    )
    parser.add_argument(
        "--skip-deskew",
        action="store_true",
        help="skip the feature experiments (`-S normalize.deskew=true`, "
        "with `-S normalize.method=l2`, and `-S models.svm.features=pca`)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        function = CHILDREN[args.child]
        converted = [int(a) if a.isdigit() else a for a in args.child_args]
        print(json.dumps(function(args.data, *converted)))
        return 0
    if args.repeat < 1:
        parser.error("--repeat: expected at least 1")

    results: dict = {
        "schema": SCHEMA,
        "repeat": args.repeat,
        "machine": machine(),
        "targets": TARGETS,
        "load_before": load(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    startup = python_startup(Path(sys.executable))
    repeats, deskew = [], None
    with workspace(args.keep) as root:
        for index in range(1, args.repeat + 1):
            repeat_root = root / f"repeat-{index}"
            repeat_root.mkdir()
            repeats.append(one_repeat(index, repeat_root, args))
            last = repeat_root
            if index < args.repeat and not args.keep:
                shutil.rmtree(repeat_root / "repo", ignore_errors=True)
        if not args.skip_deskew:
            deskew = feature_experiments(last / "repo", last)
    results["load_after"] = load()
    results["runs"] = repeats
    results["deskew_run"] = deskew
    results["summary"] = summarise(repeats, deskew, startup, args.separate)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(results, indent=2, sort_keys=False) + "\n")
    report = markdown(results)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        write_text(args.markdown, report)
    sys.stdout.write(report)
    failed = [k for k, v in results["summary"]["checks"].items() if not v]
    if failed:
        log(f"accuracy checks failed: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
