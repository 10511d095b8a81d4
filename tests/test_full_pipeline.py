"""A cold `dvc repro` of full MNIST in a fresh clone gives back every committed output. The CNN's
bits hold per CPU model (oneDNN's blocking follows the caches): elsewhere its files may differ."""

import json
import re
import sys

import pytest
import yaml
from conftest import REPO, run_tool

pytestmark = pytest.mark.slow


CNN_FILES = ("metrics/cnn/", "plots/figures/cnn/", "metrics/overlays/", "plots/summary/accuracy")
CNN_STAGES = {"train@cnn", "evaluate@cnn", "figures", "overlays", "summary"}


def test_cold_repro_gives_back_every_committed_output_and_dvc_lock(reproduced):
    """No file changed or new; where PyTorch's sums differ (train@cnn's lock entry says so, its
    history.csv may round the same), the CNN's and those drawn from them."""
    status = run_tool("git", "status", "--porcelain", "--untracked-files=all", cwd=reproduced)
    changed = [line[3:] for line in status.stdout.splitlines()]
    texts = (
        run_tool("git", "show", "HEAD:dvc.lock", cwd=reproduced).stdout,
        (reproduced / "dvc.lock").read_text(),
    )
    committed, now = (yaml.safe_load(text)["stages"] for text in texts)
    if committed["train@cnn"] == now["train@cnn"]:
        assert changed == []
        return
    assert [path for path in changed if not path.startswith((*CNN_FILES, "dvc.lock"))] == []
    for stage in CNN_STAGES:
        committed.pop(stage), now.pop(stage)
    assert committed == now
    assert json.loads((reproduced / "metrics/cnn/scores/test.json").read_text())["acc"] >= 0.995


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
