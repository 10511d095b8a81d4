"""The README's Results table is the one src/results.py generates from the committed metrics."""

from __future__ import annotations

import pytest
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
