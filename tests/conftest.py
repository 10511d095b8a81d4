"""Fixtures shared by the tests: the repository's paths, small IDX data sets, params files."""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import contextlib
import copy
import functools
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
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import yaml
from idx_files import MNIST_FILE_NAMES as FILE_NAMES
from idx_files import write_idx_dataset as write_dataset

from mnist_pipeline.data import read_idx
from mnist_pipeline.params import CATALOGUE
from mnist_pipeline.plumbing.files import save_arrays

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MNIST = REPO / "data" / "mnist"


# `pytest` runs the tests on two pytest-xdist workers (pyproject's addopts). A group, a module or
# those in SHARED, is one unit of work, so that its module fixtures are built once. The longest go
# first, the full cold repro before all: the rest runs beside it. Without xdist, the same order.
SHARED = {"test_team_remote": "test_cluster"}  # loopback_cluster.REPRODUCED: one slice repro
LONGEST_FIRST = ["test_full_pipeline", "test_dvc_workflows", "test_cluster", "test_dataset_switch"]
LONGEST_FIRST += ["test_artifacts"]  # then the rest, in collection order


def group(nodeid: str) -> str:
    module = Path(nodeid.split("::")[0]).stem
    return SHARED.get(module, module)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's --dist loadscope, by `group` (its loadgroup rewrites node ids, which pytest 9.2's
    are not)."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group(nodeid)

    return GroupScheduling(config, log)


