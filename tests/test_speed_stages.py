"""The train and evaluate stages of a 1-NN model never import scikit-learn."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import yaml
from conftest import REPO, deep_update

from mnist_pipeline.files import save_arrays


def test_the_nearest_neighbour_stages_never_import_scikit_learn(
    tmp_path: Path, mnist_slice, repo_params
):
    """train@nearest and evaluate@nearest, run as the stage scripts in one interpreter."""
    params = deep_update(repo_params, {"split": {"validation": 200}})
    params["models"] = {"nearest": repo_params["models"]["nearest"]}
    params["notebooks"] = params["notebook_cv"] = {}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    features = tmp_path / "stages/normalize"
    features.mkdir(parents=True)
    x = mnist_slice["train_images"].reshape(1200, -1).astype(np.float32) / 255
    y = mnist_slice["train_labels"]
    save_arrays(features / "train.npz", {"X": x[:1000], "y": y[:1000]})
    save_arrays(features / "val.npz", {"X": x[1000:], "y": y[1000:]})
    save_arrays(
        features / "test.npz",
        {
            "X": mnist_slice["test_images"].reshape(300, -1).astype(np.float32) / 255,
            "y": mnist_slice["test_labels"],
        },
    )
    code = textwrap.dedent("""
        import sys
        import evaluate, train
        assert train.main(["--params", "params.yaml", "--model", "nearest", "--features",
                           "stages/normalize", "--out", "stages/train/nearest",
                           "--history", "metrics/nearest/history.csv"]) == 0
        assert evaluate.main(["--params", "params.yaml", "--model", "nearest", "--model-dir",
                              "stages/train/nearest", "--features", "stages/normalize",
                              "--metrics-dir", "metrics/nearest",
                              "--out", "stages/evaluate/nearest"]) == 0
        imported = sorted(m for m in sys.modules if m.split(".")[0] == "sklearn")
        assert not imported, imported[:5]
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "metrics/nearest/scores/test.json").is_file()
    assert (tmp_path / "metrics/nearest/history.csv").read_text() == "epoch,loss\n"
