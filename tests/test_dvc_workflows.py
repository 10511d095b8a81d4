"""The DVC workflows of the README, driven through the real `dvc` and `git` command lines.

Every test works in a temporary copy of the repository (`conftest.copy_repo`) whose download
mirror is a small slice of the shipped MNIST (3,000 training and 500 test images, 500 of the
training images held out for validation), so a cold `dvc repro` of every stage and every
model takes about a minute. Which stages ran is read from dvc's own output ("Running
stage ...", "Stage ... is cached - skipping run ...") and from `dvc.lock`.

Where DVC does not do what one would assume, the test asserts what it really does and its
docstring says why.

The stages whose reruns are asserted exactly are the "core" ones (download, decode, normalize,
pca, their deskewed twins, train@<model>, evaluate@<model>); stages that summarise several
models may be added to dvc.yaml without breaking these tests, but a stage of another model
(`<stage>@<model>`) never reruns when one model's parameters change.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from conftest import (
    UP_TO_DATE,
    commit_results,
    copy_of,
    dvc,
    experiments,
    file_tree,
    git,
    isolated_dvc_environment,
    make_small_repo,
    params_of,
    ran,
    run_script,
    shown,
    tool_env,
)

pytestmark = pytest.mark.slow

DATA_STAGES = ("download", "decode", "normalize")
CORE_STAGES = (*DATA_STAGES, "raw", "pca", "normalize_deskewed", "pca_deskewed")
CORE_FOREACH = ("train", "evaluate")
OVER_EVERY_MODEL = {"figures", "overlays", "summary"}
"""The stages that read every model's evaluation (the whole stages/evaluate folder)."""
QUEUE_TIMEOUT = 300.0


class Run(NamedTuple):
    repo: Path
    result: subprocess.CompletedProcess


# ---------------------------------------------------------------------------------------------
# Helpers


def restored(result: subprocess.CompletedProcess) -> set[str]:
    """The stages dvc restored from its cache instead of running them."""
    return set(
        re.findall(r"^Stage '([^']+)' is cached - skipping run", result.stdout, re.MULTILINE)
    )


def skipped(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"^Stage '([^']+)' didn't change, skipping", result.stdout, re.MULTILINE))


def core(stages: set[str]) -> set[str]:
    return {s for s in stages if s in CORE_STAGES or s.partition("@")[0] in CORE_FOREACH}


def of_models(stages: set[str], models: list[str]) -> set[str]:
    """The stages, of any kind, generated for these models (`<stage>@<model>`)."""
    return {s for s in stages if "@" in s and s.partition("@")[2] in models}


def set_param(repo: Path, dotted: str, value: Any) -> None:
    """Set one key of the copy's params.yaml, as a user editing the file would."""
    params = params_of(repo)
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def model_stages(*models: str) -> set[str]:
    return {f"{kind}@{model}" for model in models for kind in ("train", "evaluate")}


def every_stage_of(*models: str) -> set[str]:
    """A model's own stages: its train and evaluate, and the package made of both."""
    return model_stages(*models) | {f"package@{model}" for model in models}


def models_on(repo: Path, features: str) -> list[str]:
    return [
        name for name, model in params_of(repo)["models"].items() if model["features"] == features
    ]


def pipeline_stages(repo: Path) -> set[str]:
    """Every stage of dvc.yaml, each `foreach: ${models}` expanded over params.yaml's models."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    models = params_of(repo)["models"]
    names: set[str] = set()
    for name, spec in stages.items():
        if "foreach" in spec:
            assert spec["foreach"] == "${models}", f"stage {name}: unexpected foreach"
            names |= {f"{name}@{model}" for model in models}
        else:
            names.add(name)
    return names


def stages_with_uncached_plain_outs(repo: Path) -> set[str]:
    """The stages listing a `cache: false` file under `outs:` (not under metrics/plots)."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    found = set()
    for name, spec in stages.items():
        outs = spec.get("do", spec).get("outs", [])
        if any(
            isinstance(out, dict) and any(o.get("cache") is False for o in out.values())
            for out in outs
        ):
            found |= {s for s in pipeline_stages(repo) if s.partition("@")[0] == name}
    return found


