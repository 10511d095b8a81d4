"""The README's DVC workflows through the real `dvc` on a copy whose mirror is an MNIST slice."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import optuna
import pytest
import yaml
from conftest import (
    UP_TO_DATE,
    commit_results,
    copy_of,
    dvc,
    experiments,
    isolated_dvc_environment,
    make_small_repo,
    params_of,
    ran,
    run_tool,
    shown,
    tool_env,
)

pytestmark = pytest.mark.slow

FEATURE_STAGES = {"download", "decode", "images", "raw", "normalize", "pca"}
FEATURE_STAGES |= {"normalize_deskewed", "pca_deskewed"}
KNN_SCORES = "metrics/knn/scores/test.json"


class Run(NamedTuple):
    repo: Path
    result: subprocess.CompletedProcess


def pipeline_stages(repo: Path) -> set[str]:
    """Every stage of dvc.yaml, each `foreach: ${models}` expanded over params.yaml's models."""
    models = params_of(repo)["models"]
    names: set[str] = set()
    for name, spec in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].items():
        names |= {f"{name}@{m}" for m in models} if "foreach" in spec else {name}
    return names


def assert_ran_only(result: subprocess.CompletedProcess, features: set[str], *models: str):
    """dvc ran only ``features`` of FEATURE_STAGES, and train and evaluate of ``models`` alone."""
    stages = ran(result)
    own = {s for s in stages if "@" in s}
    assert {f"{kind}@{m}" for m in models for kind in ("train", "evaluate")} <= own, shown(result)
    assert {s.partition("@")[2] for s in own} <= set(models), shown(result)
    assert stages & FEATURE_STAGES == features, shown(result)


def models_on(repo: Path, features: str) -> list[str]:
    return [name for name, m in params_of(repo)["models"].items() if m["features"] == features]


@pytest.fixture(scope="module", autouse=True)
def tool_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with isolated_dvc_environment(tmp_path_factory.mktemp("dvc-site-cache")):
        yield


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A cold `dvc repro` of the small copy, its results committed: the `main` the others copy."""
    repo = make_small_repo(tmp_path_factory.mktemp("cold") / "repo")
    result = dvc(repo, "repro")
    commit_results(repo, "results of the cold run")
    return Run(repo, result)


@pytest.fixture
def reproduced(cold: Run, tmp_path: Path) -> Path:
    return copy_of(cold.repo, tmp_path / "repo")


@pytest.fixture(scope="module")
def pca_experiment(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> Run:
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("exp") / "repo")
    return Run(repo, dvc(repo, "exp", "run", "-S", "pca.n=40", "-n", "pca40"))


def test_cold_repro_runs_every_stage_and_a_second_runs_none(cold: Run, reproduced: Path):
    assert ran(cold.result) == pipeline_stages(cold.repo), shown(cold.result)
    again = dvc(reproduced, "repro")
    assert ran(again) == set() and UP_TO_DATE in again.stdout, shown(again)


def test_exp_run_s_knn_k_reruns_only_the_stages_of_knn(reproduced: Path):
    assert_ran_only(dvc(reproduced, "exp", "run", "-S", "models.knn.k=5"), set(), "knn")


def test_editing_an_estimators_module_reruns_only_the_models_that_use_it(reproduced: Path):
    module = reproduced / "src/mnist_pipeline/estimators/cosine_1nn.py"
    module.write_text(module.read_text() + "\n# edited\n")
    assert_ran_only(dvc(reproduced, "repro"), set(), "nearest", "nearest_pca")


def test_exp_run_s_pca_n_reruns_pca_and_only_the_models_on_its_features(pca_experiment: Run):
    repo, result = pca_experiment
    assert set(models_on(repo, "pca")) == {"nearest_pca", "knn"}
    assert_ran_only(result, {"pca"}, *models_on(repo, "pca"))


def test_metrics_diff_main_branch_lists_the_changed_accuracies_of_pca_models(
    pca_experiment: Run, tmp_path: Path
):
    repo = copy_of(pca_experiment.repo, tmp_path / "repo")
    dvc(repo, "exp", "branch", "pca40", "pca40")
    result = dvc(repo, "metrics", "diff", "main", "pca40", "--json")
    diff = json.loads(result.stdout)
    changed = {path.split("/")[1] for path in diff}
    assert changed <= set(models_on(repo, "pca")), shown(result)
    for model in models_on(repo, "pca"):
        accuracy = diff[f"metrics/{model}/scores/test.json"]["acc"]
        assert accuracy["old"] != accuracy["new"], shown(result)


def test_a_model_added_to_params_yaml_alone_gets_its_stages(reproduced: Path):
    params = params_of(reproduced)
    params["models"]["knn_1"] = {"features": "pca", "estimator": "knn", "k": 1}
    (reproduced / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = dvc(reproduced, "repro")
    assert_ran_only(result, set(), "knn_1")
    overlay = (reproduced / "metrics/overlays/per_class.csv").read_text()
    assert "\nknn_1," in overlay


def queue_states(repo: Path) -> dict[str, str]:
    """`dvc queue status`'s table as {experiment name: status}."""
    status = dvc(repo, "queue", "status").stdout
    pattern = r"^[0-9a-f]{7}\s+(\S+)\s+.*?\s(Queued|Running|Success|Failed)\s*$"
    return dict(re.findall(pattern, status, re.MULTILINE))


