"""The default pipeline on the full, real MNIST, run by dvc in a fresh copy of the repository.

One cold `dvc repro` (conftest's `reproduced`, about two minutes on two cores) serves every
test here and the browser tests of tests/test_serve.py: it must give back every committed file
and hash, dvc.lock included, so that `git status` stays clean.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_tool

from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.plumbing.model_files import load_model

pytestmark = pytest.mark.slow


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


def output_hashes(lock: Path) -> dict[str, str]:
    """Every stage output's hash in a dvc.lock, by path."""
    stages = yaml.safe_load(lock.read_text())["stages"].values()
    return {out["path"]: out.get("md5", "") for stage in stages for out in stage.get("outs", [])}


def test_cold_repro_gives_every_committed_output_hash_in_dvc_lock(reproduced):
    """Names each output whose hash differs. The committed hashes are OpenBLAS's Haswell
    kernels' (mnist_pipeline pins them on x86-64; README: which outputs depend on it)."""
    committed, again = output_hashes(REPO / "dvc.lock"), output_hashes(reproduced / "dvc.lock")
    differing = {
        path: f"committed {committed.get(path)}, reproduced {again.get(path)}"
        for path in sorted(set(committed) | set(again))
        if committed.get(path) != again.get(path)
    }
    assert differing == {}
    assert (reproduced / "dvc.lock").read_text() == (REPO / "dvc.lock").read_text()


def test_cold_repro_leaves_git_status_clean(reproduced):
    status = run_tool("git", "status", "--porcelain", "--untracked-files=all", cwd=reproduced)
    assert status.stdout == ""


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


def models_of(repo: Path) -> list[str]:
    return list(yaml.safe_load((repo / "params.yaml").read_text())["models"])


@pytest.mark.parametrize("model", models_of(REPO))
def test_packaged_model_predicts_what_evaluate_predicted_on_all_test_images(reproduced, model):
    pipeline = load_model(reproduced / "stages/package" / model / "model.skops")
    images = load_arrays(reproduced / "stages/decode/test.npz", ("images",))["images"]
    expected = load_arrays(
        reproduced / "stages/evaluate" / model / "predictions.npz", ("test_pred",)
    )["test_pred"]
    assert len(images) == 10_000
    predicted = pipeline.predict(images)
    assert [int(i) for i in (predicted != expected).nonzero()[0]] == []


def test_make_predict_names_the_digit_of_each_example_picture(reproduced):
    examples = sorted((REPO / "docs/predict/examples").iterdir())
    digits = {"two": "2", "three": "3", "four": "4", "seven": "7", "eight": "8"}
    result = run_tool(
        sys.executable, REPO / "src/predict.py", *examples, cwd=reproduced, check=False
    )
    assert result.returncode == 0, result.stderr
    found = dict(re.findall(r"^(\S+)\s+(\S+) ", result.stdout, re.MULTILINE))
    assert found == {str(p): digits[p.name.split("-")[0].split(".")[0]] for p in examples}
