"""The committed metrics stay few, fixed and narrow; dvc.yaml's overlay charts and the summary
stage's deps name every model.

These read the repository as committed (metrics/, dvc.yaml, params.yaml), so a change that
widens `dvc metrics show` or forgets a new model in a chart fails here, before a user sees it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_tool

from mnist_pipeline.plumbing.params import load_params
from mnist_pipeline.scoring import SCORE_KEYS
from mnist_pipeline.stages.summary import summary_files

MAX_VALUES = 100
MAX_WIDTH = 160
LIVE_KEYS = {"step", "loss", "val_acc"}
"""What dvclive's summary of a model that learns in steps may hold."""


def score_files() -> list[Path]:
    return sorted((REPO / "metrics").glob("*/scores/*.json"))


def live_summaries() -> list[Path]:
    """dvclive's summaries that hold anything (those of the models that learn in steps)."""
    paths = sorted((REPO / "metrics").glob("*/live/metrics.json"))
    return [path for path in paths if json.loads(path.read_text())]


def leaves(data: object) -> int:
    if isinstance(data, dict):
        return sum(leaves(value) for value in data.values())
    return 1


def test_every_scores_file_holds_the_fixed_keys_of_its_kind_and_split():
    params = load_params(REPO / "params.yaml")
    for name, model in params.models.items():
        kind = "classifier" if model.target is None else "detector"
        folder = REPO / "metrics" / name / "scores"
        assert (folder / "test.json").is_file(), f"{folder}: run `dvc repro`"
        for path in sorted(folder.glob("*.json")):
            if path.stem in ("test", "val"):
                keys = sorted(json.loads(path.read_text()))
                assert keys == sorted(SCORE_KEYS[kind, path.stem]), path


def test_declared_scores_hold_at_most_a_hundred_values():
    """The scores files only: dvclive's summaries add at most ``LIVE_KEYS`` per model that
    learns in steps (the test below), 8 values for cnn, mlp and gd_4."""
    total = sum(leaves(json.loads(path.read_text())) for path in score_files())
    assert 0 < total <= MAX_VALUES


def test_live_summaries_hold_only_the_step_its_loss_and_val_accuracy():
    params = load_params(REPO / "params.yaml")
    for name in params.models:
        path = REPO / "metrics" / name / "live" / "metrics.json"
        assert path.is_file(), f"{path}: run `dvc repro`"
        assert set(json.loads(path.read_text())) <= LIVE_KEYS, path
    with_steps = {path.parts[-3] for path in live_summaries()}
    assert {"cnn", "mlp", "gd_4"} <= with_steps


@pytest.mark.slow
def test_dvc_metrics_show_fits_a_160_column_terminal():
    result = run_tool("dvc", "metrics", "show", cwd=REPO)
    lines = result.stdout.splitlines()
    every_live_summary = sorted((REPO / "metrics").glob("*/live/metrics.json"))
    # dvc lists an empty summary ({}) as a row of dashes.
    assert len(lines) == 1 + len(score_files()) + len(every_live_summary), result.stdout
    assert max(map(len, lines)) <= MAX_WIDTH, result.stdout


def test_overlay_charts_name_every_model_of_their_kind():
    params = load_params(REPO / "params.yaml")
    charts = {
        next(iter(entry)): next(iter(entry.values()))
        for entry in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    }
    files = {title: set(chart["y"]) for title, chart in charts.items()}
    detectors = {
        f"metrics/{name}/pr_curve.csv" for name, m in params.models.items() if m.target is not None
    }
    classifiers = {
        f"metrics/{name}/per_class.csv" for name, m in params.models.items() if m.target is None
    }
    assert files["detectors_precision_recall"] == detectors
    assert files["classifiers_per_class_accuracy"] == classifiers


def test_summary_depends_on_the_files_it_reads_of_every_model():
    params = load_params(REPO / "params.yaml")
    summary = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["summary"]
    metrics_dir = Path(re.search(r"--metrics (\S+)", summary["cmd"]).group(1))
    read = {str(path) for name in params.models for path in summary_files(metrics_dir, name)}
    read |= set(re.findall(r"--(?:images|variance) (\S+)", summary["cmd"]))
    missing = sorted(read - set(summary["deps"]))
    assert missing == [], f"summary reads these but dvc.yaml does not list them: {missing}"
    assert not {"metrics", "metrics/"} & set(summary["deps"]), "the whole folder again"
