"""The sweep report (src/sweep.py, tools/sweep{,_report}.py) on saved `dvc exp show --json`
outputs of the shape dvc 3.67 prints (checked against a real queue: see sweeps.py): the val
curve chosen from, the chosen point's single test number, the diagnostic test curve, models
chosen on cross-validation or not at all, and the log axis of a learning curve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_main, run_script

from mnist_pipeline.significance import wilson_interval
from mnist_pipeline.tools.sweep import build_sweep, parse_exp_show
from mnist_pipeline.tools.sweep_report import draw_sweep, use_log_axis

BASE = "b2ef76d008a9cd1e50928c79dcccb2ea2fb36730"
OTHER = "9122aa1c2e6e1d0f5b0a8c3c4d5e6f708192a3b4"


def params(n: int, k: int = 4, whiten: bool = False) -> dict:
    return {
        "split": {"validation": 10000},
        "raw": {"validation": 0},
        "pca": {"n": n, "whiten": whiten},
        "models": {
            "knn": {"features": "pca", "k": k},
            "svm": {"C": 10},
            "gd_4": {"features": "raw"},
        },
    }


def scores_json(acc: float) -> dict:
    half = 0.003
    return {
        "data": {
            "acc": acc,
            "acc_lo": round(acc - half, 4),
            "acc_hi": round(acc + half, 4),
            "f1": acc,
        }
    }


def experiment(
    name: str,
    state: str | None,
    values: dict,
    accs: dict[str, float] | None = None,
    error: bool = False,
    val: dict[str, float] | None = None,
    cv: dict[str, float] | None = None,
) -> dict:
    """One entry of a baseline's ``experiments`` list: test accuracies ``accs``, val ones
    ``val`` (default: 0.9 for each model of ``accs``, none for gd_4), cv ones ``cv``."""
    metrics = {
        f"metrics/{model}/scores/test.json": scores_json(acc) for model, acc in (accs or {}).items()
    }
    if val is None:
        val = {model: 0.9 for model in accs or {} if model != "gd_4"}
    metrics.update(
        {f"metrics/{model}/scores/val.json": {"data": {"acc": acc}} for model, acc in val.items()}
    )
    metrics.update(
        {
            f"metrics/{model}/scores/cv.json": {"data": {"acc": acc, "acc_sd": 0.002}}
            for model, acc in (cv or {}).items()
        }
    )
    return {
        "revs": [
            {
                "rev": f"{abs(hash(name)):040x}"[:40],
                "name": name,
                "data": {
                    "rev": "x",
                    "timestamp": None,
                    "params": {"params.yaml": {"data": values}},
                    "metrics": metrics,
                    "deps": {},
                    "outs": {},
                    "meta": {},
                },
                "error": {"msg": "Experiment run failed", "type": ""} if error else None,
                "experiments": None,
            }
        ],
        "executor": None if state is None else {"state": state, "name": "dvc-task"},
        "name": name,
    }


def exp_show(*experiments: dict, other: list[dict] | None = None) -> list[dict]:
    """A `dvc exp show --json` output: the workspace, the baseline, another baseline."""
    shown = [
        {"rev": "workspace", "name": None, "data": {}, "error": None, "experiments": None},
        {"rev": BASE, "name": "main", "data": {}, "error": None, "experiments": list(experiments)},
    ]
    if other is not None:
        shown.append({"rev": OTHER, "name": None, "data": {}, "error": None, "experiments": other})
    return shown


def run_sweep(tmp_path: Path, shown: list[dict], *args: str, run=run_main):
    """src/sweep.py on the saved ``shown``, in this process (``run=run_script``: a fresh one)."""
    source = tmp_path / "exp-show.json"
    source.write_text(json.dumps(shown))
    return run("sweep", "--from-json", source, "--out", tmp_path / "out", *args, cwd=tmp_path)


PCA_SWEEP = exp_show(
    experiment("wide-n", "success", params(40), {"knn": 0.9612, "svm": 0.99}, val={"knn": 0.97}),
    experiment("tiny-n", "success", params(20), {"knn": 0.9501, "svm": 0.99}, val={"knn": 0.96}),
)


def test_one_swept_parameter_gives_the_val_curve_and_the_chosen_points_test_accuracy(
    tmp_path: Path,
):
    """In a fresh Python, as `make sweep` runs it."""
    result = run_sweep(tmp_path, PCA_SWEEP, run=run_script)
    assert (result.returncode, result.stderr) == (0, "")
    assert (
        result.stdout
        == """\
