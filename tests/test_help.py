"""Every script says what it does and takes, the benchmarks' too (a benchmark run takes minutes,
two cold `dvc repro`s of full MNIST for run.py: make them by hand)."""

import subprocess
import sys

import pytest
from conftest import REPO, run_main


@pytest.mark.parametrize("script", sorted(p.stem for p in (REPO / "src").glob("*.py")))
def test_every_script_has_help(script):
    result = run_main(script, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage:")
    assert "--" in result.stdout and len(result.stdout.split("\n\n")) > 2, result.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "benchmarks").glob("*.py")))
def test_every_benchmark_describes_itself(script):
    command = [sys.executable, REPO / "benchmarks" / script, "--help"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr
