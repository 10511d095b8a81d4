"""The paired comparison (src/compare.py, mnist_pipeline/tools/compare.py) on fixture predictions
in temporary git repositories: flips, McNemar p-values, their Holm adjustment (by hand and by
statsmodels), the detectable difference, verdicts, added and removed models, two models of
one revision, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    CLASSIFIER_TEST,
    DETECTOR_TEST,
    add_experiment_ref,
    commit_all,
    init_git_repo,
    run_main,
    run_script,
    run_tool,
    write_model_files,
    write_models_params,
)

from mnist_pipeline.significance import detectable_difference
from mnist_pipeline.tools.compare import ComparisonError, compare, pair
from mnist_pipeline.tools.revisions import resolve
from mnist_pipeline.tools.scores import Predictions

ACTUAL = [str(i % 10) for i in range(20)]


def predictions(wrong: set[int]) -> list[tuple[str, str]]:
    """The 20 test images, right except those at the ``wrong`` positions."""
    return [(a, a if i not in wrong else str((int(a) + 1) % 10)) for i, a in enumerate(ACTUAL)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: knn wrong on images 0-9, mlp wrong on 0, logreg on 0-5, sgd_5 (a detector) on
    none; branch `better`: knn wrong on 9 only, logreg on none, mlp unchanged, and a new
    model svm."""
    repo = init_git_repo(tmp_path / "repo")
    models = {
        "knn": {"features": "pca", "estimator": "knn"},
        "mlp": {"features": "normalize", "estimator": "mlp"},
        "logreg": {"features": "normalize", "estimator": "logistic_regression"},
    }
    write_models_params(repo, models)
    write_model_files(repo, "knn", test=CLASSIFIER_TEST, predictions=predictions(set(range(10))))
    write_model_files(repo, "mlp", test=CLASSIFIER_TEST, predictions=predictions({0}))
    write_model_files(repo, "logreg", test=CLASSIFIER_TEST, predictions=predictions(set(range(6))))
    commit_all(repo, "main")
    run_tool("git", "checkout", "-q", "-b", "better", cwd=repo)
    write_models_params(repo, {**models, "svm": {"features": "pca", "estimator": "svc"}})
    write_model_files(repo, "knn", test=CLASSIFIER_TEST, predictions=predictions({9}))
    write_model_files(repo, "logreg", test=CLASSIFIER_TEST, predictions=predictions(set()))
    write_model_files(repo, "svm", test=CLASSIFIER_TEST, predictions=predictions(set()))
    commit_all(repo, "better knn, and svm")
    run_tool("git", "checkout", "-q", "main", cwd=repo)
    return repo


def test_two_identical_revisions_give_no_flips_and_p_1(repo: Path):
    """In a fresh Python, as `make compare` runs it."""
    result = run_script("compare", "main", "main", cwd=repo)
    head = run_tool("git", "rev-parse", "--short", "main", cwd=repo).stdout.strip()
    assert (result.returncode, result.stderr) == (0, "")
    assert (
        result.stdout
        == f"""\
A: main ({head})
B: main ({head})

model    A acc   B acc  B - A (points)  right in A only  right in B only  McNemar p  Holm p  detectable (points)  at 5% (Holm p)
knn     50.00%  50.00%           +0.00                0                0      1.000   1.000                 none  not significant
mlp     95.00%  95.00%           +0.00                0                0      1.000   1.000                 none  not significant
logreg  70.00%  70.00%           +0.00                0                0      1.000   1.000                 none  not significant

Paired on 20 test images; exact two-sided McNemar test of the images right in one side only.
Holm p: McNemar p adjusted for the family of 3 comparisons (the models compared); significant if Holm p < 0.05.
Detectable: the smallest |B - A| this test finds with 80% power at 5%, given 20 images and the model's flips (none: too few flips).
"""  # noqa: E501
    )


