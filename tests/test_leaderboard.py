"""leaderboard on fixture scores in a small git repository, and the README's Results table."""

import json
from pathlib import Path

import pytest
import yaml
from conftest import DETECTOR_TEST, REPO, commit_results, run_main, run_script, write_model_files
from test_compare import scores_repo


def classifier(acc: float, lo: float, hi: float) -> dict:
    return {"acc": acc, "acc_lo": lo, "acc_hi": hi, "f1": acc}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two 10-class models and two detectors on main, the notebooks' figures in params.yaml (as
    before datasets.yaml); the workspace then lowers knn's score."""
    repo = scores_repo(tmp_path / "repo")
    models = {
        "nearest": {"features": "normalize", "estimator": "cosine_1nn"},
        "sgd_5": {"features": "normalize", "estimator": "sgd", "target": 5},
        "knn": {"features": "pca", "estimator": "knn", "k": 4},
        "never_5": {"features": "normalize", "estimator": "dummy", "target": 5},
    }
    notebooks = {"notebooks": {"nearest": 0.9708}, "notebook_cv": {"sgd_5": 0.96}}
    (repo / "params.yaml").write_text(yaml.safe_dump({"models": models, **notebooks}))
    write_model_files(repo, "nearest", test=classifier(0.9708, 0.9673, 0.9739), val={"acc": 0.9748})
    write_model_files(repo, "knn", test=classifier(0.9756, 0.9724, 0.9784))
    write_model_files(repo, "sgd_5", test=DETECTOR_TEST, val={"acc": 0.9651, "f1": 0.82})
    cv = {"acc": 0.9729, "acc_sd": 0.0016, "fold1": 0.9751, "f1": 0.8477}
    (repo / "metrics/sgd_5/scores/cv.json").write_text(json.dumps(cv))
    never = {"acc": 0.9108, "acc_lo": 0.9051, "acc_hi": 0.9162, "f1": 0.0, "ap": 0.0892}
    write_model_files(repo, "never_5", test=never, val={"acc": 0.9085})
    commit_results(repo, "scores")
    write_model_files(repo, "knn", test=classifier(0.9500, 0.9456, 0.9541))
    return repo


EXPECTED_MAIN = """\
model    features   estimator             test acc [95% CI]  val acc     F1     AP  notebook    cv acc ± sd  notebook cv
knn      pca        knn               97.56% [97.24, 97.84]
nearest  normalize  cosine_1nn        97.08% [96.73, 97.39]   97.48%                  97.08%
sgd_5    normalize  sgd, is it a 5    96.58% [96.21, 96.92]   96.51%  0.822  0.910            97.29% ± 0.16       96.00%
never_5  normalize  dummy, is it a 5  91.08% [90.51, 91.62]   90.85%  0.000  0.089
"""  # noqa: E501


def test_classifiers_by_accuracy_then_detectors_by_f1_at_a_git_revision(repo: Path):
    """In a fresh Python, as `make leaderboard` runs it."""
    result = run_script("leaderboard", "--rev", "main", cwd=repo)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == EXPECTED_MAIN


def test_the_workspace_is_the_default_revision(repo: Path):
    result = run_main("leaderboard", cwd=repo)
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert names == ["nearest", "knn", "sgd_5", "never_5"]
    assert "95.00% [94.56, 95.41]" in result.stdout


def test_a_model_of_params_without_scores_is_one_line_naming_the_file(repo: Path):
    (repo / "metrics" / "knn" / "scores" / "test.json").unlink()
    result = run_main("leaderboard", cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("leaderboard: error: metrics/knn/scores/test.json: missing")
    assert len(result.stderr.splitlines()) == 1


def test_readme_mode_writes_the_markdown_rows_into_the_marked_section_or_refuses(repo: Path):
    readme = repo / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\noutro\n")
    result = run_main("leaderboard", "--readme", readme, "--rev", "main", cwd=repo)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    table = run_main("leaderboard", "--rev", "main", "--markdown", cwd=repo).stdout
    assert table.splitlines()[1:3] == [
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        "| `knn` | pca | knn | 97.56% [97.24, 97.84] |  |  |  |  |  |  |",
    ]
    assert readme.read_text() == (
        f"intro\n<!-- results:start -->\n{table}<!-- results:end -->\noutro\n"
    )
    readme.write_text("intro\n<!-- results:start -->\nno end marker\n")
    result = run_main("leaderboard", "--readme", readme, cwd=repo)
    assert result.returncode == 1
    assert result.stderr.startswith("leaderboard: error: README has no <!-- results:start -->")


def test_readme_results_match_the_committed_metrics(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text((REPO / "README.md").read_text())
    result = run_main("leaderboard", "--readme", readme, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert readme.read_text() == (REPO / "README.md").read_text(), "run `make results`"
