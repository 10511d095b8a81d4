"""The committed metrics stay few, fixed and narrow, and dvc.yaml names no model: adding one is
an entry in params.yaml alone.

These read the repository as committed (metrics/, dvc.yaml, params.yaml), so a change that
widens `dvc metrics show` or lists a model by hand fails here, before a user sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_tool

from mnist_pipeline.plumbing.params import load_params
from mnist_pipeline.scoring import SCORE_KEYS

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
    from mnist_pipeline.plumbing.registry import estimator_spec

    params = load_params(REPO / "params.yaml")
    for name, model in params.models.items():
        path = REPO / "metrics" / name / "live" / "metrics.json"
        # Only a model that learns in steps has live metrics: no empty rows in `dvc metrics show`.
        assert path.is_file() == estimator_spec(model.estimator).learns_in_steps, path
        assert not path.is_file() or set(json.loads(path.read_text())) <= LIVE_KEYS, path
    with_steps = {path.parts[-3] for path in live_summaries()}
    assert {"cnn", "mlp", "gd_4"} == with_steps


@pytest.mark.slow
def test_dvc_metrics_show_fits_a_160_column_terminal():
    result = run_tool("dvc", "metrics", "show", cwd=REPO)
    lines = result.stdout.splitlines()
    every_live_summary = sorted((REPO / "metrics").glob("*/live/metrics.json"))
    assert len(lines) == 1 + len(score_files()) + len(every_live_summary), result.stdout
    assert max(map(len, lines)) <= MAX_WIDTH, result.stdout


def strings(node: object) -> Iterator[str]:
    """Every key and value of a parsed YAML document that is a string."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def test_dvc_yaml_names_no_model_by_hand():
    """No path, command or title of dvc.yaml's stages and plots names a model of params.yaml:
    each is ${key} of a foreach, or a folder of every model. (``artifacts:`` and the top-level
    ``metrics:``, which DVC cannot loop, are written from params.yaml by `make artifacts`;
    tests/test_artifacts.py checks them.)"""
    models = set(load_params(REPO / "params.yaml").models)
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    named = {
        (text, word)
        for text in strings(
            {k: v for k, v in pipeline.items() if k not in ("artifacts", "metrics")}
        )
        for word in re.split(r"[^\w]+", text)
        if word in models
    }
    assert named == set()


def test_the_stages_over_every_model_depend_on_every_evaluation_and_on_models():
    """They read each model of params.yaml from the evaluate stages' folder: tracking `models`
    lists them in `dvc status` as soon as a model is added."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    over_all = {name for name, body in stages.items() if "stages/evaluate" in body.get("deps", [])}
    assert over_all >= {"figures", "overlays", "summary"}
    for name in over_all:
        assert "models" in stages[name]["params"], name
        assert "--evaluations stages/evaluate" in stages[name]["cmd"], name