Val accuracy with its 95% Wilson interval, the curve to choose from; in bold, the best point on val of each model.

|   pca.n | experiment   |                       knn |
|--------:|:-------------|--------------------------:|
|      20 | tiny-n       |     96.00% [95.60, 96.37] |
|      40 | wide-n       | **97.00% [96.65, 97.32]** |

Each model's choice, and the test accuracy of the chosen point: the one honest test number of this sweep (test was not looked at to choose).

| model   | chosen on   |   pca.n |          val (cv) acc |        test acc, once |
|:--------|:------------|--------:|----------------------:|----------------------:|
| knn     | val         |      40 | 97.00% [96.65, 97.32] | 96.12% [95.82, 96.42] |

The same at every point: svm.
"""  # noqa: E501
    )
    assert (tmp_path / "out" / "sweep.md").read_text() == result.stdout


def test_the_val_interval_is_wilsons_over_the_val_split_of_split_validation():
    (exp,) = parse_exp_show(exp_show(experiment("e", "success", params(20), {"knn": 0.95})))
    low, high = wilson_interval(9000, 10000)
    val = exp.scores["knn"].val
    assert (val.acc, val.lo, val.hi) == (0.9, round(low, 4), round(high, 4))


def sweep_of(*points: tuple[int, dict, dict, dict | None]):
    """A sweep over pca.n of (n, test accs, val accs, cv accs) points, named e<n>."""
    shown = exp_show(
        *(
            experiment(f"e{n}", "success", params(n), test, val=val, cv=cv)
            for n, test, val, cv in points
        )
    )
    return build_sweep(parse_exp_show(shown))


def test_the_point_is_chosen_on_val_even_where_test_would_choose_another():
    sweep = sweep_of(
        (20, {"knn": 0.950}, {"knn": 0.971}, None),
        (40, {"knn": 0.962}, {"knn": 0.968}, None),
    )
    (choice,) = sweep.choices()
    assert (choice.basis, choice.point.values, choice.point.scores["knn"].test.acc) == (
        "val",
        (20,),
        0.950,
    )


def test_a_tie_on_val_goes_to_the_smaller_value():
    sweep = sweep_of(
        (40, {"knn": 0.962}, {"knn": 0.97}, None),
        (20, {"knn": 0.950}, {"knn": 0.97}, None),
    )
    assert sweep.choices()[0].point.experiment == "e20"


def test_a_model_without_val_is_chosen_on_its_cross_validation():
    sweep = sweep_of(
        (20, {"knn": 0.95}, {}, {"knn": 0.93}),
        (40, {"knn": 0.96}, {}, {"knn": 0.94}),
    )
    (choice,) = sweep.choices()
    assert (choice.basis, choice.point.experiment) == ("cv", "e40")
    report = markdown_of(sweep)
    assert "| knn     | cv          |      40 |  94.00% ± 0.20 | 96.00% [95.70, 96.30] |" in report
    assert "|      40 | e40          | **94.00% ± 0.20** |" in report
    assert "knn has no val split: chosen on its cross-validation accuracy" in report


def test_a_model_without_val_or_cross_validation_is_not_chosen(tmp_path: Path):
    shown = exp_show(
        experiment("e20", "success", params(20), {"knn": 0.95, "gd_4": 0.97}, val={"knn": 0.96}),
        experiment("e40", "success", params(40), {"knn": 0.96, "gd_4": 0.98}, val={"knn": 0.97}),
    )
    result = run_sweep(tmp_path, shown)
    assert result.returncode == 0, result.stderr
    assert "| gd_4    | not chosen: no val split, no cross-validation |" in result.stdout
    assert (
        "gd_4 has no val split and no cross-validation: nothing to choose on without spending "
        "the test set, so no point is chosen."
    ) in result.stdout
    title = draw_sweep(build_sweep(parse_exp_show(shown))).axes[0].get_title()
    assert title.endswith("not chosen (no val split, no cross-validation): gd_4")


def markdown_of(sweep) -> str:
    from mnist_pipeline.tools.sweep_report import markdown_report

    return markdown_report(sweep)


def test_show_test_curve_adds_the_test_accuracy_at_every_point_as_a_diagnostic(tmp_path: Path):
    plain = run_sweep(tmp_path, PCA_SWEEP)
    result = run_sweep(tmp_path, PCA_SWEEP, "--show-test-curve")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(plain.stdout)
    assert result.stdout[len(plain.stdout) :] == (
        "\n"
        "Diagnostic, not for choosing: test accuracy with its 95% Wilson interval at every "
        "point. A value picked from this table has no honest test score left.\n"
        "\n"
        "|   pca.n | experiment   |                   knn |\n"
        "|--------:|:-------------|----------------------:|\n"
        "|      20 | tiny-n       | 95.01% [94.71, 95.31] |\n"
        "|      40 | wide-n       | 96.12% [95.82, 96.42] |\n"
    )
    axes = draw_sweep(build_sweep(parse_exp_show(PCA_SWEEP)), show_test_curve=True).axes
    assert [ax.get_title() for ax in axes] == [
        "Val accuracy against pca.n: choose here (star: best on val)",
        "Diagnostic, not for choosing: test accuracy at every point",
    ]


def test_the_chosen_point_is_starred_on_the_val_curve():
    ax = draw_sweep(build_sweep(parse_exp_show(PCA_SWEEP))).axes[0]
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1
    assert list(stars[0].get_xdata()) == pytest.approx([40], rel=0.01)
    assert list(stars[0].get_ydata()) == [97.0]


def learning_curve(sizes: list) -> list[dict]:
    return exp_show(
        *(
            experiment(
                f"n{size}",
                "success",
                {**params(60), "split": {"validation": 10000, "train": size}},
                {"knn": 0.8 + i / 100},
                val={"knn": 0.8 + i / 100},
            )
            for i, size in enumerate(sizes)
        )
    )


def test_a_training_set_size_from_500_to_50000_is_drawn_on_a_log_axis():
    sweep = build_sweep(parse_exp_show(learning_curve([500, 1000, 5000, 50000])))
    assert sweep.params == ("split.train",)
    assert use_log_axis(sweep)
    ax = draw_sweep(sweep).axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["500", "1000", "5000", "50000"]
    assert ax.get_xlabel() == "split.train (log scale)"


def test_pca_n_from_10_to_100_stays_linear_unless_told():
    sweep = build_sweep(parse_exp_show(learning_curve([10, 50, 100])))
    assert not use_log_axis(sweep)
    assert use_log_axis(sweep, "log")
    assert draw_sweep(sweep, x_scale="log").axes[0].get_xscale() == "log"


def test_models_restricts_the_report_and_names_an_unknown_one(tmp_path: Path):
    result = run_sweep(tmp_path, PCA_SWEEP, "--models", "svm")
    assert result.returncode == 0, result.stderr
    assert "knn" not in result.stdout
    assert "| svm     | not chosen: no val split, no cross-validation |" in result.stdout
    bad = run_sweep(tmp_path, PCA_SWEEP, "--models", "cnn")
    assert (bad.returncode, bad.stderr) == (
        1,
        "sweep: error: cnn: no model of that name has scores in the sweep\n",
    )


def test_the_png_is_the_same_bytes_on_a_second_run(tmp_path: Path):
    assert run_sweep(tmp_path, PCA_SWEEP).returncode == 0
    first = (tmp_path / "out" / "sweep.png").read_bytes()
    assert run_sweep(tmp_path, PCA_SWEEP).returncode == 0
    assert first.startswith(b"\x89PNG")
    assert (tmp_path / "out" / "sweep.png").read_bytes() == first


def test_a_grid_of_two_parameters_draws_one_line_per_value_of_the_second():
    shown = exp_show(
        *(
            experiment(
                f"e{n}-{k}", "success", params(n, k), {"knn": 0.9 + n / 1000 + k / 100, "svm": 0.99}
            )
            for n in (20, 40)
            for k in (1, 4)
        )
    )
    sweep = build_sweep(parse_exp_show(shown), ["pca.n", "models.knn.k"])
    labels = [text.get_text() for text in draw_sweep(sweep).axes[0].get_legend().get_texts()]
    assert labels == ["knn, models.knn.k=1", "knn, models.knn.k=4"]
    assert [point.values for point in sweep.points] == [(20, 1), (20, 4), (40, 1), (40, 4)]


def test_two_varying_parameters_are_found_without_param(tmp_path: Path):
    shown = exp_show(
        *(
            experiment(f"e{n}-{k}", "success", params(n, k), {"knn": n / 100 + k})
            for n in (20, 40)
            for k in (1, 4)
        )
    )
    result = run_sweep(tmp_path, shown)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split() == [
        "|",
        "models.knn.k",
        "|",
        "pca.n",
        "|",
        "experiment",
        "|",
        "knn",
        "|",
    ]


def test_more_than_two_varying_parameters_ask_for_param(tmp_path: Path):
    shown = exp_show(
        experiment("a", "success", params(20, 1, False), {"knn": 0.9}),
        experiment("b", "success", params(40, 4, True), {"knn": 0.8}),
    )
    result = run_sweep(tmp_path, shown)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "sweep: error: 3 parameters differ between the experiments "
        "(models.knn.k, pca.n, pca.whiten); name one or two with --param\n"
    )
    assert run_sweep(tmp_path, shown, "--param", "pca.n").returncode == 0


def test_refuses_while_an_experiment_is_queued_or_running(tmp_path: Path):
    shown = exp_show(
        experiment("done", "success", params(20), {"knn": 0.9}),
        experiment("waiting", "queued", params(30)),
        experiment("busy", "running", params(40)),
    )
    result = run_sweep(tmp_path, shown)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "sweep: error: 2 experiment(s) not finished: waiting (queued), busy (running); wait "
        "until `dvc queue status` shows none queued or running\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_failed_experiment_is_named_with_its_queue_logs_and_left_out(tmp_path: Path):
    shown = exp_show(
        *PCA_SWEEP[1]["experiments"], experiment("broken", "failed", params(0), error=True)
    )
    result = run_sweep(tmp_path, shown)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "sweep: warning: experiment broken failed and is left out; see `dvc queue logs broken`\n"
    )
    assert result.stdout.splitlines()[4:6] == [
        "|      20 | tiny-n       |     96.00% [95.60, 96.37] |",
        "|      40 | wide-n       | **97.00% [96.65, 97.32]** |",
    ]
    assert result.stdout.splitlines()[-1] == (
        "Failed, not shown: broken (see `dvc queue logs broken`)."
    )


def test_experiments_of_other_baselines_are_ignored_unless_all_baselines(tmp_path: Path):
    shown = exp_show(
        *PCA_SWEEP[1]["experiments"], other=[experiment("elsewhere", "queued", params(80))]
    )
    assert run_sweep(tmp_path, shown).returncode == 0
    result = run_sweep(tmp_path, shown, "--all-baselines")
    assert result.returncode == 1
    assert "elsewhere (queued)" in result.stderr


def test_an_experiment_run_in_the_workspace_has_no_executor_and_counts_as_done():
    shown = exp_show(experiment("direct", None, params(50), {"knn": 0.97}))
    assert [(e.name, e.state) for e in parse_exp_show(shown)] == [("direct", "success")]


def test_no_experiments_is_an_error(tmp_path: Path):
    result = run_sweep(tmp_path, exp_show())
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("sweep: error: no experiments to report: queue some with")


def test_an_unknown_param_is_an_error(tmp_path: Path):
    result = run_sweep(tmp_path, PCA_SWEEP, "--param", "pca.m")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "sweep: error: pca.m: not a parameter of params.yaml in these experiments\n"
    )


def test_help_explains_the_refusal_and_the_failed_experiments():
    result = run_main("sweep", "--help")
    assert result.returncode == 0
    assert "The report refuses while any experiment is queued or running" in " ".join(
        result.stdout.split()
    )
    assert "--show-test-curve" in result.stdout


@pytest.mark.parametrize("state", ["Queued", "RUNNING"])
def test_states_are_read_case_insensitively(state: str):
    shown = exp_show(experiment("x", state, params(20)))
    assert parse_exp_show(shown)[0].state == state.lower()


def test_a_single_successful_experiment_says_no_change_can_be_seen(tmp_path: Path):
    shown = exp_show(
        experiment("only", "success", params(20), {"knn": 0.95}),
        experiment("broken", "failed", params(0), error=True),
    )
    result = run_sweep(tmp_path, shown)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "Only one experiment succeeded: no change can be seen.",
        "Failed, not shown: broken (see `dvc queue logs broken`).",
    ]
