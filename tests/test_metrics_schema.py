"""The committed metrics stay few, fixed and narrow, and dvc.yaml names no model."""

import json
import re

import pytest
import yaml
from conftest import REPO, run_tool

from mnist_pipeline.params import load_params
from mnist_pipeline.scoring import SCORE_KEYS

LIVE_KEYS = {"step", "loss", "val_acc"}


def test_every_scores_file_holds_the_fixed_keys_of_its_kind_and_split_100_values_in_all():
    total = 0
    for name, model in load_params(REPO / "params.yaml").models.items():
        kind = "classifier" if model.target is None else "detector"
        assert (REPO / f"metrics/{name}/scores/test.json").is_file(), name
        for path in (REPO / f"metrics/{name}/scores").glob("*.json"):  # val.json: if validated
            scores = json.loads(path.read_text())
            if path.stem in ("test", "val"):
                assert sorted(scores) == sorted(SCORE_KEYS[kind, path.stem]), path
            total += len(scores)
    assert total <= 100


def test_live_summaries_hold_only_the_step_its_loss_and_val_accuracy():
    from mnist_pipeline.estimators import estimator_spec

    for name, model in load_params(REPO / "params.yaml").models.items():
        path = REPO / "metrics" / name / "live" / "metrics.json"
        # Only a model that learns in steps has live metrics: no empty rows in `dvc metrics show`.
        assert path.is_file() == estimator_spec(model.estimator).learns_in_steps, path
        assert not path.is_file() or set(json.loads(path.read_text())) <= LIVE_KEYS, path
    with_steps = {p.parts[-3] for p in (REPO / "metrics").glob("*/live/metrics.json")}
    assert {"cnn", "mlp", "gd_4"} == with_steps


@pytest.mark.slow
def test_dvc_metrics_show_fits_a_160_column_terminal():
    result = run_tool("dvc", "metrics", "show", cwd=REPO)
    lines = result.stdout.splitlines()
    # No empty rows: one per scores file and one per live summary, besides the header.
    rows = [*(REPO / "metrics").glob("*/scores/*.json"), *(REPO / "metrics").glob("*/live/*.json")]
    assert len(lines) == 1 + len(rows), result.stdout
    assert max(map(len, lines)) <= 160, result.stdout


def test_dvc_yaml_names_no_model_by_hand():
    """Models are only ${key} of a foreach (``artifacts:``, ``metrics:``: src/artifacts.py)."""
    models = set(load_params(REPO / "params.yaml").models)
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    pipeline.pop("artifacts", None)
    pipeline.pop("metrics", None)
    words = set(re.split(r"[^\w]+", json.dumps(pipeline)))
    assert words & models == set()
