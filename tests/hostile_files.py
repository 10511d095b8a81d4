"""Hostile params files: the shipped params.yaml with one hostile edit each, or a directory,
a FIFO or a device in its place, and the line each is refused with. Shared by the tests
(test_hostile_params.py) and the benchmark (benchmarks/hostile_params.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

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


def write_case(folder: Path, case: str, repo: Path = REPO, cases: Mapping = CASES) -> Path:
    """``folder`` with the case's params.yaml and ``repo``'s datasets.yaml; the former."""
    folder.mkdir(exist_ok=True)
    if (repo / "datasets.yaml").exists():  # not in checkouts before the catalogue moved
        shutil.copy(repo / "datasets.yaml", folder)
    path, (content, _) = folder / "params.yaml", cases[case]
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path
