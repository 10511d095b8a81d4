"""The default pipeline on the full, real MNIST, run by dvc in a fresh copy of the repository.

One cold `dvc repro` (about a minute and a half on two cores) serves every test here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, copy_repo, run_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("fresh-clone"))
    if (repo / "metrics").exists():
        import shutil

        shutil.rmtree(repo / "metrics")
    run_tool("dvc", "repro", cwd=repo)
    return repo


def test_cold_repro_recreates_the_committed_metrics_byte_for_byte(reproduced):
    committed = sorted(p.relative_to(REPO) for p in (REPO / "metrics").rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(reproduced) for p in (reproduced / "metrics").rglob("*")
                   if p.is_file())
    assert fresh == committed
    differing = [str(p) for p in committed
                 if (REPO / p).read_bytes() != (reproduced / p).read_bytes()]
    assert differing == []


def test_nearest_neighbour_reproduces_the_notebook_exactly(reproduced):
    metrics = json.loads((reproduced / "metrics/nearest/metrics.json").read_text())
    assert metrics["test"]["accuracy"] == 0.9708


def test_nearest_neighbour_on_pca_60_reproduces_the_notebook_exactly(reproduced):
    metrics = json.loads((reproduced / "metrics/nearest_pca/metrics.json").read_text())
    assert metrics["test"]["accuracy"] == 0.9703


def test_mlp_is_within_half_a_point_of_the_article(reproduced):
    metrics = json.loads((reproduced / "metrics/mlp/metrics.json").read_text())
    assert abs(metrics["test"]["accuracy"] - 0.972) <= 0.005


def test_second_repro_runs_nothing(reproduced):
    result = run_tool("dvc", "repro", cwd=reproduced)
    assert "Running stage" not in result.stdout
    assert "Data and pipelines are up to date." in result.stdout
