"""Every script says what it does and takes, the benchmark's too (a benchmark run takes two cold
`dvc repro`s of full MNIST: make it by hand, `python benchmarks/run.py`)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, run_main


@pytest.mark.parametrize("script", sorted(p.stem for p in (REPO / "src").glob("*.py")))
def test_every_script_has_help(script):
    result = run_main(script, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage:")
    assert "--" in result.stdout and len(result.stdout.split("\n\n")) > 2, result.stdout


def test_the_benchmark_describes_its_options():
    result = subprocess.run(
        [sys.executable, REPO / "benchmarks/run.py", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--against" in result.stdout and "--rounds" in result.stdout