def lock_stages(repo: Path) -> dict[str, dict]:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def changed_lock_entries(before: dict[str, dict], after: dict[str, dict]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def queue_states(status: str) -> dict[str, str]:
    """`dvc queue status`'s table as {experiment name: status}."""
    rows = re.findall(
        r"^[0-9a-f]{7}\s+(\S+)\s+.*?\s(Queued|Running|Success|Failed)\s*$", status, re.MULTILINE
    )
    return dict(rows)


def wait_for_queue(repo: Path, names: set[str], timeout: float = QUEUE_TIMEOUT) -> dict[str, str]:
    """Poll `dvc queue status` until every named experiment has finished; their states."""
    deadline = time.monotonic() + timeout
    while True:
        status = dvc(repo, "queue", "status")
        states = queue_states(status.stdout)
        if names <= states.keys() and not {states[n] for n in names} & {"Queued", "Running"}:
            return {name: states[name] for name in names}
        if time.monotonic() > deadline:
            logs = [dvc(repo, "queue", "logs", name, check=False) for name in names]
            raise AssertionError(f"queue not done after {timeout:.0f} s" + shown(status, *logs))
        time.sleep(2)


def stop_queue_workers(repo: Path) -> None:
    """Ask the queue's workers to exit (they would after 10 s idle anyway)."""
    dvc(repo, "queue", "stop", check=False)


def run_concurrently(*jobs: tuple[tuple[str, ...], Path]) -> list[subprocess.CompletedProcess]:
    """Run commands side by side, so that a stage's single thread leaves no core idle; like
    `run_tool`, a failure shows what the command printed."""
    started = []
    for args, cwd in jobs:
        out = (cwd.parent / f"{cwd.name}.stdout").open("w+")
        err = (cwd.parent / f"{cwd.name}.stderr").open("w+")
        proc = subprocess.Popen(
            list(args), cwd=cwd, env=tool_env(), stdout=out, stderr=err, text=True
        )
        started.append((args, proc, out, err))
    results = []
    for args, proc, out, err in started:
        proc.wait()
        with out, err:
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(
                list(args), proc.returncode, out.read(), err.read()
            )
        if result.returncode != 0:
            raise AssertionError("command failed" + shown(result))
        results.append(result)
    return results


# ---------------------------------------------------------------------------------------------
# Fixtures: each expensive state is built once and copied by the tests that change it.


@pytest.fixture(scope="module", autouse=True)
def tool_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """dvc's per-repository index and state databases of the many temporary copies go to a
    temporary folder, not /var/tmp/dvc. One BLAS thread per stage: on two cores and this
    small data, threads cost more than they save (a cold run alone: about 50 s instead of
    70 s), and two cold runs go side by side."""
    with isolated_dvc_environment(tmp_path_factory.mktemp("dvc-site-cache")):
        yield


@pytest.fixture(scope="module")
def small_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_repo(tmp_path_factory.mktemp("small") / "repo")


@pytest.fixture(scope="module")
def cold_runs(small_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """Two cold `dvc repro`s, each in its own copy, run side by side; the first copy then
    commits its results, as the `main` that the other tests start from."""
    repos = [
        copy_of(small_repo, tmp_path_factory.mktemp(name) / "repo")
        for name in ("cold", "cold-twin")
    ]
    results = run_concurrently(*((("dvc", "repro"), repo) for repo in repos))
    commit_results(repos[0], "results of the cold run")
    return Run(repos[0], results[0]), Run(repos[1], results[1])


@pytest.fixture(scope="module")
def cold(cold_runs: tuple[Run, Run]) -> Run:
    return cold_runs[0]


@pytest.fixture
def reproduced(cold: Run, tmp_path: Path) -> Path:
    """A private copy of `main` after the cold run, results committed."""
    return copy_of(cold.repo, tmp_path / "repo")


@pytest.fixture(scope="module")
def pca_experiment(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> Run:
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("exp") / "repo")
    return Run(repo, dvc(repo, "exp", "run", "-S", "pca.n=40"))


@pytest.fixture(scope="module")
def pca40_branch(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`main` plus a branch `pca40` with `pca.n: 40`, reproduced and committed, checked out."""
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("branch") / "repo")
    git(repo, "checkout", "-q", "-b", "pca40")
    set_param(repo, "pca.n", 40)
    dvc(repo, "repro")
    commit_results(repo, "pca.n: 40")
    return repo


@pytest.fixture
def back_on_main(pca40_branch: Path, tmp_path: Path) -> Path:
    """A copy of the pca40 branch after `git checkout main` (the workspace still holds the
    branch's outputs)."""
    repo = copy_of(pca40_branch, tmp_path / "repo")
    git(repo, "checkout", "-q", "main")
    return repo


@pytest.fixture(scope="module")
def pca_queue(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("queue") / "repo")
    queued = dvc(repo, "exp", "run", "--queue", "-S", "pca.n=20,40")
    names = set(re.findall(r"^Queued experiment '([^']+)'", queued.stdout, re.MULTILINE))
    started = dvc(repo, "queue", "start", "-j", "2")
    try:
        states = wait_for_queue(repo, names)
        yield {"repo": repo, "names": names, "states": states, "output": (queued, started)}
    finally:
        stop_queue_workers(repo)


PROBE = "queue_probe"
PROBE_SCRIPT = """\
import json
from pathlib import Path

accuracy = json.loads(Path("metrics/knn/scores/test.json").read_text())["acc"]
Path("stages/queue_probe.txt").write_text(f"knn test accuracy {accuracy}\\n")
"""


@pytest.fixture(scope="module")
def queued_new_script(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A new stage in dvc.yaml (a change to a tracked file) whose script is a new file: one
    experiment queued while the script is untracked, one after a mere `git add` of it."""
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("untracked") / "repo")
    script = repo / "src" / f"{PROBE}.py"
    assert not script.exists()
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    pipeline["stages"][PROBE] = {
        "cmd": f"python src/{PROBE}.py",
        "deps": [f"src/{PROBE}.py", "metrics/knn/scores/test.json"],
        "outs": [f"stages/{PROBE}.txt"],
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    script.write_text(PROBE_SCRIPT)
    untracked = dvc(repo, "exp", "run", "--queue", "-n", "not-added")
    git(repo, "add", f"src/{PROBE}.py")
    staged = dvc(repo, "exp", "run", "--queue", "-n", "added")
    dvc(repo, "queue", "start", "-j", "2")
    try:
        states = wait_for_queue(repo, {"not-added", "added"})
        logs = {
            name: dvc(repo, "queue", "logs", name, check=False) for name in ("not-added", "added")
        }
        yield {"repo": repo, "states": states, "logs": logs, "queued": (untracked, staged)}
    finally:
        stop_queue_workers(repo)


@pytest.fixture(scope="module")
def shared(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Machine A pushes to a DVC remote (a local folder) and a bare git origin; machine B
    clones origin and runs `dvc repro --pull`."""
    base = tmp_path_factory.mktemp("shared")
    a = copy_of(cold.repo, base / "machine-a")
    remote, origin = base / "dvc-remote", base / "origin.git"
    git(base, "init", "-q", "--bare", "-b", "main", origin)
    dvc(a, "remote", "add", "-d", "shared", remote)
    git(a, "add", ".dvc/config")
    git(a, "commit", "-q", "-m", "DVC remote")
    git(a, "remote", "add", "origin", origin)
    steps = {
        "repro": dvc(a, "repro"),
        "push --run-cache": dvc(a, "push", "--run-cache"),
        "push": dvc(a, "push"),
        "git push": git(a, "push", "-q", "origin", "main"),
        "clone": git(base, "clone", "-q", origin, base / "machine-b"),
    }
    b = base / "machine-b"
    metrics_after_clone = file_tree(b / "metrics")
    steps["repro --pull"] = dvc(b, "repro", "--pull")
    return {
        "a": a,
        "b": b,
        "remote": remote,
        "steps": steps,
        "metrics_after_clone": metrics_after_clone,
    }


# ---------------------------------------------------------------------------------------------
# 1. Cold and warm `dvc repro`


def test_cold_repro_runs_every_stage(cold: Run):
    expected = pipeline_stages(cold.repo)
    assert {"download", "decode", "normalize", "pca"} <= expected
    assert ran(cold.result) == expected, shown(cold.result)
    assert set(lock_stages(cold.repo)) == expected


def test_second_repro_runs_no_stage(reproduced: Path):
    result = dvc(reproduced, "repro")
    assert ran(result) == set(), shown(result)
    assert UP_TO_DATE in result.stdout, shown(result)


# 2. A model's parameter


def test_changing_knn_k_reruns_only_train_and_evaluate_of_knn(reproduced: Path):
    before = lock_stages(reproduced)
    set_param(reproduced, "models.knn.k", 5)
    result = dvc(reproduced, "repro")
    assert core(ran(result)) == model_stages("knn"), shown(result)
    others = [m for m in params_of(reproduced)["models"] if m != "knn"]
    assert of_models(ran(result), others) == set(), shown(result)
    changed = changed_lock_entries(before, lock_stages(reproduced))
    assert core(changed) == model_stages("knn")


def test_editing_an_estimators_module_reruns_only_the_models_that_use_it(reproduced: Path):
    module = reproduced / "src/mnist_pipeline/estimators/cosine_1nn.py"
    module.write_text(module.read_text() + "\n# edited\n")
    users = [
        name
        for name, model in params_of(reproduced)["models"].items()
        if model["estimator"] == "cosine_1nn"
    ]
    assert set(users) == {"nearest", "nearest_pca"}
    result = dvc(reproduced, "repro")
    assert core(ran(result)) == model_stages(*users), shown(result)


# 3. `dvc exp run -S`


def test_exp_run_gd_4_learning_rate_reruns_only_gd_4_and_the_stages_over_every_model(
    reproduced: Path,
):
    result = dvc(reproduced, "exp", "run", "-S", "models.gd_4.learning_rate=0.00002")
    assert ran(result) == every_stage_of("gd_4") | OVER_EVERY_MODEL, shown(result)


def test_exp_run_pca_n_reruns_pca_and_only_the_models_on_pca_features(pca_experiment: Run):
    repo, result = pca_experiment
    pca_models = models_on(repo, "pca")
    assert set(pca_models) == {"nearest_pca", "knn"}
    assert core(ran(result)) == {"pca"} | model_stages(*pca_models), shown(result)
    assert set(DATA_STAGES) <= skipped(result), shown(result)
    others = [m for m in params_of(repo)["models"] if m not in pca_models]
    assert of_models(ran(result), others) == set(), shown(result)


def test_exp_show_reports_the_experiments_pca_n_and_metrics(pca_experiment: Run):
    repo, result = pca_experiment
    name = re.search(r"^Ran experiment\(s\): (\S+)", result.stdout, re.MULTILINE)
    assert name, shown(result)
    exps = experiments(repo)
    assert name[1] in exps, f"{name[1]} not in {sorted(exps)}" + shown(result)
    exp = exps[name[1]]
    assert exp["error"] is None, exp["error"]
    assert exp["params"]["pca"]["n"] == 40
    for model in params_of(repo)["models"]:
        assert 0 < exp["metrics"][f"metrics/{model}/scores/test.json"]["acc"] <= 1


# 3b. A model added through params.yaml alone

NEW_MODELS = {
    "knn_1": {"features": "pca", "estimator": "knn", "k": 1},
    "sgd_3": {"features": "normalize", "estimator": "sgd", "target": 3, "random_state": 0},
}
"""A classifier and a detector that params.yaml does not have, each of a kind of overlay."""


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def added_models(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of `main` with `NEW_MODELS` added to params.yaml, and nothing else edited:
    `dvc status` before, `dvc repro`, then `dvc status` after."""
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("added") / "repo")
    params = params_of(repo)
    params["models"].update(NEW_MODELS)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = json.loads(dvc(repo, "status", "--json").stdout)
    repro = dvc(repo, "repro")
    after = json.loads(dvc(repo, "status", "--json").stdout)
    return {"repo": repo, "before": before, "repro": repro, "after": after}


def test_dvc_status_lists_a_new_models_stages_and_every_stage_over_all_models(added_models):
    expected = every_stage_of(*NEW_MODELS) | OVER_EVERY_MODEL
    assert set(added_models["before"]) == expected, added_models["before"]
    assert ran(added_models["repro"]) == expected, shown(added_models["repro"])
    assert added_models["after"] == {}


def test_the_overlays_hold_the_new_models_with_their_own_values(added_models):
    repo = added_models["repo"]
    classes = read_rows(repo / "metrics/overlays/per_class.csv")
    models = params_of(repo)["models"]
    classifiers = [name for name, model in models.items() if "target" not in model]
    assert list(dict.fromkeys(row["model"] for row in classes)) == classifiers
    assert classifiers[-1] == "knn_1"
    own = read_rows(repo / "metrics/knn_1/per_class.csv")
    assert [row["test"] for row in classes if row["model"] == "knn_1"] == [r["test"] for r in own]
    curves = read_rows(repo / "metrics/overlays/pr_curve.csv")
    detectors = [name for name, model in models.items() if "target" in model]
    assert list(dict.fromkeys(row["model"] for row in curves)) == detectors
    own = read_rows(repo / "metrics/sgd_3/pr_curve.csv")
    assert [(r["recall"], r["precision"]) for r in curves if r["model"] == "sgd_3"] == [
        (r["recall"], r["precision"]) for r in own
    ]


def test_the_summary_and_figures_draw_the_new_models(added_models):
    repo = added_models["repo"]
    accuracy = {
        name: json.loads((repo / f"metrics/{name}/scores/test.json").read_text())["acc"]
        for name in NEW_MODELS
    }
    logged = re.search(
        r"^summary: test accuracy of (\d+) models: (.*); pictures",
        added_models["repro"].stderr,
        re.MULTILINE,
    )
    assert logged, shown(added_models["repro"])
    assert int(logged.group(1)) == len(params_of(repo)["models"])
    assert logged.group(2).endswith(
        ", ".join(f"{name} {value:.4f}" for name, value in accuracy.items())
    )
    for name in NEW_MODELS:
        assert (repo / f"plots/figures/{name}/misclassified.png").is_file()


# 4. Comparing a branch with main


def test_metrics_diff_main_branch_lists_changed_accuracies_of_pca_models_only(pca40_branch: Path):
    result = dvc(pca40_branch, "metrics", "diff", "main", "pca40", "--json")
    diff = json.loads(result.stdout)
    pca_models = models_on(pca40_branch, "pca")
    score_files = {
        f"metrics/{m}/scores/{split}.json" for m in pca_models for split in ("test", "val")
    }
    assert {f"metrics/{m}/scores/test.json" for m in pca_models} <= set(diff) <= score_files, shown(
        result
    )
    for model in pca_models:
        accuracy = diff[f"metrics/{model}/scores/test.json"].get("acc")
        assert accuracy and accuracy["old"] != accuracy["new"], shown(result)


def test_params_diff_main_branch_lists_only_pca_n(pca40_branch: Path):
    result = dvc(pca40_branch, "params", "diff", "main", "pca40", "--json")
    assert json.loads(result.stdout) == {
        "params.yaml": {"pca.n": {"old": 60, "new": 40, "diff": -20}}
    }, shown(result)


# 5. Back to main


def test_back_on_main_dvc_checkout_then_repro_runs_nothing(back_on_main: Path):
    checkout = dvc(back_on_main, "checkout")
    result = dvc(back_on_main, "repro")
    assert ran(result) == set(), shown(checkout, result)
    assert UP_TO_DATE in result.stdout, shown(checkout, result)


def test_back_on_main_repro_restores_from_the_run_cache_without_running(back_on_main: Path):
    """Without `dvc checkout`, `dvc repro` finds main's runs of pca and of the PCA models in
    the run-cache and checks their outputs out instead of running them. This holds because
    no stage lists a `cache: false` file under plain `outs:` (metrics and plots are exempt):
    DVC saves no run-cache entry for such a stage and would run it again."""
    result = dvc(back_on_main, "repro")
    assert ran(result) == set(), shown(result)
    pca_stages = model_stages(*models_on(back_on_main, "pca"))
    assert {"pca"} | pca_stages <= restored(result), shown(result)


def test_every_stage_has_a_run_cache_entry_after_a_cold_run(cold: Run):
    commands = {entry["cmd"]: name for name, entry in lock_stages(cold.repo).items()}
    entries = [
        yaml.safe_load(p.read_text())
        for p in (cold.repo / ".dvc" / "cache" / "runs").rglob("*")
        if p.is_file()
    ]
    assert stages_with_uncached_plain_outs(cold.repo) == set()
    assert {commands[entry["cmd"]] for entry in entries} == pipeline_stages(cold.repo)


# 6. Determinism


def test_two_cold_runs_in_separate_copies_give_byte_identical_metrics(cold_runs: tuple[Run, Run]):
    first, second = (file_tree(run.repo / "metrics") for run in cold_runs)
    assert sorted(first) == sorted(second)
    differing = sorted(name for name in first if first[name] != second[name])
    assert differing == []


# 7. The experiment queue


def test_queued_sweep_run_by_two_workers_gives_two_successful_experiments(pca_queue: dict):
    queued, started = pca_queue["output"]
    assert len(pca_queue["names"]) == 2, shown(queued)
    assert set(pca_queue["states"].values()) == {"Success"}, f"{pca_queue['states']}" + shown(
        queued, started
    )
    exps = experiments(pca_queue["repo"])
    ours = {name: exps.get(name) for name in pca_queue["names"]}
    assert all(
        exp and exp["state"] == "success" and exp["error"] is None for exp in ours.values()
    ), ours
    assert sorted(exp["params"]["pca"]["n"] for exp in ours.values()) == [20, 40]
    accuracies = {
        exp["metrics"]["metrics/nearest_pca/scores/test.json"]["acc"] for exp in ours.values()
    }
    assert len(accuracies) == 2, ours


def test_queued_experiment_does_not_see_an_untracked_file(queued_new_script: dict):
    """A queued experiment runs in a clone of git's view of the workspace: changes to tracked
    files are in it, untracked files are not. DVC says nothing when queueing; the
    experiment fails when run, and only `dvc queue logs` says why."""
    repo, log = queued_new_script["repo"], queued_new_script["logs"]["not-added"]
    assert (repo / "src" / f"{PROBE}.py").is_file()
    assert queued_new_script["states"]["not-added"] == "Failed", shown(log)
    assert re.search(
        rf"ERROR: failed to reproduce '{PROBE}': \[Errno 2\] No such file or "
        rf"directory: '\S+/src/{PROBE}\.py'",
        log.stdout + log.stderr,
    ), shown(log)
    queued = queued_new_script["queued"][0]
    printed = queued.stdout + queued.stderr
    assert "WARNING" not in printed and PROBE not in printed, shown(queued)


def test_queued_experiment_sees_a_new_file_once_it_is_only_staged(queued_new_script: dict):
    log = queued_new_script["logs"]["added"]
    assert queued_new_script["states"]["added"] == "Success", shown(log)
    assert f"Running stage '{PROBE}'" in log.stdout, shown(log)


# 8. Sharing results between machines


def test_clone_repro_pull_computes_nothing_and_has_every_output(shared: dict):
    result = shared["steps"]["repro --pull"]
    assert ran(result) == set(), shown(result)
    assert UP_TO_DATE in result.stdout, shown(result)
    assert file_tree(shared["b"] / "stages") == file_tree(shared["a"] / "stages")
    status = dvc(shared["b"], "status")
    assert UP_TO_DATE in status.stdout, shown(status)


def test_clone_has_the_metrics_from_git_before_any_dvc_command(shared: dict):
    assert shared["metrics_after_clone"] == file_tree(shared["a"] / "metrics")


def test_push_run_cache_alone_pushes_the_outputs_too(shared: dict):
    """`dvc push --run-cache` uploads the workspace's outputs as well as the run-cache: the
    `dvc push` after it has nothing left to send."""
    push_run_cache, push = shared["steps"]["push --run-cache"], shared["steps"]["push"]
    assert re.search(r"^\d+ files? pushed", push_run_cache.stdout, re.MULTILINE), shown(
        push_run_cache
    )
    assert "Everything is up to date." in push.stdout, shown(push_run_cache, push)
    assert any((shared["remote"] / "runs").rglob("*")), shown(push_run_cache)


# ---------------------------------------------------------------------------------------------
# 9. Leaderboard, compare and sweep (src/leaderboard.py, src/compare.py, src/sweep.py) on real
# branches, experiments and queues


COMPARE_ROW = re.compile(
    r"^(\S+)\s+([\d.]+)%\s+([\d.]+)%\s+([+-][\d.]+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)"
    r"\s+(significant|not significant)$",
    re.MULTILINE,
)


def compare_rows(result: subprocess.CompletedProcess) -> dict[str, tuple[str, ...]]:
    """compare's table as {model: (A acc, B acc, B - A, right in A only, right in B only, p,
    Holm p, detectable, verdict)}."""
    return {row[0]: row[1:] for row in COMPARE_ROW.findall(result.stdout)}


def committed_predictions(repo: Path, rev: str, model: str) -> list[tuple[str, str]]:
    text = git(repo, "show", f"{rev}:metrics/{model}/predictions/test.csv").stdout
    return [tuple(line.split(",")) for line in text.splitlines()[1:]]


@pytest.fixture(scope="module")
def knn_k1_branch(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`main` plus a branch `knn-k1` with `models.knn.k: 1`, reproduced and committed."""
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("knn-k1") / "repo")
    git(repo, "checkout", "-q", "-b", "knn-k1")
    set_param(repo, "models.knn.k", 1)
    dvc(repo, "repro")
    commit_results(repo, "models.knn.k: 1")
    return repo


@pytest.fixture(scope="module")
def sweep_with_failure(cold: Run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One queued experiment that succeeds (pca.n=20) and one that fails (pca.n=0 is refused
    by the params check), both run by the queue."""
    repo = copy_of(cold.repo, tmp_path_factory.mktemp("sweep-failure") / "repo")
    dvc(repo, "exp", "run", "--queue", "-n", "n20", "-S", "pca.n=20")
    dvc(repo, "exp", "run", "--queue", "-n", "broken", "-S", "pca.n=0")
    dvc(repo, "queue", "start", "-j", "2")
    try:
        states = wait_for_queue(repo, {"n20", "broken"})
        yield {"repo": repo, "states": states}
    finally:
        stop_queue_workers(repo)


def test_compare_of_two_identical_revisions_gives_no_flips_and_p_1(reproduced: Path):
    git(reproduced, "branch", "same")
    result = run_script("compare", "main", "same", cwd=reproduced)
    assert result.returncode == 0, shown(result)
    rows = compare_rows(result)
    assert sorted(rows) == sorted(params_of(reproduced)["models"]), shown(result)
    assert {row[2:] for row in rows.values()} == {
        ("+0.00", "0", "0", "1.000", "1.000", "none", "not significant")
    }, shown(result)


def test_compare_knn_k1_vs_k4_counts_the_flips_with_scipys_binomial_p_value(knn_k1_branch: Path):
    from scipy.stats import binomtest

    result = run_script("compare", "main", "knn-k1", cwd=knn_k1_branch)
    assert result.returncode == 0, shown(result)
    a = committed_predictions(knn_k1_branch, "main", "knn")
    b = committed_predictions(knn_k1_branch, "knn-k1", "knn")
    only_a = sum(pa == actual != pb for (actual, pa), (_, pb) in zip(a, b, strict=True))
    only_b = sum(pb == actual != pa for (actual, pa), (_, pb) in zip(a, b, strict=True))
    assert only_a + only_b > 0, "k=1 and k=4 predicted the same on every image"
    expected_p = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    p = f"{expected_p:.3f}" if expected_p >= 0.001 else f"{expected_p:.1e}"
    assert compare_rows(result)["knn"][5] == p, shown(result)
    rows = compare_rows(result)
    assert rows["knn"][3:5] == (str(only_a), str(only_b)), shown(result)
    others = {name: row for name, row in rows.items() if name != "knn"}
    assert {row[3:5] for row in others.values()} == {("0", "0")}, shown(result)


def test_compare_and_leaderboard_read_a_dvc_experiment_by_name(pca_experiment: Run):
    repo, ran_exp = pca_experiment
    name = re.search(r"^Ran experiment\(s\): (\S+)", ran_exp.stdout, re.MULTILINE)[1]
    result = run_script("compare", "main", name, cwd=repo)
    assert result.returncode == 0, shown(result)
    rows = compare_rows(result)
    assert sorted(rows) == sorted(params_of(repo)["models"]), shown(result)
    changed = {model for model, row in rows.items() if row[3:5] != ("0", "0")}
    assert changed <= set(models_on(repo, "pca")), shown(result)
    board = run_script("leaderboard", "--rev", name, cwd=repo)
    assert board.returncode == 0, shown(board)
    assert len(board.stdout.splitlines()) == 1 + len(params_of(repo)["models"]), shown(board)


def test_compare_and_leaderboard_work_in_a_plain_git_clone(cold: Run, tmp_path: Path):
    """Everything they read is in git: a clone with no DVC cache or remote is enough."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", cold.repo, clone)
    board = run_script("leaderboard", "--rev", "HEAD", cwd=clone)
    result = run_script("compare", "HEAD", "workspace", cwd=clone)
    assert (board.returncode, result.returncode) == (0, 0), shown(board, result)
    assert len(compare_rows(result)) == len(params_of(clone)["models"]), shown(result)


def test_sweep_of_a_queued_pca_n_20_40_reports_both_points(pca_queue: dict, tmp_path: Path):
    repo = pca_queue["repo"]
    result = run_script("sweep", "--out", tmp_path / "sweep", cwd=repo)
    assert result.returncode == 0, shown(result)
    curve = markdown_rows(result.stdout, "pca.n")
    assert list(curve[0])[:2] == ["pca.n", "experiment"], shown(result)
    models = list(curve[0])[2:]
    assert set(models) <= set(models_on(repo, "pca")) and "knn" in models, shown(result)
    assert [row["pca.n"] for row in curve] == ["20", "40"], shown(result)
    assert {row["experiment"] for row in curve} == pca_queue["names"]
    assert (tmp_path / "sweep" / "sweep.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "sweep" / "sweep.md").read_text() == result.stdout


def test_sweep_refuses_while_an_experiment_is_still_queued(cold: Run, tmp_path: Path):
    repo = copy_of(cold.repo, tmp_path / "repo")
    dvc(repo, "exp", "run", "--queue", "-n", "waiting", "-S", "pca.n=30")
    result = run_script("sweep", "--out", tmp_path / "sweep", cwd=repo)
    assert (result.returncode, result.stdout) == (1, ""), shown(result)
    assert result.stderr == (
        "sweep: error: 1 experiment(s) not finished: waiting (queued); wait until "
        "`dvc queue status` shows none queued or running\n"
    ), shown(result)
    assert not (tmp_path / "sweep").exists()


def test_sweep_names_a_failed_experiment_and_points_to_its_queue_logs(
    sweep_with_failure: dict, tmp_path: Path
):
    assert sweep_with_failure["states"] == {"n20": "Success", "broken": "Failed"}
    result = run_script("sweep", "--out", tmp_path / "sweep", cwd=sweep_with_failure["repo"])
    assert result.returncode == 0, shown(result)
    assert result.stderr == (
        "sweep: warning: experiment broken failed and is left out; see `dvc queue logs broken`\n"
    ), shown(result)
    curve = markdown_rows(result.stdout, "pca.n")
    assert [(row["pca.n"], row["experiment"]) for row in curve] == [("20", "n20")], shown(result)
    assert result.stdout.splitlines()[-1] == (
        "Failed, not shown: broken (see `dvc queue logs broken`)."
    )


def markdown_rows(text: str, first_header: str) -> list[dict[str, str]]:
    """The rows of the Markdown table whose header starts with ``first_header``."""
    lines = text.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("|") and line.split("|")[1].strip() == first_header
    )
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)))
    return rows


