"""The README's Results table is the one src/results.py generates from the committed metrics."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO

from results import END, START, results_table, splice


def test_readme_results_match_the_committed_metrics():
    readme = (REPO / "README.md").read_text()
    table = results_table(REPO / "metrics", REPO / "params.yaml")
    assert splice(readme, table) == readme, "README is stale: run `make results`"


def test_splice_replaces_only_the_marked_section():
    readme = f"intro\n{START}\nold\n{END}\noutro\n"
    assert splice(readme, "| new |\n") == f"intro\n{START}\n| new |\n{END}\noutro\n"


def test_splice_without_markers_is_an_error():
    with pytest.raises(ValueError, match="README has no"):
        splice("no markers here", "| t |\n")


def test_model_without_a_val_split_has_an_empty_val_cell(tmp_path, write_params, repo_params):
    params = write_params()
    raw = yaml.safe_load(params.read_text())
    raw["models"] = {"gd_4": repo_params["models"]["gd_4"]}
    raw["notebooks"] = raw["notebook_cv"] = {}
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    scores = tmp_path / "metrics/gd_4/scores"
    scores.mkdir(parents=True)
    (scores / "test.json").write_text('{"acc": 0.9776, "f1": 0.8814, "p": 0.9183, "r": 0.8473}')
    row = results_table(tmp_path / "metrics", params).splitlines()[-1]
    assert row == ("| `gd_4` | raw | gradient_descent, is it a 4 |  | 97.76% |  | "
                   "0.918 / 0.847 / 0.881 |")
