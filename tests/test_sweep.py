"""sweep (src/sweep.py) on saved `dvc exp show --json` outputs of dvc 3.67's shape: it chooses
each model's point on val (else cross-validation, else not at all), reads test once at that
point, shows the test curve only as a diagnostic, and refuses an unfinished queue."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import run_main, run_script

BASE = "b2ef76d008a9cd1e50928c79dcccb2ea2fb36730"
OTHER = "9122aa1c2e6e1d0f5b0a8c3c4d5e6f708192a3b4"


def params(n: int, k: int = 4) -> dict:
    return {
        "split": {"validation": 10000},
        "raw": {"validation": 0},
        "pca": {"n": n},
        "models": {"knn": {"features": "pca", "k": k}, "gd_4": {"features": "raw"}},
    }


def scores_json(acc: float) -> dict:
    return {"data": {"acc": acc, "acc_lo": round(acc - 0.003, 4), "acc_hi": acc + 0.003, "f1": acc}}


def experiment(
    name: str,
    state: str | None,
    values: dict,
    accs: dict[str, float] | None = None,
    val: dict[str, float] | None = None,
    cv: dict[str, float] | None = None,
) -> dict:
    """One entry of a commit's ``experiments``: test accuracies ``accs``, val ones ``val``
    (default 0.9 for each model but gd_4), cv ones ``cv``."""
    if val is None:
        val = {model: 0.9 for model in accs or {} if model != "gd_4"}
    metrics = {f"metrics/{m}/scores/test.json": scores_json(a) for m, a in (accs or {}).items()}
    metrics |= {f"metrics/{m}/scores/val.json": {"data": {"acc": a}} for m, a in val.items()}
    cvs = {m: {"data": {"acc": a, "acc_sd": 0.002}} for m, a in (cv or {}).items()}
    metrics |= {f"metrics/{m}/scores/cv.json": data for m, data in cvs.items()}
    data = {"params": {"params.yaml": {"data": values}}, "metrics": metrics}
    executor = None if state is None else {"state": state, "name": "dvc-task"}
    revs = [{"rev": "0" * 40, "name": name, "data": data, "error": None}]
    return {"revs": revs, "executor": executor, "name": name}


def exp_show(*experiments: dict, other: list[dict] | None = None) -> list[dict]:
    """A `dvc exp show --json` output: the workspace, the baseline, maybe another commit."""
    shown = [
        {"rev": "workspace", "name": None, "data": {}, "experiments": None},
        {"rev": BASE, "name": "main", "data": {}, "experiments": list(experiments)},
    ]
    return shown + [{"rev": OTHER, "data": {}, "experiments": other}] * (other is not None)


def run_on(script: str, tmp_path: Path, shown: list[dict], *args: str | Path, run=run_main):
    """``src/<script>.py --from-json`` on ``shown``, saved as `dvc exp show --json` prints it."""
    source = tmp_path / "exp-show.json"
    source.write_text(json.dumps(shown))
    return run(script, "--from-json", source, *args, cwd=tmp_path)


def run_sweep(tmp_path: Path, shown: list[dict], *args: str, run=run_main):
    return run_on("sweep", tmp_path, shown, "--out", tmp_path / "out", *args, run=run)


def table(text: str, first: str) -> list[dict[str, str]]:
    """The rows of the Markdown table whose first header is ``first``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first} "))
    block = itertools.takewhile(lambda line: line.startswith("|"), lines[start:])
    header, _, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in block)
    return [dict(zip(header, row, strict=True)) for row in rows]


PCA_SWEEP = exp_show(
    experiment("wide-n", "success", params(40), {"knn": 0.9612, "svm": 0.99}, val={"knn": 0.97}),
    experiment("tiny-n", "success", params(20), {"knn": 0.9501, "svm": 0.99}, val={"knn": 0.96}),
)


def test_the_val_curve_and_the_chosen_points_test_accuracy_once(tmp_path: Path):
    """In a fresh Python, as `make sweep` runs it. The val interval is Wilson's over the
    10,000 images of split.validation (val.json keeps none)."""
    result = run_sweep(tmp_path, PCA_SWEEP, run=run_script)
    assert (result.returncode, result.stderr) == (0, "")
    assert table(result.stdout, "pca.n") == [
        {"pca.n": "20", "experiment": "tiny-n", "knn": "96.00% [95.60, 96.37]"},
        {"pca.n": "40", "experiment": "wide-n", "knn": "**97.00% [96.65, 97.32]**"},
    ]
    assert table(result.stdout, "model") == [
        {
            "model": "knn",
            "chosen on": "val",
            "pca.n": "40",
            "val (cv) acc": "97.00% [96.65, 97.32]",
            "test acc, once": "96.12% [95.82, 96.42]",
        }
    ]
    assert "The same at every point: svm." in result.stdout
    assert "Diagnostic" not in result.stdout
    assert (tmp_path / "out" / "sweep.md").read_text() == result.stdout
    assert (tmp_path / "out" / "sweep.png").read_bytes().startswith(b"\x89PNG")


