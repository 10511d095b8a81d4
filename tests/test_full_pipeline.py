"""The default pipeline on the full, real MNIST, run by dvc in a fresh copy of the repository.

One cold `dvc repro` (about a minute and a half on two cores) serves every test here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, copy_repo, run_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> Path:
    """A fresh copy with the committed metrics and pictures removed, then `dvc repro`, the
    network on the CPU (`device: auto` would take a GPU, whose sums give other bits)."""
    repo = copy_repo(tmp_path_factory.mktemp("fresh-clone"))
    for committed_output in ("metrics", "plots"):
        shutil.rmtree(repo / committed_output, ignore_errors=True)
    run_tool("dvc", "repro", cwd=repo, env={"CUDA_VISIBLE_DEVICES": ""})
    return repo


def files_under(root: Path, folder: str) -> list[Path]:
    return sorted(p.relative_to(root) for p in (root / folder).rglob("*") if p.is_file())


@pytest.mark.parametrize("folder", ["metrics", "plots"])
def test_cold_repro_recreates_the_committed_outputs_byte_for_byte(reproduced, folder):
    committed = files_under(REPO, folder)
    assert files_under(reproduced, folder) == committed
    differing = [
        str(p) for p in committed if (REPO / p).read_bytes() != (reproduced / p).read_bytes()
    ]
    assert differing == []


def test_nearest_neighbour_reproduces_the_notebook_exactly(reproduced):
    scores = json.loads((reproduced / "metrics/nearest/scores/test.json").read_text())
    assert scores["acc"] == 0.9708


def test_nearest_neighbour_on_pca_60_reproduces_the_notebook_exactly(reproduced):
    scores = json.loads((reproduced / "metrics/nearest_pca/scores/test.json").read_text())
    assert scores["acc"] == 0.9703


def test_mlp_is_within_half_a_point_of_the_article(reproduced):
    scores = json.loads((reproduced / "metrics/mlp/scores/test.json").read_text())
    assert abs(scores["acc"] - 0.972) <= 0.005


def test_network_reaches_99_3_percent_on_the_test_set(reproduced):
    scores = json.loads((reproduced / "metrics/cnn/scores/test.json").read_text())
    assert scores["acc"] >= 0.993


def test_second_repro_runs_nothing(reproduced):
    result = run_tool("dvc", "repro", cwd=reproduced)
    assert "Running stage" not in result.stdout
    assert "Data and pipelines are up to date." in result.stdout
