"""Hostile params files: each gets one line, ``<stage>: error: <file>: <what> (line N)``,
exit status 1 and nothing written, from every stage script and tool that reads params, in a
real process bounded by the test's timeout and a 4 GB address space (the alias bomb took
5.5 GB before)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, commit_all, init_git_repo, run_script, write_model_files

TIMEOUT = 120.0
"""Seconds a run may take: a refusal takes one or two, a hang or a bomb never ends."""
SHIPPED = (REPO / "params.yaml").read_text()
N_LINE = "  n: 60 "
LISTS = ['&a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'] + [
    f"&{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
]
BOMB = f"[{', '.join(LISTS)}]"
"""9 anchored lists, each of 9 aliases of the one before: 387,420,489 "lol"s once expanded."""


def line_of(text: str, start: str) -> int:
    """The number of the first line of ``text`` that starts with ``start``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def replaced(old: str, new: str) -> str:
    assert old in SHIPPED
    return SHIPPED.replace(old, new, 1)


def special(kind: str) -> Callable[[Path], None]:
    """Put a directory, a FIFO or a link to a device at ``path``."""

    def make(path: Path) -> None:
        if kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(kind)

    return make


TWICE = SHIPPED + "pca:\n  n: 40\n  whiten: false\n"
CASES: dict[str, tuple[str | bytes | Callable[[Path], None], str]] = {
    "directory": (special("directory"), "expected a regular file, got a directory"),
    "fifo": (special("fifo"), "expected a regular file, got a FIFO"),
    "dev-zero": (special("/dev/zero"), "expected a regular file, got a character device"),
    "dev-urandom": (special("/dev/urandom"), "expected a regular file, got a character device"),
    "over-1-mb": (
        SHIPPED + "#" * 1_000_000 + "\n",
        "over 1,000,000 bytes: too large for a params file",
    ),
    "not-utf-8": (
        SHIPPED.encode() + b"# caf\xe9\n",
        f"not UTF-8: byte 0xe9 (line {SHIPPED.count(chr(10)) + 1})",
    ),
    "key-twice": (
        TWICE,
        f"pca: key written twice, first at line {line_of(TWICE, 'pca:')} "
        f"(line {SHIPPED.count(chr(10)) + 1})",
    ),
    "bomb-at-pca-n": (
        replaced(N_LINE, f"  n: {BOMB} "),
        f"pca.n[1][0]: YAML aliases are refused; this one repeats line "
        f"{line_of(SHIPPED, N_LINE)} (line {line_of(SHIPPED, N_LINE)})",
    ),
    "bomb-as-knn-k": (
        replaced("    k: 4\n", f"    k: {BOMB}\n"),
        f"models.knn.k[1][0]: YAML aliases are refused; this one repeats line "
        f"{line_of(SHIPPED, '    k: 4')} (line {line_of(SHIPPED, '    k: 4')})",
    ),
    "min-rate-nan": (
        replaced("min_rate: 50000", "min_rate: .nan"),
        "download.min_rate: expected a finite number, got nan",
    ),
    "timeout-inf": (
        replaced("timeout: 30 ", "timeout: .inf "),
        "download.timeout: expected a finite number, got inf",
    ),
    "nested-40-deep": (
        replaced(N_LINE, "  n: " + "[" * 40 + "60" + "]" * 40 + " "),
        f"{('pca.n' + '[0]' * 31)[:57]}...: nested deeper than 32 levels "
        f"(line {line_of(SHIPPED, N_LINE)})",
    ),
    "20000-values": (
        replaced(N_LINE, "  n: [" + ", ".join(["1"] * 20_000) + "] "),
        "more than 10,000 values: too many for a params file",
    ),
    "5000-digits": (
        replaced(N_LINE, "  n: " + "9" * 5000 + " "),
        f"pca.n: a number of 5,000 digits (line {line_of(SHIPPED, N_LINE)})",
    ),
    "control-character": (
        replaced("  whiten: false", "  whiten: \x07"),
        f"not valid YAML: control characters are not allowed (line {line_of(SHIPPED, N_LINE) + 1})",
    ),
    "not-yaml": (
        replaced(N_LINE, "  n: [60 "),
        f"not valid YAML: did not find expected ',' or ']' (line {line_of(SHIPPED, N_LINE) + 1})",
    ),
}
"""params.yaml's text (or what stands in its place) and what is refused, after ``<file>: ``."""


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def bounded(script: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    """``src/<script>.py`` in a fresh interpreter, killed after ``TIMEOUT`` s (a failure)."""
    return run_script(script, *args, cwd=cwd, timeout=TIMEOUT, preexec_fn=limited)


def write_case(folder: Path, case: str) -> Path:
    """``folder`` with the case's params.yaml and the shipped datasets.yaml; the former."""
    folder.mkdir(exist_ok=True)
    shutil.copy(REPO / "datasets.yaml", folder)
    path, (content, _) = folder / "params.yaml", CASES[case]
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


STAGE_ARGS = {
    "download": ("--out", "out"),
    "decode": ("--in", "in", "--out", "out"),
    "raw": ("--in", "in", "--out", "out"),
    "normalize": ("--in", "in", "--out", "out", "--labels", "labels.csv"),
    "pca": ("--in", "in", "--out", "out", "--variance", "variance.csv"),
    "images": ("--in", "in", "--out", "out"),
    "train": (
        *("--model", "knn", "--features", "in", "--out", "out"),
        *("--history", "h.csv", "--live", "live"),
    ),
    "evaluate": (
        *("--model", "knn", "--model-dir", "model", "--features", "in"),
        *("--metrics-dir", "metrics", "--out", "out"),
    ),
    "package": (
        *("--model", "knn", "--features", "in", "--model-dir", "model"),
        *("--scores", "in/test.json", "--out", "out"),
    ),
    "figures": ("--evaluations", "in", "--images", "in/test.npz", "--out", "out"),
    "overlays": ("--evaluations", "in", "--test", "in/test.npz", "--out", "out"),
    "summary": (
        *("--images", "in/train.npz", "--evaluations", "in"),
        *("--test", "in/test.npz", "--out", "out"),
    ),
}
"""Each stage script's arguments after ``--params``: inputs that are not there, so that a
params file the stage accepted would still fail, later, on another line."""


@pytest.mark.parametrize("case", CASES)
def test_pca_refuses_the_params_file_in_one_line(tmp_path, case):
    path = write_case(tmp_path, case)
    before = listing(tmp_path)
    result = bounded("pca", "--params", path, *STAGE_ARGS["pca"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"pca: error: {path}: {CASES[case][1]}\n")
    assert listing(tmp_path) == before


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGE_ARGS)
@pytest.mark.parametrize("case", ["fifo", "bomb-as-knn-k", "key-twice"])
def test_every_stage_refuses_the_params_file_in_one_line(tmp_path, stage, case):
    path = write_case(tmp_path, case)
    before = listing(tmp_path)
    result = bounded(stage, "--params", path, *STAGE_ARGS[stage], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"{stage}: error: {path}: {CASES[case][1]}\n")
    assert listing(tmp_path) == before


def test_the_catalogue_is_read_as_safely(tmp_path):
    path = write_case(tmp_path, "directory")
    path.rmdir()
    path.write_text(SHIPPED)
    catalogue = tmp_path / "datasets.yaml"
    catalogue.unlink()
    os.mkfifo(catalogue)
    result = bounded("pca", "--params", path, *STAGE_ARGS["pca"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        f"pca: error: {catalogue}: expected a regular file, got a FIFO\n",
    )


def test_a_non_finite_number_in_the_catalogue_names_its_key(tmp_path):
    path = write_case(tmp_path, "directory")
    path.rmdir()
    path.write_text(SHIPPED)
    catalogue = tmp_path / "datasets.yaml"
    catalogue.write_text(catalogue.read_text().replace("mlp: 0.972", "mlp: .NaN", 1))
    result = bounded("pca", "--params", path, *STAGE_ARGS["pca"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        f"pca: error: {catalogue}: datasets.mnist.references.test.mlp: "
        "expected a finite number, got nan\n",
    )


@pytest.fixture
def scored_repo(tmp_path: Path) -> Path:
    """A git repository with the shipped params and one model's scores, committed."""
    repo = init_git_repo(tmp_path / "repo")
    for name in ("params.yaml", "datasets.yaml"):
        shutil.copy(REPO / name, repo)
    write_model_files(repo, "knn", test={"acc": 0.97, "acc_lo": 0.96, "acc_hi": 0.98, "f1": 0.97})
    commit_all(repo, "scores")
    return repo


@pytest.mark.parametrize("case", ["fifo", "dev-zero", "bomb-as-knn-k", "key-twice"])
def test_the_tools_refuse_the_workspaces_params_file_in_one_line(scored_repo, case):
    (scored_repo / "params.yaml").unlink()
    write_case(scored_repo, case)
    message = f"params.yaml at workspace: {CASES[case][1]}"
    board = bounded("leaderboard", cwd=scored_repo)
    assert (board.returncode, board.stderr) == (1, f"leaderboard: error: {message}\n")
    compared = bounded("compare", "HEAD", "workspace", cwd=scored_repo)
    assert (compared.returncode, compared.stderr) == (1, f"compare: error: {message}\n")


@pytest.mark.parametrize("case", ["over-1-mb", "bomb-at-pca-n", "not-utf-8"])
def test_the_tools_refuse_a_revisions_params_file_in_one_line(scored_repo, case):
    (scored_repo / "params.yaml").unlink()
    write_case(scored_repo, case)
    commit = commit_all(scored_repo, case)
    (scored_repo / "params.yaml").write_text(SHIPPED)
    message = f"params.yaml at HEAD ({commit[:7]}): {CASES[case][1]}"
    board = bounded("leaderboard", "--rev", "HEAD", cwd=scored_repo)
    assert (board.returncode, board.stderr) == (1, f"leaderboard: error: {message}\n")
    compared = bounded("compare", "workspace", "HEAD", cwd=scored_repo)
    assert (compared.returncode, compared.stderr) == (1, f"compare: error: {message}\n")
