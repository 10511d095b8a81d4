"""Fixtures shared by the tests: the repository's paths, small IDX data sets, params files."""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import contextlib
import copy
import functools
import hashlib
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import repo_copy
import yaml
from idx_files import MNIST_FILE_NAMES, write_idx_dataset
from repo_copy import tool_env

from mnist_pipeline.data import read_idx
from mnist_pipeline.params import CATALOGUE
from mnist_pipeline.plumbing.files import save_arrays

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MNIST = REPO / "data" / "mnist"
FILE_NAMES = MNIST_FILE_NAMES


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_script(
    script: str,
    *args: str | Path,
    cwd: Path = REPO,
    timeout: float | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``src/<script>.py`` as DVC would: a fresh interpreter, output captured; killed
    after ``timeout`` seconds (``TimeoutExpired``), ``preexec_fn`` run in the child first."""
    return subprocess.run(
        [sys.executable, str(REPO / "src" / f"{script}.py"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )


def tree_state(*roots: Path) -> dict[str, object]:
    """Every file (its bytes), folder and symlink (its target) under ``roots``, by path,
    symlinks not followed: equal before and after a run that changed nothing there."""
    state: dict[str, object] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(folder) / name
                if path.is_symlink():
                    state[str(path)] = f"-> {os.readlink(path)}"
                elif path.is_dir():
                    state[str(path)] = "folder"
                else:
                    state[str(path)] = path.read_bytes()
    return state


@functools.cache
def stage_main(script: str) -> Callable[[list[str]], int]:
    """The ``main(argv)`` of ``src/<script>.py``, loaded once into this process (the scripts
    are not a package)."""
    path = REPO / "src" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(f"script_{script}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def run_main(script: str, *args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Call ``src/<script>.py``'s ``main`` in this process, in ``cwd``, with ``args`` as its
    command line; what `run_script` would give without starting Python: the exit code
    (``--help`` exits 0), stdout, and stderr with the log lines the script writes there.

    One test per script runs it through `run_script` instead, as DVC does."""
    stdout, stderr = io.StringIO(), io.StringIO()
    log = logging.StreamHandler(stderr)
    log.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(log)
    root.setLevel(logging.INFO)
    try:
        with (
            contextlib.chdir(cwd),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            try:
                returncode = stage_main(script)([str(a) for a in args])
            except SystemExit as exit_:
                returncode = 0 if exit_.code is None else exit_.code
    finally:
        root.removeHandler(log)
        root.setLevel(level)
    return subprocess.CompletedProcess(
        [script, *map(str, args)], returncode, stdout.getvalue(), stderr.getvalue()
    )


def deep_update(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_params_files(folder: Path) -> dict:
    """``folder``'s params.yaml with its catalogue, datasets.yaml, as one mapping: the
    catalogue's ``datasets`` beside params.yaml's keys."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    return {**params, **yaml.safe_load((folder / CATALOGUE).read_text())}


def write_params_files(folder: Path, params: dict, name: str = "params.yaml") -> Path:
    """Write ``params`` (as `read_params_files` gives them) into ``folder``: ``datasets`` to
    datasets.yaml, the rest to ``name``; the path of ``name``."""
    knobs = {key: value for key, value in params.items() if key != "datasets"}
    (folder / name).write_text(yaml.safe_dump(knobs, sort_keys=False))
    catalogue = {"datasets": params["datasets"]}
    (folder / CATALOGUE).write_text(yaml.safe_dump(catalogue, sort_keys=False))
    return folder / name


@pytest.fixture(scope="session")
def repo_params() -> dict:
    return read_params_files(REPO)


@pytest.fixture
def write_params(tmp_path: Path, repo_params: dict) -> Callable[..., Path]:
    """Write a params.yaml and its datasets.yaml: the repository's, with ``overrides`` (of
    either) merged in."""

    def write(overrides: dict | None = None, name: str = "params.yaml") -> Path:
        return write_params_files(tmp_path, deep_update(repo_params, overrides or {}), name)

    return write


@pytest.fixture(scope="session")
def mnist_slice() -> dict[str, np.ndarray]:
    """The first 1,200 training and 300 test images of the shipped, real MNIST."""
    arrays = {role: read_idx(SHIPPED_MNIST / name) for role, name in FILE_NAMES.items()}
    return {role: a[:1200] if role.startswith("train") else a[:300] for role, a in arrays.items()}


def write_decoded_slice(root: Path, mnist_slice: dict[str, np.ndarray]) -> None:
    """Write the slice as the decode stage would: ``root/stages/decode/{train,test}.npz``."""
    decoded = root / "stages/decode"
    decoded.mkdir(parents=True)
    for split in ("train", "test"):
        save_arrays(
            decoded / f"{split}.npz",
            {"images": mnist_slice[f"{split}_images"], "labels": mnist_slice[f"{split}_labels"]},
        )


def params_copy(run: Path, dest: Path) -> Path:
    """``run``'s params.yaml and its catalogue copied into the folder ``dest``: a stage run
    again in the shared, read-only ``run`` with it may write into ``dest`` (a stage writes only
    inside the repository of its params file, here ``dest``)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / CATALOGUE, dest / CATALOGUE)
    return Path(shutil.copy(run / "params.yaml", dest / "params.yaml"))


def run_stages(root: Path, params: Path, steps: list[tuple[str | Path, ...]]) -> None:
    """Run each ``(script, *args)`` with ``--params params`` in ``root``, in this process
    (`run_main`) with BLAS on one thread (on two shared cores and a slice of MNIST, threads
    cost more than they save); fail with the script's stderr at the first that does not
    exit 0."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        for script, *args in steps:
            result = run_main(str(script), "--params", params, *args, cwd=root)
            assert result.returncode == 0, f"{script}: {result.stderr}"


SLICE_PARAMS = {
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
"""The params of `slice_run`, merged into the repository's: knn on 20 PCA components and the
cross-validated detector of 5s, no other model."""


def train_step(model: str, features: str) -> tuple[str, ...]:
    """dvc.yaml's train@<model> command line after ``--params``, paths relative to the repo."""
    return (
        "train",
        "--model",
        model,
        "--features",
        f"stages/{features}",
        "--out",
        f"stages/train/{model}",
        "--history",
        f"metrics/{model}/history.csv",
        "--live",
        f"metrics/{model}/live",
    )


def evaluate_step(model: str, features: str) -> tuple[str, ...]:
    """dvc.yaml's evaluate@<model> command line after ``--params``."""
    return (
        "evaluate",
        "--model",
        model,
        "--model-dir",
        f"stages/train/{model}",
        "--features",
        f"stages/{features}",
        "--metrics-dir",
        f"metrics/{model}",
        "--out",
        f"stages/evaluate/{model}",
    )


SLICE_STEPS = {
    "normalize": (
        "normalize",
        "--in",
        "stages/decode",
        "--out",
        "stages/normalize",
        "--labels",
        "metrics/label_distribution.csv",
    ),
    "pca": (
        "pca",
        "--in",
        "stages/normalize",
        "--out",
        "stages/pca",
        "--variance",
        "metrics/pca/variance.csv",
    ),
    "train@knn": train_step("knn", "pca"),
    "evaluate@knn": evaluate_step("knn", "pca"),
    "train@sgd_5": train_step("sgd_5", "normalize"),
    "evaluate@sgd_5": evaluate_step("sgd_5", "normalize"),
}
"""`slice_run`'s stages in order, each as ``(script, *arguments after --params)``, the
command lines of dvc.yaml with paths relative to the run's folder."""


def redirected(step: tuple[str, ...], **paths: str | Path) -> list[str | Path]:
    """``step`` with the value after each option named in ``paths`` replaced (``metrics_dir``
    for ``--metrics-dir``): the same command, writing elsewhere."""
    args: list[str | Path] = list(step)
    for name, path in paths.items():
        args[args.index("--" + name.replace("_", "-")) + 1] = path
    return args


@pytest.fixture(scope="session")
def slice_run(tmp_path_factory, mnist_slice, repo_params) -> Path:
    """A folder in which normalize, pca, then train and evaluate of knn and sgd_5 ran once on
    the MNIST slice (`SLICE_STEPS`, in this process), with its ``params.yaml``: the tests of
    those stages inspect what it leaves, and call the scripts again in it. Read only."""
    root = tmp_path_factory.mktemp("slice_run")
    params = root / "params.yaml"
    merged = deep_update(repo_params, SLICE_PARAMS)
    merged["models"] = SLICE_PARAMS["models"]
    merged["datasets"]["mnist"]["references"].update(test={}, cv={})
    write_params_files(root, merged)
    write_decoded_slice(root, mnist_slice)
    run_stages(root, params, list(SLICE_STEPS.values()))
    return root


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG file."""
    assert data[:8] == PNG_SIGNATURE
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def assert_png_stable(draw: Callable[[], Figure]) -> None:
    """``draw()``'s PNG is the same bytes on a second call and under other rcParams, and has
    no metadata chunk (a date or version would change the bytes)."""
    import matplotlib

    from mnist_pipeline.plumbing.drawing import png_bytes

    first = png_bytes(draw(), 100)
    assert png_bytes(draw(), 100) == first
    with matplotlib.rc_context(
        {
            "font.size": 20,
            "lines.linewidth": 6,
            "axes.grid": True,
            "image.cmap": "jet",
            "savefig.dpi": 300,
        }
    ):
        assert png_bytes(draw(), 100) == first
    kinds = {kind for kind, _ in png_chunks(first)}
    assert not kinds & {b"tEXt", b"iTXt", b"zTXt", b"tIME"}, "metadata would change the bytes"


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels."""
    kind, header = png_chunks(data)[0]
    assert kind == b"IHDR"
    return struct.unpack(">II", header[:8])


def write_dataset(folder: Path, arrays: dict[str, np.ndarray]) -> dict:
    """Write the four arrays as gzipped IDX files; return the params ``dataset.files`` entry."""
    return write_idx_dataset(folder, arrays)


TOOL_TIMEOUT = 900.0


def run_tool(
    *args: str | Path,
    cwd: Path,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = TOOL_TIMEOUT,
) -> subprocess.CompletedProcess:
    """Run dvc or git in ``cwd``, with ``env`` added to `tool_env()`, killed after
    ``timeout`` seconds; on an unexpected failure show what it printed."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**tool_env(), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def copy_repo(dest: Path) -> Path:
    """Copy the working tree's project files (tracked or not, but not git-ignored) into
    ``dest`` and make it a git repository with one commit, as a user's fresh clone."""
    return repo_copy.copy_repo(REPO, dest)


# ---------------------------------------------------------------------------------------------
# Temporary copies of the project on a small slice of the real MNIST, driven through the real
# `dvc` and `git` (tests/test_dvc_workflows.py, tests/test_team_remote.py).

TRAIN_IMAGES = 3000
TEST_IMAGES = 500
VALIDATION = 500
SMALL_MNIST = "data/mnist-small"
SMALL_CNN = {"epochs": 1, "channels": [4, 8], "hidden": 16}
"""The cnn of the small copies: one epoch of a narrow network, seconds instead of a minute."""
UP_TO_DATE = "Data and pipelines are up to date."


@contextlib.contextmanager
def isolated_dvc_environment(site_cache: Path) -> Iterator[None]:
    """While open, dvc's per-repository index and state databases of the many temporary
    copies go to ``site_cache``, not /var/tmp/dvc, and each stage uses one BLAS thread: on
    two cores and this small data, threads cost more than they save."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DVC_SITE_CACHE_DIR", str(site_cache))
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            patch.setenv(name, "1")
        yield


def dvc(
    repo: Path,
    *args: str | Path,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = TOOL_TIMEOUT,
) -> subprocess.CompletedProcess:
    return run_tool("dvc", *args, cwd=repo, check=check, env=env, timeout=timeout)


def git(
    repo: Path,
    *args: str | Path,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = TOOL_TIMEOUT,
) -> subprocess.CompletedProcess:
    return run_tool("git", *args, cwd=repo, check=check, env=env, timeout=timeout)


def shown(*results: subprocess.CompletedProcess) -> str:
    """What the commands printed, for an assertion message."""
    return "\n".join(
        f"\n$ {' '.join(map(str, r.args))}  (exit {r.returncode})\n"
        f"--- stdout ---\n{r.stdout}--- stderr ---\n{r.stderr}"
        for r in results
    )


def ran(result: subprocess.CompletedProcess) -> set[str]:
    """The stages whose command dvc ran."""
    return set(re.findall(r"^Running stage '([^']+)':", result.stdout, re.MULTILINE))


def params_of(repo: Path) -> dict:
    return yaml.safe_load((repo / "params.yaml").read_text())


def file_tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def copy_of(repo: Path, dest: Path) -> Path:
    """An independent copy of a working repository: tree, git history and DVC cache."""
    shutil.copytree(repo, dest, symlinks=True)
    return dest


def experiments(repo: Path) -> dict[str, dict]:
    """`dvc exp show --json` as {experiment name: {"state", "error", "params", "metrics"}}."""
    result = dvc(repo, "exp", "show", "--json")
    found = {}
    for commit in json.loads(result.stdout):
        for exp in commit.get("experiments") or []:
            rev = exp["revs"][0]
            data = rev.get("data") or {}
            found[exp["name"]] = {
                "state": (exp.get("executor") or {}).get("state"),
                "error": rev.get("error"),
                "params": (data.get("params") or {}).get("params.yaml", {}).get("data", {}),
                "metrics": {
                    path: entry.get("data", {})
                    for path, entry in (data.get("metrics") or {}).items()
                },
            }
    return found


def make_small_repo(dest: Path) -> Path:
    """A copy of the project whose mirror is a committed slice of the real MNIST, with
    every model kept (the cnn made small: `SMALL_CNN`), and without the copied full-MNIST
    metrics and dvc.lock."""
    repo = copy_repo(dest)
    arrays = {role: read_idx(SHIPPED_MNIST / name) for role, name in FILE_NAMES.items()}
    arrays = {
        role: a[:TRAIN_IMAGES] if role.startswith("train") else a[:TEST_IMAGES]
        for role, a in arrays.items()
    }
    params = read_params_files(repo)
    params["datasets"]["mnist"]["mirrors"] = [SMALL_MNIST]
    params["datasets"]["mnist"]["files"] = write_dataset(repo / SMALL_MNIST, arrays)
    params["split"]["validation"] = VALIDATION
    params["models"]["cnn"].update(SMALL_CNN)
    write_params_files(repo, params)
    shutil.rmtree(repo / "metrics", ignore_errors=True)
    (repo / "dvc.lock").unlink(missing_ok=True)
    git(repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "data/mnist")
    shutil.rmtree(repo / "data" / "mnist", ignore_errors=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"small MNIST slice in {SMALL_MNIST}, no results yet")
    return repo


def commit_results(repo: Path, message: str) -> None:
    """Commit everything: dvc's autostage adds dvc.lock, not the `cache: false` files."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


# Small git repositories holding metrics/<model>/scores and predictions, as evaluate writes them


CLASSIFIER_TEST = {"acc": 0.9708, "acc_lo": 0.9673, "acc_hi": 0.9739, "f1": 0.9706}
DETECTOR_TEST = {
    "acc": 0.9658,
    "acc_lo": 0.9621,
    "acc_hi": 0.9692,
    "f1": 0.8217,
    "p": 0.768,
    "r": 0.8834,
    "ap": 0.9097,
}


def init_git_repo(path: Path) -> Path:
    """An empty git repository with branch main."""
    path.mkdir(parents=True, exist_ok=True)
    run_tool("git", "init", "-q", "-b", "main", cwd=path)
    return path


def write_model_files(
    repo: Path,
    name: str,
    *,
    test: dict | None = None,
    val: dict | None = None,
    predictions: list[tuple[str, str]] | None = None,
) -> None:
    """Write metrics/<name>/scores/{test,val}.json and predictions/test.csv (those given)."""
    folder = repo / "metrics" / name
    if test is not None:
        (folder / "scores").mkdir(parents=True, exist_ok=True)
        (folder / "scores" / "test.json").write_text(json.dumps(test, indent=2) + "\n")
    if val is not None:
        (folder / "scores").mkdir(parents=True, exist_ok=True)
        (folder / "scores" / "val.json").write_text(json.dumps(val, indent=2) + "\n")
    if predictions is not None:
        (folder / "predictions").mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{actual},{predicted}\n" for actual, predicted in predictions)
        (folder / "predictions" / "test.csv").write_text("actual,predicted\n" + rows)


def write_models_params(
    repo: Path, models: dict[str, dict], notebooks: dict[str, float] | None = None
) -> None:
    """A params.yaml holding only ``models`` (and ``notebooks``)."""
    params: dict = {"models": models}
    if notebooks:
        params["notebooks"] = notebooks
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def commit_all(repo: Path, message: str) -> str:
    """Commit everything in ``repo``; the new commit's hash."""
    run_tool("git", "add", "-A", cwd=repo)
    run_tool("git", "commit", "-q", "-m", message, cwd=repo)
    return run_tool("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


def add_experiment_ref(repo: Path, baseline: str, name: str, commit: str) -> None:
    """Point refs/exps/<2>/<38>/<name> at ``commit``, as `dvc exp run` does."""
    ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"
    run_tool("git", "update-ref", ref, commit, cwd=repo)


def wait_for_temp_file(folder: Path, seconds: float = 20.0) -> Path:
    """The first temporary file to appear anywhere under ``folder`` (polled, bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [p for p in folder.rglob(".*.tmp") if p.is_file()]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no temporary file appeared under {folder} in {seconds} s")


@pytest.fixture(scope="session")
def slice_packages(slice_run) -> Path:
    """`slice_run` itself: train writes each model's file, stages/train/{knn,sgd_5}/model.skops
    with card.json and card.md, beside its params.yaml and metrics/. Read only."""
    return slice_run


# ---------------------------------------------------------------------------------------------
# The default pipeline on the full MNIST, run once for the session (tests/test_full_pipeline.py,
# tests/test_serve.py)


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory) -> Path:
    """A fresh clone of HEAD without its committed metrics/ and plots/, after a cold `dvc repro`
    on the full MNIST (about 270 s on two cores), the CNN on the CPU (a GPU's sums give other
    bits). A clone: commit a change first to test it."""
    repo = tmp_path_factory.mktemp("fresh-clone") / "repo"
    run_tool("git", "clone", "-q", "--no-hardlinks", REPO, repo, cwd=REPO)
    run_tool("git", "checkout", "-q", "-B", "main", cwd=repo)
    for committed_output in ("metrics", "plots"):
        shutil.rmtree(repo / committed_output, ignore_errors=True)
    run_tool("dvc", "repro", cwd=repo, env={"CUDA_VISIBLE_DEVICES": ""}, timeout=3600)
    return repo