def test_raw_and_holm_p_values_by_hand_and_the_verdict_follows_holm(repo: Path):
    """knn: right in B only on images 0-8, 9 flips one way: p = 2 / 2**9 = 0.0039; logreg: 6
    flips one way, p = 2 / 2**6 = 0.031; mlp: none, p = 1. Holm over the family of 3: 3 x
    0.0039 = 0.012, max(0.012, 2 x 0.031) = 0.062 (no longer significant), max(0.062, 1)."""
    result = run_main("compare", "main", "better", cwd=repo)
    assert (result.returncode, result.stderr) == (0, "")
    rows = result.stdout.splitlines()[4:7]
    assert [[*row.split()[:8], row.rpartition("  ")[2]] for row in rows] == [
        ["knn", "50.00%", "95.00%", "+45.00", "0", "9", "0.004", "0.012", "significant"],
        ["mlp", "95.00%", "95.00%", "+0.00", "0", "0", "1.000", "1.000", "not significant"],
        ["logreg", "70.00%", "100.00%", "+30.00", "0", "6", "0.031", "0.062", "not significant"],
    ]
    assert "the family of 3 comparisons" in result.stdout
    assert result.stdout.splitlines()[-1] == "added (only in B): svm"


def test_holm_p_values_are_statsmodels_multipletests_of_the_raw_ones(repo: Path):
    from statsmodels.stats.multitest import multipletests

    models = compare(resolve(repo, "main"), resolve(repo, "better")).models
    reject, expected, *_ = multipletests([m.p_value for m in models], method="holm")
    assert [m.adjusted_p for m in models] == pytest.approx(list(expected), rel=1e-12)
    assert [m.significant for m in models] == list(reject) == [True, False, False]


def test_models_narrow_the_family_of_the_adjustment(repo: Path):
    """logreg alone: a family of 1, Holm p = raw p = 0.031, significant again."""
    result = run_main("compare", "main", "better", "--models", "logreg", cwd=repo)
    assert result.returncode == 0, result.stderr
    row = result.stdout.splitlines()[4]
    assert row.split()[6:8] == ["0.031", "0.031"] and row.endswith("  significant")
    assert "a family of 1 comparison, so Holm p = McNemar p" in result.stdout


def test_detectable_difference_follows_each_models_flips(repo: Path):
    """knn's 9 flips of 20 images: the difference the test finds with 80% power; logreg's 6
    flips: only 0 against 6 is significant; mlp's 0: none can be."""
    result = run_main("compare", "main", "better", cwd=repo)
    detectable = {line.split()[0]: line.split()[8] for line in result.stdout.splitlines()[4:7]}
    assert detectable == {
        "knn": f"{100 * detectable_difference(9, 20):.2f}",
        "mlp": "none",
        "logreg": f"{100 * detectable_difference(6, 20):.2f}",
    }
    assert detectable["logreg"] == f"{100 * 6 * (2 * 0.8 ** (1 / 6) - 1) / 20:.2f}" == "27.81"


def test_the_reverse_direction_lists_the_model_as_removed(repo: Path):
    result = run_main("compare", "better", "main", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "removed (only in A): svm"
    assert "knn      95.00%  50.00%          -45.00                9                0" in (
        result.stdout
    )


def test_models_option_compares_only_the_named_models(repo: Path):
    result = run_main("compare", "main", "better", "--models", "mlp", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[4:-4]] == ["mlp"]


def test_a_model_in_neither_revision_is_an_error(repo: Path):
    result = run_main("compare", "main", "better", "--models", "lda", cwd=repo)
    head = run_tool("git", "rev-parse", "--short", "main", cwd=repo).stdout.strip()
    other = run_tool("git", "rev-parse", "--short", "better", cwd=repo).stdout.strip()
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"compare: error: lda: no such model at main ({head}) or better ({other})\n"
    )


def test_different_actual_columns_are_refused(repo: Path):
    write_model_files(repo, "mlp", predictions=predictions(set())[:-1])
    result = run_main("compare", "main", "workspace", cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "compare: error: mlp: the `actual` columns of predictions/test.csv differ between A "
        "and B (20 and 19 rows): not the same test images, so the predictions cannot be "
        "paired\n"
    )


