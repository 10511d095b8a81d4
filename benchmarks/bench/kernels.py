"""What every benchmark shares: three fixed reference kernels, the same work on every run
(``gemm``: BLAS, ``python_loop``: the interpreter, ``svc_fit``: libsvm, as ``train@svm``),
timed in a fresh interpreter by ``reference_seconds`` (``python -m bench.kernels [ROUNDS]``);
``measure``, a command's own resources, and ``timed``, the wrapper of every stage the
pipeline's benchmark runs; ``ratio``, the same-run ratios. Standard library only at import."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]


def gemm(size: int = 4096) -> float:
    """Seconds of one float32 product of two fixed ``size`` x ``size`` matrices."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    started = time.perf_counter()
    np.matmul(a, b)
    return time.perf_counter() - started


def python_loop(iterations: int = 10_000_000) -> float:
    """Seconds of a pure-Python loop of ``iterations`` integer multiply-modulo-adds."""
    started = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return time.perf_counter() - started


def svc_fit(rows: int = 10_000) -> float:
    """Seconds of one libsvm fit (RBF, C=10, as ``models.svm``) on ``rows`` fixed points."""
    import numpy as np
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    centres, y = rng.standard_normal((10, 60)), np.arange(rows) % 10  # 10 classes, 60 features
    x = centres[y] + 2.0 * rng.standard_normal((rows, 60))
    started = time.perf_counter()
    SVC(kernel="rbf", C=10).fit(x, y)
    return time.perf_counter() - started


REFERENCES: dict[str, Callable[[int], float]] = {"gemm": gemm, "python_loop": python_loop,
                                                  "svc_fit": svc_fit}  # fmt: skip
WARM_UP = {"gemm": 512, "python_loop": 100_000, "svc_fit": 1_000}
"""Each kernel's untimed first run: imports its modules and starts BLAS's threads."""


@dataclass(frozen=True)
class Process:
    """A finished command: its own seconds, peak memory, output, exit code or why it was killed."""

    wall: float
    cpu: float
    peak_rss_mb: float
    stdout: str
    stderr: str = ""
    exit: int | str = 0


def benchmark_env(src: Path | None = None, **extra: str) -> dict[str, str]:
    """This environment with benchmarks/ (for ``bench``) and ``src`` on PYTHONPATH."""
    paths = [str(BENCHMARKS), *([str(src)] if src else [])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


def resident_mb(pid: int) -> float:
    """A running process's resident memory now (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
    max_rss_mb: float | None = None,
    capture: bool = True,
) -> Process:
    """Run ``command`` to its end (``check``: a non-zero exit is an error), killed past
    ``timeout`` seconds or ``max_rss_mb`` resident (then polled every 20 ms); ``capture``:
    keep its output, or pass it through."""
    watch, killed = timeout is not None or max_rss_mb is not None, None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        kept = {"stdout": out, "stderr": err} if capture else {}
        process = subprocess.Popen(command, cwd=cwd, env=env, **kept)
        while not (done := os.wait4(process.pid, os.WNOHANG if watch else 0))[0]:
            if timeout is not None and time.perf_counter() - started > timeout:
                killed = f"killed after {timeout:g} s"
            elif max_rss_mb is not None and resident_mb(process.pid) > max_rss_mb:
                killed = f"killed at {max_rss_mb:g} MB"
            if killed:
                process.kill()
                done = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall, (_, status, usage) = time.perf_counter() - started, done
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        stdout, stderr = (f.seek(0) or f.read().decode(errors="replace") for f in (out, err))
    exit = killed or process.returncode
    if check and exit != 0:
        tail = (stderr.strip().splitlines() or [""])[-1]
        raise RuntimeError(f"{' '.join(map(str, command))} {killed or f'exited {exit}'}: {tail}")
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    return Process(round(wall, 3), cpu, round(usage.ru_maxrss / 1024, 1), stdout, stderr, exit)


def timed(stage: str, command: Sequence[str]) -> int:
    """``python -I -S benchmarks/bench/kernels.py timed STAGE COMMAND...``, as the benchmark's
    copy of dvc.yaml runs every stage: COMMAND, its output passed through, and one JSON line
    of the stage's name and resources appended to $BENCH_STAGE_LOG. Its exit code."""
    done = measure(command, check=False, capture=False)
    record = {"stage": stage, "wall": done.wall, "cpu": done.cpu, "peak_rss_mb": done.peak_rss_mb}
    with open(os.environ["BENCH_STAGE_LOG"], "a") as log:
        log.write(json.dumps({**record, "exit": done.exit}) + "\n")
    return done.exit if done.exit >= 0 else 128 - done.exit


def reference_seconds(rounds: int = 3, sizes: Mapping[str, int] | None = None) -> dict:
    """Each reference kernel ``rounds`` times in one fresh interpreter, after its warm-up:
    ``{kernel: [seconds, ...]}``. ``sizes`` replaces the kernels' sizes (tests)."""
    command = [sys.executable, "-m", "bench.kernels", str(rounds), json.dumps(sizes or {})]
    return json.loads(measure(command, env=benchmark_env()).stdout)


def ratio(part: float, whole: float) -> float:
    """``part / whole``, to four significant digits."""
    return float(f"{part / whole:.4g}")


def main(argv: Sequence[str]) -> int:
    """Print ``{kernel: [seconds] * ROUNDS}`` as JSON (``argv``: ROUNDS [SIZES as JSON])."""
    rounds, sizes, samples = int(argv[0]) if argv else 3, json.loads((argv[1:2] or ["{}"])[0]), {}
    for name, kernel in REFERENCES.items():
        kernel(WARM_UP[name])
        args = [sizes[name]] if name in sizes else []
        samples[name] = [round(kernel(*args), 6) for _ in range(rounds)]
    print(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(timed(sys.argv[2], sys.argv[3:]) if sys.argv[1:2] == ["timed"] else main(sys.argv[1:]))