def test_the_point_is_chosen_on_val_even_where_test_is_higher_elsewhere(tmp_path: Path):
    shown = exp_show(
        experiment("a", "success", params(20), {"knn": 0.99}, val={"knn": 0.95}),
        experiment("b", "success", params(40), {"knn": 0.90}, val={"knn": 0.96}),
    )
    choice = table(run_sweep(tmp_path, shown).stdout, "model")[0]
    assert (choice["pca.n"], choice["test acc, once"][:6]) == ("40", "90.00%")


def test_a_tie_on_val_goes_to_the_smaller_value(tmp_path: Path):
    shown = exp_show(
        *(experiment(f"n{n}", "success", params(n), {"knn": n / 100}) for n in (60, 30, 90))
    )
    assert table(run_sweep(tmp_path, shown).stdout, "model")[0]["pca.n"] == "30"


def test_without_val_a_model_is_chosen_on_cv_and_without_either_not_at_all(tmp_path: Path):
    accs = {"sgd_5": 0.95, "gd_4": 0.95}
    shown = exp_show(
        *(
            experiment(f"n{n}", "success", params(n), accs, {}, {"sgd_5": 1 - n / 500})
            for n in (20, 40)
        )
    )
    result = run_sweep(tmp_path, shown)
    assert result.returncode == 0, result.stderr
    choices = {row["model"]: row for row in table(result.stdout, "model")}
    assert (choices["sgd_5"]["chosen on"], choices["sgd_5"]["pca.n"]) == ("cv", "20")
    assert choices["sgd_5"]["val (cv) acc"] == "96.00% ± 0.20"
    assert choices["gd_4"]["chosen on"].startswith("not chosen")
    assert choices["gd_4"]["test acc, once"] == ""


def test_show_test_curve_adds_test_at_every_point_as_a_diagnostic(tmp_path: Path):
    result = run_sweep(tmp_path, PCA_SWEEP, "--show-test-curve")
    assert "Diagnostic, not for choosing" in result.stdout
    curve = table(result.stdout.split("Diagnostic")[1], "pca.n")
    assert [row["knn"][:6] for row in curve] == ["95.01%", "96.12%"]


def test_a_grid_of_two_parameters_is_found_without_param(tmp_path: Path):
    shown = exp_show(
        *(
            experiment(f"n{n}k{k}", "success", params(n, k), {"knn": 0.9 + n / 1000 + k / 100})
            for n in (20, 40)
            for k in (1, 4)
        )
    )
    result = run_sweep(tmp_path, shown)
    assert result.returncode == 0, result.stderr
    curve = [(r["models.knn.k"], r["pca.n"]) for r in table(result.stdout, "models.knn.k")]
    assert curve == [("1", "20"), ("1", "40"), ("4", "20"), ("4", "40")]


THREE_KEYS = exp_show(
    *(experiment(f"e{i}", "success", params(20 * i, i) | {"x": i}, {"knn": 0.9}) for i in (1, 2))
)
QUEUED = exp_show(
    experiment("done", "success", params(20), {"knn": 0.95}),
    experiment("waiting", "queued", params(30)),
    experiment("busy", "running", params(40)),
)


@pytest.mark.parametrize(
    ("shown", "args", "message"),
    [
        (exp_show(), (), "to report: 0 successful experiment(s), parameters that differ: none;"),
        (THREE_KEYS, (), "differ: models.knn.k, pca.n, x; name one or two with --param\n"),
        (PCA_SWEEP, ("--models", "lda"), "lda: no model of that name has scores in the sweep\n"),
        (QUEUED, (), "2 experiment(s) not finished: waiting (queued), busy (running); wait until"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path, shown, args, message):
    result = run_sweep(tmp_path, shown, *args)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("sweep: error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_failed_experiment_is_named_and_left_out_and_other_commits_ones_silently(tmp_path):
    stale = [experiment("stale", "success", params(30), {"knn": 0.99})]
    broken = experiment("broken", "failed", params(0))
    result = run_sweep(tmp_path, exp_show(*PCA_SWEEP[1]["experiments"], broken, other=stale))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "sweep: experiment broken failed and is left out; see `dvc queue logs broken`\n"
    )
    assert [row["experiment"] for row in table(result.stdout, "pca.n")] == ["tiny-n", "wide-n"]
    last = result.stdout.splitlines()[-1]
    assert last == "Failed, not shown: broken (see `dvc queue logs broken`)."


def test_models_and_param_narrow_the_report(tmp_path: Path):
    result = run_sweep(tmp_path, PCA_SWEEP, "--models", "svm")
    assert [row["model"] for row in table(result.stdout, "model")] == ["svm"]
    result = run_sweep(tmp_path, THREE_KEYS, "--param", "pca.n")
    assert [row["pca.n"] for row in table(result.stdout, "pca.n")] == ["20", "40"]
