"""The sweep report (src/sweep.py, mnist_pipeline/tools/sweep.py) on saved `dvc exp show --json`
outputs of the shape dvc 3.67 prints (checked against a real queue: see sweeps.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_main, run_script

from mnist_pipeline.tools.sweep import build_sweep, draw_sweep, parse_exp_show

BASE = "b2ef76d008a9cd1e50928c79dcccb2ea2fb36730"
OTHER = "9122aa1c2e6e1d0f5b0a8c3c4d5e6f708192a3b4"


def params(n: int, k: int = 4, whiten: bool = False) -> dict:
    return {
        "pca": {"n": n, "whiten": whiten},
        "models": {"knn": {"features": "pca", "k": k}, "svm": {"C": 10}},
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
) -> dict:
    """One entry of a baseline's ``experiments`` list."""
    metrics = {
        f"metrics/{model}/scores/test.json": scores_json(acc) for model, acc in (accs or {}).items()
    }
    metrics.update(
        {f"metrics/{model}/scores/val.json": {"data": {"acc": 0.9}} for model in accs or {}}
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
    experiment("wide-n", "success", params(40), {"knn": 0.9612, "svm": 0.99}),
    experiment("tiny-n", "success", params(20), {"knn": 0.9501, "svm": 0.99}),
)


def test_one_swept_parameter_gives_a_row_per_experiment_and_a_column_per_affected_model(
    tmp_path: Path,
):
    """In a fresh Python, as `make sweep` runs it."""
    result = run_sweep(tmp_path, PCA_SWEEP, run=run_script)
    assert (result.returncode, result.stderr) == (0, "")
    assert (
        result.stdout
        == """\
| pca.n | experiment | knn |
|---:|---|---:|
| 20 | tiny-n | 95.01% [94.71, 95.31] |
| 40 | wide-n | 96.12% [95.82, 96.42] |

Test accuracy with its 95% Wilson interval.
The same at every point: svm.
"""
    )
    assert (tmp_path / "out" / "sweep.md").read_text() == result.stdout


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
    assert result.stdout.splitlines()[0] == "| models.knn.k | pca.n | experiment | knn |"


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
    assert result.stdout.splitlines()[2:4] == [
        "| 20 | tiny-n | 95.01% [94.71, 95.31] |",
        "| 40 | wide-n | 96.12% [95.82, 96.42] |",
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
    assert "The report refuses while any\nexperiment is queued or running" in result.stdout


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