def test_a_queued_sweep_run_by_two_workers_gives_two_experiments(cold: Run, tmp_path: Path):
    repo = copy_of(cold.repo, tmp_path / "repo")
    queued = dvc(repo, "exp", "run", "--queue", "-S", "models.knn.k=1,2")
    names = set(re.findall(r"^Queued experiment '([^']+)'", queued.stdout, re.MULTILINE))
    assert len(names) == 2, shown(queued)
    log = tmp_path / "queue-start.log"
    with log.open("w") as output:  # the workers inherit it: a pipe would be held until they exit
        start = ["dvc", "queue", "start", "-j", "2"]
        started = subprocess.run(start, cwd=repo, env=tool_env(), stdout=output, stderr=output)
    assert started.returncode == 0, log.read_text()
    deadline = time.monotonic() + 300
    try:
        while {queue_states(repo).get(n) for n in names} & {None, "Queued", "Running"}:
            if time.monotonic() > deadline:
                logs = [dvc(repo, "queue", "logs", n, check=False).stdout for n in names]
                raise AssertionError(f"queue not done: {queue_states(repo)}\n{logs}")
            time.sleep(2)
    finally:
        dvc(repo, "queue", "stop", "--kill", check=False)
    exps = [experiments(repo)[name] for name in names]
    assert sorted(exp["params"]["models"]["knn"]["k"] for exp in exps) == [1, 2]
    for exp in exps:  # exp show reads each one's params and scores
        assert exp["error"] is None and 0 < exp["metrics"][KNN_SCORES]["acc"] <= 1, exps


def test_live_metrics_show_a_step_above_zero_while_train_runs(reproduced: Path):
    summary = reproduced / "metrics/cnn/live/metrics.json"
    run = subprocess.Popen(
        ["dvc", "exp", "run", "-S", "models.cnn.epochs=3", "train@cnn"],
        cwd=reproduced,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: dict = {}
    try:
        while run.poll() is None:
            try:
                current = json.loads(summary.read_text())
            except (OSError, json.JSONDecodeError):  # dvclive writes it in place
                current = {}
            if current.get("step", 0) > 0 and run.poll() is None:
                seen = current
                break
            time.sleep(0.05)
        output, _ = run.communicate(timeout=600)
    finally:
        run.kill()
    assert run.returncode == 0, output
    assert seen.get("step", 0) > 0 and set(seen) == {"step", "loss", "val_acc"}, output
    assert json.loads(summary.read_text())["step"] == 3


def study(repo: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{repo}/build/tune/studies.db")


def test_a_tpe_study_runs_each_trial_as_an_experiment_resumes_and_reads_test_once(
    cold: Run, tmp_path: Path
):
    repo = copy_of(cold.repo, tmp_path / "repo")
    tune = [sys.executable, "src/tune.py", "--model", "knn", "-S", "models.knn.k=int(1,8)"]
    tune += ["-S", "pca.n=int(10,50)"]
    # two at a time through DVC's queue, failing in minutes, not CI's hour, if a worker hangs
    run_tool(*tune, "--trials", "3", "--jobs", "2", "--run-timeout", "600", cwd=repo)  # 2, then 1
    resumed = run_tool(*tune, "--trials", "1", cwd=repo)  # one at a time, here
    trials, exps = study(repo, "knn").trials, experiments(repo)
    assert [(t.number, t.state.name) for t in trials] == [(n, "COMPLETE") for n in range(4)]
    for trial in trials:
        exp = exps[f"knn-{trial.number}"]
        assert exp["params"]["models"]["knn"]["k"] == trial.params["models.knn.k"]
        assert exp["params"]["pca"]["n"] == trial.params["pca.n"]
        assert exp["metrics"]["metrics/knn/scores/val.json"]["acc"] == trial.value
    best = max(trials, key=lambda trial: trial.value)
    test = exps[f"knn-{best.number}"]["metrics"][KNN_SCORES]["acc"]
    assert f"Best on val: knn-{best.number}, {best.value:.2%}" in resumed.stdout
    assert resumed.stdout.count("test accuracy") == 1 and f"number: {test:.2%}" in resumed.stdout
    assert f"Promote it: dvc exp apply knn-{best.number}" in resumed.stdout


def test_a_cnn_trial_below_the_median_at_a_step_is_pruned_and_its_run_stopped(
    cold: Run, tmp_path: Path
):
    repo = copy_of(cold.repo, tmp_path / "repo")
    params = params_of(repo)
    params["models"]["cnn"].update(channels=[16, 32], hidden=64)  # steps a poll cannot miss
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit_results(repo, "a cnn of a second an epoch")
    (repo / "build/tune").mkdir(parents=True)
    storage = f"sqlite:///{repo}/build/tune/studies.db"
    cnn = optuna.create_study(study_name="cnn", storage=storage, direction="maximize")
    for rate in (0.2, 1e-5, 1e-5):  # the first learns, the others cannot
        cnn.enqueue_trial({"models.cnn.learning_rate": rate})
    tune = [sys.executable, "src/tune.py", "--model", "cnn", "--trials", "3", "--prune-after", "1"]
    space = ["-S", "models.cnn.learning_rate=log(1e-5,1)", "-S", "models.cnn.epochs=3"]
    result = run_tool(*tune, *space, cwd=repo)
    learnt, *pruned = study(repo, "cnn").trials
    assert learnt.state.name == "COMPLETE" and list(learnt.intermediate_values) == [1, 2, 3]
    for trial in pruned:  # the second also after a pruned run, whose live metrics are left
        assert trial.state.name == "PRUNED" and max(trial.intermediate_values) < 3, result.stderr
        assert f"tune: trial cnn-{trial.number} pruned: val accuracy" in result.stderr
    assert set(experiments(repo)) == {"cnn-0"}