def test_an_experiment_name_is_compared_like_a_branch(repo: Path):
    main = run_tool("git", "rev-parse", "main", cwd=repo).stdout.strip()
    better = run_tool("git", "rev-parse", "better", cwd=repo).stdout.strip()
    add_experiment_ref(repo, main, "brisk-owl", better)
    by_exp = run_main("compare", "main", "brisk-owl", cwd=repo)
    by_branch = run_main("compare", "main", "better", cwd=repo)
    assert by_exp.returncode == 0, by_exp.stderr
    assert by_exp.stdout.splitlines()[2:] == by_branch.stdout.splitlines()[2:]
    assert by_exp.stdout.splitlines()[1] == f"B: brisk-owl ({better[:7]})"


def test_an_unknown_revision_is_a_one_line_error(repo: Path):
    result = run_main("compare", "main", "nowhere", cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "compare: error: nowhere: no such git revision or dvc experiment\n"


def test_pair_refuses_the_same_length_with_other_labels():
    a = Predictions(("1", "2"), ("1", "2"))
    b = Predictions(("2", "1"), ("1", "2"))
    with pytest.raises(ComparisonError, match=r"^knn: the `actual` columns"):
        pair("knn", a, b)


def test_pair_compares_two_models_of_one_revision_with_the_same_test(repo: Path):
    """main's knn (wrong on 0-9) against its logreg (wrong on 0-5): logreg is right alone on
    images 6-9, 4 flips, p = 2 / 2**4 = 0.125; a family of 1."""
    result = run_script("compare", "--pair", "knn", "logreg", "main", cwd=repo)
    head = run_tool("git", "rev-parse", "--short", "main", cwd=repo).stdout.strip()
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"A: knn at main ({head})", f"B: logreg at main ({head})"]
    assert lines[4].split()[:10] == [
        "knn",
        "vs",
        "logreg",
        "50.00%",
        "70.00%",
        "+20.00",
        "0",
        "4",
        "0.125",
        "0.125",
    ]
    assert lines[4].endswith("none  not significant")
    assert "a family of 1 comparison" in result.stdout


def test_pair_reads_the_workspace_by_default(repo: Path):
    write_model_files(repo, "logreg", predictions=predictions(set()))
    result = run_main("compare", "--pair", "knn", "logreg", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["A: knn at workspace", "B: logreg at workspace"]
    assert result.stdout.splitlines()[4].split()[3:8] == ["50.00%", "100.00%", "+50.00", "0", "10"]


def test_pair_refuses_a_detector_against_a_ten_class_model(repo: Path):
    write_model_files(
        repo,
        "sgd_5",
        test=DETECTOR_TEST,
        predictions=[("5" if a == "5" else "not 5",) * 2 for a in ACTUAL],
    )
    result = run_main("compare", "--pair", "knn", "sgd_5", cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "compare: error: knn and sgd_5: the `actual` columns of their predictions/test.csv "
        "differ at workspace: not the same test labels (a detector and a 10-class model?), so "
        "the predictions cannot be paired\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--pair", "knn", "knn"), "compare: error: knn: give two different models to compare"),
        (
            ("--pair", "knn", "svm", "main"),
            "compare: error: metrics/svm/predictions/test.csv: missing at main ({head}); run "
            "`dvc repro` first",
        ),
    ],
)
def test_pair_refusals_are_one_line(repo: Path, args: tuple[str, ...], message: str):
    head = run_tool("git", "rev-parse", "--short", "main", cwd=repo).stdout.strip()
    result = run_main("compare", *args, cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == message.format(head=head) + "\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("main",), "expected two revisions A B (or --pair MODEL_A MODEL_B [REV])"),
        (("--pair", "knn", "mlp", "main", "better"), "--pair takes one revision at most"),
    ],
)
def test_wrong_numbers_of_revisions_are_usage_errors(repo: Path, args, message):
    result = run_main("compare", *args, cwd=repo)
    assert result.returncode == 2
    assert message in result.stderr


def test_help_names_both_forms_and_the_tests():
    result = run_main("compare", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(
        "usage: compare [-h] [--models MODEL [MODEL ...]] A B\n"
        "       compare [-h] --pair MODEL_A MODEL_B [REV]\n"
    )
    assert "exact McNemar p-value" in result.stdout
    assert "Holm's method" in result.stdout
    assert "80% power" in result.stdout