def test_sweep_chooses_each_models_best_point_on_val_and_gives_its_test_accuracy_once(
    pca_queue: dict, tmp_path: Path
):
    """The chosen pca.n of each model is the one whose val.json accuracy is highest (ties:
    the smaller n), and the test number beside it is that experiment's test.json."""
    repo = pca_queue["repo"]
    result = run_script("sweep", "--out", tmp_path / "sweep", cwd=repo)
    assert result.returncode == 0, shown(result)
    found = {name: exp for name, exp in experiments(repo).items() if name in pca_queue["names"]}
    choices = {row["model"]: row for row in markdown_rows(result.stdout, "model")}
    assert set(choices) == set(models_on(repo, "pca")), shown(result)
    for model, row in choices.items():
        val = {
            exp["params"]["pca"]["n"]: exp["metrics"][f"metrics/{model}/scores/val.json"]["acc"]
            for exp in found.values()
        }
        best = min(val, key=lambda n: (-val[n], n))
        (exp,) = [e for e in found.values() if e["params"]["pca"]["n"] == best]
        test = exp["metrics"][f"metrics/{model}/scores/test.json"]["acc"]
        assert (row["chosen on"], row["pca.n"]) == ("val", str(best)), shown(result)
        assert row["val (cv) acc"].startswith(f"{100 * val[best]:.2f}% ["), shown(result)
        assert row["test acc, once"].startswith(f"{100 * test:.2f}% ["), shown(result)
    curve = markdown_rows(result.stdout, "pca.n")
    assert [row["pca.n"] for row in curve] == ["20", "40"]
    assert "Diagnostic" not in result.stdout