def bomb_png(side: int = 30_000) -> bytes:
    """A PNG of a few dozen bytes whose header claims ``side`` x ``side`` grey pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def run_script(
    script: str, *args: str | Path, cwd: Path = REPO, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run ``src/<script>.py`` as DVC would: a fresh interpreter, output captured."""
    return subprocess.run(
        [sys.executable, str(REPO / "src" / f"{script}.py"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@functools.cache
def stage_main(script: str) -> Callable[[list[str]], int]:
    """The ``main(argv)`` of ``src/<script>.py``, loaded once (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"script_{script}", REPO / "src" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def build_estimator(name: str, params: dict, key: str = "models.m") -> Any:
    """The unfitted estimator ``name`` with ``params``, as train@ builds it."""
    from mnist_pipeline.estimators import estimator_spec

    return stage_main("train").__globals__["build_estimator"](estimator_spec(name), params, key)


def run_main(script: str, *args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """`run_script` in this interpreter: ``main`` called in ``cwd``, its log lines in stderr."""
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
    """``folder``'s params.yaml and datasets.yaml as one mapping."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    return {**params, **yaml.safe_load((folder / CATALOGUE).read_text())}


def write_params_files(folder: Path, params: dict) -> Path:
    """Write ``params`` back: ``datasets`` to datasets.yaml, the rest to params.yaml (its path)."""
    knobs = {key: value for key, value in params.items() if key != "datasets"}
    (folder / "params.yaml").write_text(yaml.safe_dump(knobs, sort_keys=False))
    catalogue = {"datasets": params["datasets"]}
    (folder / CATALOGUE).write_text(yaml.safe_dump(catalogue, sort_keys=False))
    return folder / "params.yaml"


@pytest.fixture(scope="session")
def repo_params() -> dict:
    return read_params_files(REPO)


@pytest.fixture
def write_params(tmp_path: Path, repo_params: dict) -> Callable[..., Path]:
    """Write the repository's params files into tmp_path, with ``overrides`` merged in."""
    return lambda overrides=None: write_params_files(
        tmp_path, deep_update(repo_params, overrides or {})
    )


def shipped_mnist(train: int, test: int) -> dict[str, np.ndarray]:
    """The first ``train`` training and ``test`` test images and labels of the shipped MNIST."""
    arrays = {role: read_idx(SHIPPED_MNIST / name) for role, name in FILE_NAMES.items()}
    return {role: a[: train if role.startswith("train") else test] for role, a in arrays.items()}


@pytest.fixture(scope="session")
def mnist_slice() -> dict[str, np.ndarray]:
    return shipped_mnist(1200, 300)


def write_decoded_slice(root: Path, mnist_slice: dict[str, np.ndarray]) -> None:
    """Write the slice as the decode stage would: ``root/stages/decode/{train,test}.npz``."""
    (root / "stages/decode").mkdir(parents=True)
    for split in ("train", "test"):
        arrays = {kind: mnist_slice[f"{split}_{kind}"] for kind in ("images", "labels")}
        save_arrays(root / f"stages/decode/{split}.npz", arrays)


def params_copy(run: Path, dest: Path) -> Path:
    """``run``'s params files copied into ``dest``: a stage run in ``run`` may write there."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / CATALOGUE, dest / CATALOGUE)
    return Path(shutil.copy(run / "params.yaml", dest / "params.yaml"))


SLICE_PARAMS = {
    "split": {"validation": 200},
    "pca": {"n": 20},
    "models": {
        "knn": {"features": "pca", "estimator": "knn", "k": 3},
        "sgd_5": dict(features="normalize", estimator="sgd", target=5, random_state=1, cv=3),
    },
}
"""`slice_run`'s params over the repository's: knn on 20 PCA components and the detector of 5s."""
TRAIN = (
    "train --model {m} --features stages/{f} --out stages/train/{m}"
    " --history metrics/{m}/history.csv --live metrics/{m}/live"
)
EVALUATE = (
    "evaluate --model {m} --model-dir stages/train/{m} --features stages/{f}"
    " --metrics-dir metrics/{m} --out stages/evaluate/{m}"
)
SLICE_STEPS = {
    "normalize": "normalize --in stages/decode --out stages/normalize"
    " --labels metrics/label_distribution.csv",
    "pca": "pca --in stages/normalize --out stages/pca --variance metrics/pca/variance.csv",
    **{
        f"{step}@{m}": command.format(m=m, f=f)
        for m, f in (("knn", "pca"), ("sgd_5", "normalize"))
        for step, command in (("train", TRAIN), ("evaluate", EVALUATE))
    },
}
SLICE_STEPS = {name: command.split() for name, command in SLICE_STEPS.items()}
"""`slice_run`'s stages in order, as ``[script, *arguments after --params]`` (dvc.yaml's)."""


def redirected(step: list[str], **paths: str | Path) -> list[str | Path]:
    """``step`` with the value of each option in ``paths`` (``metrics_dir``: ``--metrics-dir``)."""
    args: list[str | Path] = list(step)
    for name, path in paths.items():
        args[args.index("--" + name.replace("_", "-")) + 1] = path
    return args


@pytest.fixture(scope="session")
def slice_run(tmp_path_factory, mnist_slice, repo_params) -> Path:
    """A folder in which `SLICE_STEPS` ran on the MNIST slice, on one BLAS thread. Read only."""
    from threadpoolctl import threadpool_limits

    root = tmp_path_factory.mktemp("slice_run")
    merged = deep_update(repo_params, SLICE_PARAMS)
    merged["models"] = SLICE_PARAMS["models"]
    merged["datasets"]["mnist"]["references"].update(test={}, cv={})
    params = write_params_files(root, merged)
    write_decoded_slice(root, mnist_slice)
    with threadpool_limits(limits=1, user_api="blas"):
        for script, *args in SLICE_STEPS.values():
            result = run_main(script, "--params", params, *args, cwd=root)
            assert result.returncode == 0, f"{script}: {result.stderr}"
    return root


def assert_png_stable(draw: Callable[[], Figure]) -> None:
    """``draw()``'s PNG is the same bytes again and under other rcParams, without metadata."""
    import matplotlib

    from mnist_pipeline.charts import png_bytes

    first = png_bytes(draw(), 100)
    assert png_bytes(draw(), 100) == first
    style = {"font.size": 20, "lines.linewidth": 6, "axes.grid": True, "image.cmap": "jet"}
    with matplotlib.rc_context({**style, "savefig.dpi": 300}):
        assert png_bytes(draw(), 100) == first
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"tIME"):
        assert chunk not in first, f"{chunk}: metadata would change the bytes"


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels."""
    from PIL import Image

    return Image.open(io.BytesIO(data)).size


# ---------------------------------------------------------------------------------------------
# Copies of the project driven through the real `dvc` and `git` (also used by benchmarks/run.py)


def tool_env(identity: str = "tests", extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for dvc, git and the scripts: this venv first on PATH, a git identity."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for role in ("AUTHOR", "COMMITTER"):
        env.setdefault(f"GIT_{role}_NAME", identity)
        env.setdefault(f"GIT_{role}_EMAIL", f"{identity}@example.invalid")
    return {**env, "DVC_NO_ANALYTICS": "1", **(extra or {})}


def run_tool(
    *args: str | Path,
    cwd: Path,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 900.0,
) -> subprocess.CompletedProcess:
    """Run dvc or git in ``cwd`` with `tool_env()` and ``env``; on a failure, show its output."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=tool_env(extra=env),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(shown(result))
    return result


def dvc(repo: Path, *args: str | Path, **options) -> subprocess.CompletedProcess:
    return run_tool("dvc", *args, cwd=repo, **options)


def git(repo: Path, *args: str | Path, **options) -> subprocess.CompletedProcess:
    return run_tool("git", *args, cwd=repo, **options)


def copy_repo(dest: Path, leave_out: tuple[str, ...] = (), identity: str = "tests") -> Path:
    """The working tree's files (not ignored, less ``leave_out``) committed in a new repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    for name in listed.stdout.decode().split("\0"):
        if (REPO / name).is_file() and not name.startswith(tuple(f"{f}/" for f in leave_out)):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    env = tool_env(identity=identity)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run(["git", *args], cwd=dest, env=env, capture_output=True, check=True)
    return dest


SMALL_MNIST = "data/mnist-small"
UP_TO_DATE = "Data and pipelines are up to date."


@contextlib.contextmanager
def isolated_dvc_environment(site_cache: Path) -> Iterator[None]:
    """While open, dvc's site cache is ``site_cache`` (not /var/tmp/dvc); one BLAS thread."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DVC_SITE_CACHE_DIR", str(site_cache))
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            patch.setenv(name, "1")
        yield


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
    return shutil.copytree(repo, dest, symlinks=True)


def experiments(repo: Path) -> dict[str, dict]:
    """`dvc exp show --json` as {experiment name: {"state", "error", "params", "metrics"}}."""
    found = {}
    for commit in json.loads(dvc(repo, "exp", "show", "--json").stdout):
        for exp in commit.get("experiments") or []:
            rev = exp["revs"][0]
            data = rev.get("data") or {}
            found[exp["name"]] = {
                "state": (exp.get("executor") or {}).get("state"),
                "error": rev.get("error"),
                "params": (data.get("params") or {}).get("params.yaml", {}).get("data", {}),
                "metrics": {p: e.get("data", {}) for p, e in (data.get("metrics") or {}).items()},
            }
    return found


def make_small_repo(dest: Path) -> Path:
    """A copy of the project: a committed MNIST slice as its mirror, a small cnn, no results yet."""
    repo = copy_repo(dest)
    params = read_params_files(repo)
    params["datasets"]["mnist"]["mirrors"] = [SMALL_MNIST]
    params["datasets"]["mnist"]["files"] = write_dataset(
        repo / SMALL_MNIST, shipped_mnist(3000, 500)
    )
    params["split"]["validation"] = 500
    params["models"]["cnn"].update(epochs=1, channels=[4, 8], hidden=16)  # seconds, not a minute
    write_params_files(repo, params)
    shutil.rmtree(repo / "metrics", ignore_errors=True)
    (repo / "dvc.lock").unlink(missing_ok=True)
    git(repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "data/mnist")
    shutil.rmtree(repo / "data" / "mnist", ignore_errors=True)
    commit_results(repo, f"small MNIST slice in {SMALL_MNIST}, no results yet")
    return repo


def commit_results(repo: Path, message: str) -> None:
    """Commit everything: dvc's autostage adds dvc.lock, not the `cache: false` files."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


# ---------------------------------------------------------------------------------------------
# Small git repositories holding metrics/<model>/scores and predictions, as evaluate writes them

CLASSIFIER_TEST = {"acc": 0.9708, "acc_lo": 0.9673, "acc_hi": 0.9739, "f1": 0.9706}
DETECTOR_TEST = {"acc": 0.9658, "acc_lo": 0.9621, "acc_hi": 0.9692, "f1": 0.8217, "p": 0.768}
DETECTOR_TEST |= {"r": 0.8834, "ap": 0.9097}


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
    for split, scores in (("test", test), ("val", val)):
        if scores is not None:
            (folder / "scores").mkdir(parents=True, exist_ok=True)
            (folder / "scores" / f"{split}.json").write_text(json.dumps(scores, indent=2) + "\n")
    if predictions is not None:
        (folder / "predictions").mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{actual},{predicted}\n" for actual, predicted in predictions)
        (folder / "predictions" / "test.csv").write_text("actual,predicted\n" + rows)


def write_models_params(repo: Path, models: dict[str, dict]) -> None:
    """A params.yaml holding only ``models``."""
    (repo / "params.yaml").write_text(yaml.safe_dump({"models": models}, sort_keys=False))


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory) -> Path:
    """HEAD cloned less metrics/ and plots/, a cold `dvc repro` of full MNIST (270 s), the CNN on
    the CPU: a GPU's sums give other bits."""
    repo = tmp_path_factory.mktemp("fresh-clone") / "repo"
    run_tool("git", "clone", "-q", "--no-hardlinks", REPO, repo, cwd=REPO)
    git(repo, "checkout", "-q", "-B", "main")
    for committed_output in ("metrics", "plots"):
        shutil.rmtree(repo / committed_output, ignore_errors=True)
    dvc(repo, "repro", env={"CUDA_VISIBLE_DEVICES": ""}, timeout=3600)
    return repo
