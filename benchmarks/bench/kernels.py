"""Reference kernels and same-run ratios: what every benchmark in benchmarks/ shares.

Machines differ day to day by up to 4x, so each timing is reported beside a ratio to something
timed in the same run: the part of the pipeline it is judged against, or one of three fixed
reference kernels (the same work on every run, nothing read from the project): ``gemm``
(BLAS), ``python_loop`` (the interpreter) and ``svc_fit`` (libsvm, as ``train@svm``).
``reference_seconds`` times them in a fresh interpreter, ``measure`` runs any command and
returns its own wall and CPU seconds and peak memory, ``ratio`` divides.
``python -m bench.kernels [ROUNDS]`` prints the kernels' samples as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]
GEMM_SIZE = 4096
LOOP_ITERATIONS = 10_000_000
SVC_ROWS, SVC_FEATURES, SVC_CLASSES = 10_000, 60, 10


def gemm(size: int = GEMM_SIZE) -> float:
    """Seconds of one float32 product of two fixed ``size`` x ``size`` matrices (BLAS's default
    threads)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
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
    """Seconds of one libsvm fit (SVC, RBF, C=10, as ``models.svm``) on ``rows`` fixed points
    of 60 features around 10 Gaussian class centres."""
    import numpy as np
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((SVC_CLASSES, SVC_FEATURES))
    y = np.arange(rows) % SVC_CLASSES
    x = centres[y] + 2.0 * rng.standard_normal((rows, SVC_FEATURES))
    started = time.perf_counter()
    SVC(kernel="rbf", C=10).fit(x, y)
    return time.perf_counter() - started


REFERENCES: dict[str, Callable[[int], float]] = {
    "gemm": gemm,
    "python_loop": python_loop,
    "svc_fit": svc_fit,
}
WARM_UP = {"gemm": 512, "python_loop": 100_000, "svc_fit": 1_000}
"""Each kernel's untimed first run: imports its modules and starts BLAS's threads."""


@dataclass(frozen=True)
class Process:
    """A finished command: its own wall and CPU seconds and peak resident memory, its stdout."""

    wall: float
    cpu: float
    peak_rss_mb: float
    stdout: str


def benchmark_env(src: Path | None = None, **extra: str) -> dict[str, str]:
    """This environment with benchmarks/ (for ``bench``) and ``src`` on PYTHONPATH."""
    paths = [str(BENCHMARKS), *([str(src)] if src else [])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


def measure(
    command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Process:
    """Run ``command`` to its end (stderr passed through); a non-zero exit is an error."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)  # that process's own resource use
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} exited {process.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    return Process(round(wall, 3), round(cpu, 3), round(usage.ru_maxrss / 1024, 1), stdout)


def reference_seconds(rounds: int = 3, sizes: Mapping[str, int] | None = None) -> dict:
    """Each reference kernel ``rounds`` times in one fresh interpreter, after its warm-up:
    ``{kernel: [seconds, ...]}``. ``sizes`` replaces the kernels' sizes (tests)."""
    command = [sys.executable, "-m", "bench.kernels", str(rounds), json.dumps(sizes or {})]
    return json.loads(measure(command, env=benchmark_env()).stdout)


def ratio(part: float, whole: float) -> float:
    """``part / whole``, to four significant digits."""
    return float(f"{part / whole:.4g}")


def in_kernel_units(seconds: float, references: Mapping[str, Sequence[float]]) -> dict:
    """``seconds`` over each kernel's fastest sample: the machine's speed with a core free."""
    return {name: ratio(seconds, min(samples)) for name, samples in references.items()}


def main(argv: Sequence[str]) -> int:
    """Print ``{kernel: [seconds] * ROUNDS}`` as JSON (``argv``: ROUNDS [SIZES as JSON])."""
    rounds = int(argv[0]) if argv else 3
    sizes = json.loads(argv[1]) if len(argv) > 1 else {}
    samples = {}
    for name, kernel in REFERENCES.items():
        kernel(WARM_UP[name])
        size = sizes.get(name)
        samples[name] = [round(kernel(size) if size else kernel(), 6) for _ in range(rounds)]
    print(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
