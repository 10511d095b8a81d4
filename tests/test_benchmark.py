"""The benchmark starts and says what it does (a run takes two cold `dvc repro`s of full
MNIST: make it by hand, `python benchmarks/run.py`)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_the_benchmark_describes_its_options():
    result = subprocess.run(
        [sys.executable, REPO / "benchmarks/run.py", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--against" in result.stdout and "--rounds" in result.stdout
