"""One cold `dvc repro` on the full MNIST in a fresh clone (conftest's `reproduced`): every
committed metrics/ and plots/ file and dvc.lock comes back byte for byte."""

from __future__ import annotations

import json
import re
import sys

import pytest
from conftest import REPO, run_tool

pytestmark = pytest.mark.slow


def test_cold_repro_gives_back_every_committed_output_and_dvc_lock(reproduced):
    """Its metrics/ and plots/ were deleted before the repro: git sees no file changed or new."""
    status = run_tool("git", "status", "--porcelain", "--untracked-files=all", cwd=reproduced)
    assert status.stdout == ""


def test_the_models_reach_the_notebooks_accuracies(reproduced):
    def accuracy(model: str) -> float:
        return json.loads((reproduced / f"metrics/{model}/scores/test.json").read_text())["acc"]

    assert (accuracy("nearest"), accuracy("nearest_pca")) == (0.9708, 0.9703)
    assert abs(accuracy("mlp") - 0.972) <= 0.005
    assert accuracy("cnn") >= 0.993


def test_make_predict_names_the_digit_of_each_example_picture(reproduced):
    examples = sorted((REPO / "docs/predict/examples").iterdir())
    digits = {"two": "2", "three": "3", "four": "4", "seven": "7", "eight": "8"}
    result = run_tool(sys.executable, REPO / "src/predict.py", *examples, cwd=reproduced)
    found = dict(re.findall(r"^(\S+)\s+(\S+) ", result.stdout, re.MULTILINE))
    assert found == {str(p): digits[p.name.split("-")[0].split(".")[0]] for p in examples}