def test_exps_shows_the_baseline_and_the_queued_sweep_within_160_columns(pca_queue: dict):
    repo = pca_queue["repo"]
    result = run_script("exps", cwd=repo)
    assert result.returncode == 0, shown(result)
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["experiment", "pca.n"], shown(result)
    assert lines[1].startswith("main ("), shown(result)
    assert {line.split()[0] for line in lines[2:4]} == pca_queue["names"], shown(result)
    # pca.n is right-aligned under its header: the last word before the header's end.
    end = lines[0].index("pca.n") + len("pca.n")
    assert [line[:end].split()[-1] for line in lines[1:4]] == ["60", "20", "40"], shown(result)
    assert max(map(len, lines)) <= 160


def test_exps_csv_is_dvcs_full_table_and_reads_with_pandas(pca_queue: dict, tmp_path: Path):
    import pandas as pd

    result = run_script("exps", "--csv", tmp_path / "exps.csv", cwd=pca_queue["repo"])
    assert result.returncode == 0, shown(result)
    table = pd.read_csv(tmp_path / "exps.csv")
    assert result.stdout == (
        f"{tmp_path / 'exps.csv'}: {len(table)} rows (commits and experiments) x "
        f"{len(table.columns)} columns\n"
    )
    assert set(pca_queue["names"]) <= set(table["Experiment"].dropna())
    assert {"pca.n", "metrics/knn/scores/val.json:acc"} <= set(table.columns)
    ran = table[table["Experiment"].isin(pca_queue["names"])]
    assert sorted(ran["pca.n"]) == [20, 40]
