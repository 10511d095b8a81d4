"""Tune a model's params on its val accuracy with Optuna's TPE, each trial `dvc exp run -S ...
evaluate@MODEL` named STUDY-N: here (pruned on the live val accuracy of a model that learns in
steps), through DVC's queue (--jobs), or on a Dask cluster (--scheduler, as src/cluster.py). The
study is kept in build/tune/studies.db: the same command resumes it (docs/comparing.md)."""

import argparse
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

import cluster
from mnist_pipeline.results import ResultsError, experiments, model_scores, open_revision, shown

OUT = Path("build/tune")
RANGE = re.compile(r"(log|float|int)\(([^,()]+),([^,()]+)\)")
log = logging.getLogger("tune")


class TuneError(RuntimeError):
    """The study cannot start or a trial cannot run; the message is one line."""


def search_space(settings: list[str], params: dict) -> dict:
    """{key: distribution} of -S ``key=log(a,b)``, ``float(a,b)``, ``int(a,b)`` or ``a,b,c``
    (choices); each key must be in params.yaml, as `dvc exp run -S` needs."""
    space = {}
    for setting in settings:
        key, _, text = setting.partition("=")
        node = params
        for part in key.split("."):
            node = node.get(part, KeyError) if isinstance(node, dict) else KeyError
        if node is KeyError or not text:
            raise TuneError(f"-S {setting}: expected a params.yaml key=log(a,b), int(a,b) or a,b")
        try:
            if found := RANGE.fullmatch(text.replace(" ", "")):
                kind, low, high = found.groups()
                space[key] = (
                    IntDistribution(int(low), int(high))
                    if kind == "int"
                    else FloatDistribution(float(low), float(high), log=kind == "log")
                )
            else:
                space[key] = CategoricalDistribution([yaml.safe_load(c) for c in text.split(",")])
        except ValueError as err:
            raise TuneError(f"-S {setting}: {err}") from None
    return space


def run_here(trial: optuna.Trial, name: str, command: list[str], model: str) -> None:
    """Run ``command`` here; each step of the model's live val accuracy goes to Optuna's
    pruner, and a run it prunes is stopped as Ctrl-C stops it."""
    live, log = Path(f"metrics/{model}/live/metrics.json"), OUT / f"{name}.log"
    step, before = 0, None
    with open(log, "w") as sink:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # dvc's "Running stage" line as it runs
        process = subprocess.Popen(
            command, stdout=sink, stderr=sink, env=env, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # ignored under `&`
        )  # fmt: skip
        try:
            while process.poll() is None:
                time.sleep(0.1)
                if before is None:  # until train starts, the summary is an older run's
                    if f"Running stage 'train@{model}'" in log.read_text():
                        before = live.read_text() if live.exists() else ""
                    continue
                try:  # dvclive rewrites it in place after each step
                    summary = json.loads(text) if (text := live.read_text()) != before else {}
                except (OSError, ValueError):
                    continue
                if "val_acc" in summary and summary["step"] > step:  # once a step
                    step, value = summary["step"], summary["val_acc"]
                    trial.report(value, step)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"val accuracy {value} at step {step}")
        finally:  # pruned, or Ctrl-C here (its own session does not see it): stop the run
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                process.wait()
    if process.returncode:
        lines = log.read_text().strip().splitlines() or ["no output"]
        raise TuneError(f"{name}: `dvc exp run` exited {process.returncode}: {lines[-1]}")


def run_batch(args: argparse.Namespace, batch: dict[str, tuple]) -> None:
    """Run the trials of ``batch`` ({experiment: (trial, -S values)}) where ``args`` say."""
    target = f"evaluate@{args.model}"  # what the objective needs, not every model
    if args.scheduler:
        run = argparse.Namespace(**vars(args), rev="HEAD", connect_timeout=10.0, retries=1)
        run.pull_data, run.targets = False, [target]
        cluster._sweep(run, {name: tuple(values) for name, (_, values) in batch.items()})
        return
    queue = ["--queue"] if args.jobs > 1 else []
    for name, (trial, values) in batch.items():
        command = ["dvc", "exp", "run", *queue, "-n", name, *[f"-S{v}" for v in values], target]
        if not queue:
            return run_here(trial, name, command, args.model)
        cluster._run(command, Path.cwd(), log=OUT / "queue.log")
    # to a file, as cluster._run writes: the workers would hold a pipe until they exit
    cluster._run(["dvc", "queue", "start", "-j", str(args.jobs)], Path.cwd(), log=OUT / "queue.log")
    deadline, waiting = time.monotonic() + args.run_timeout, {"queued"}
    while waiting & {"queued", "running"}:
        if time.monotonic() > deadline:
            raise TuneError(f"the queue is not done after {args.run_timeout:.0f} s: dvc queue logs")
        time.sleep(2)
        with contextlib.suppress(ResultsError):  # while a worker sets up its temporary clone
            waiting = {r["state"] for r in experiments(None) if r["name"] in batch}


def open_study(args: argparse.Namespace) -> optuna.Study:
    """The study of that name, made or resumed: trials of an interrupted run marked failed, TPE
    reseeded by the trial count so that a resumed study does not redraw its first points."""
    where = dict(storage=f"sqlite:///{OUT / 'studies.db'}", study_name=args.study or args.model)
    where |= dict(load_if_exists=True, direction="maximize")
    seed = args.seed + len(optuna.create_study(**where).trials)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=args.prune_after)
    study = optuna.create_study(**where, sampler=sampler, pruner=pruner)
    for stale in study.get_trials(states=[TrialState.RUNNING]):
        study.tell(stale.number, state=TrialState.FAIL)
    return study


def report(study: optuna.Study, model: str) -> None:
    """The trials; the best on val with its test accuracy, read once; importances; promotion."""
    table = study.trials_dataframe(attrs=("number", "params", "state", "value", "duration"))
    table["duration"] = table["duration"].dt.total_seconds().round(1)
    table = table.rename(columns=lambda c: c.removeprefix("params_"))
    print(table.rename(columns={"value": "val acc", "duration": "s"}).to_markdown(index=False))
    best = study.best_trial  # ValueError when no trial has finished
    test = model_scores(open_revision(name := f"{study.study_name}-{best.number}"), model)["test"]
    print(f"\nBest on val: {name}, {best.value:.2%}, {best.params}")
    print(f"Its test accuracy, the one honest test number: {test['acc']:.2%}", end=" ")
    print(f"(95% interval {test['acc_lo']:.2%} to {test['acc_hi']:.2%})")
    if len(study.get_trials(states=[TrialState.COMPLETE])) > 1 and len(best.params) > 1:
        importance = optuna.importance.get_param_importances(study)
        print("Importance (fANOVA): " + ", ".join(f"{k} {v:.2f}" for k, v in importance.items()))
    print(f"Promote it: dvc exp apply {name}")


def main(argv: list[str] | None = None) -> int:
    """Run the trials, then report; 1 after a one-line error."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parser = argparse.ArgumentParser(prog="tune", description=__doc__)
    add = parser.add_argument
    add("--model", required=True, help="the model whose val accuracy is maximized")
    add("-S", dest="settings", action="append", required=True, metavar="KEY=SPACE")
    add("--trials", type=int, default=20, help="trials to run now (20)")
    add("--study", help="its name, and its experiments' (default: the model's)")
    add("--seed", type=int, default=0, help="of the sampler (0)")
    add("--prune-after", type=int, default=5, help="trials finished before any is pruned (5)")
    add("--jobs", type=int, default=1, help="trials at once, through DVC's queue: no pruning")
    add("--scheduler", help="a Dask scheduler: the trials on its workers, no pruning")
    add("--origin", help="with --scheduler: the git origin's URL, as the workers reach it")
    add("-r", "--remote", help="with --scheduler: the DVC remote (default: the repository's)")
    add("--run-timeout", type=float, default=4 * 3600.0, help="for a batch of trials (4 h)")
    args = parser.parse_args(argv)
    try:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.study or args.model):
            raise TuneError(f"--study {args.study}: letters, digits, '.', '_', '-' only")
        params = yaml.safe_load(Path("params.yaml").read_text())
        if (model := params["models"].get(args.model)) is None:
            raise TuneError(f"--model {args.model}: no such model in params.yaml")
        split = "raw" if model["features"] == "raw" else "split"
        if not params[split]["validation"]:
            raise TuneError(f"{args.model} has no val split ({split}.validation: 0) to choose on")
        space = search_space(args.settings, params)
        OUT.mkdir(parents=True, exist_ok=True)
        study = open_study(args)
        for start in range(0, args.trials, args.jobs):
            batch = {}
            for trial in [study.ask(space) for _ in range(min(args.jobs, args.trials - start))]:
                values = [f"{key}={shown(value)}" for key, value in trial.params.items()]
                batch[name := f"{study.study_name}-{trial.number}"] = (trial, values)
                log.info("trial %s: %s", name, " ".join(values))
            try:
                run_batch(args, batch)
            except optuna.TrialPruned as pruned:  # a run here: one trial
                study.tell(trial, state=TrialState.PRUNED)
                log.info("trial %s pruned: %s", name, pruned)
                continue
            except (TuneError, cluster.ClusterError) as err:
                log.warning("trials %s failed: %s", ", ".join(batch), err)
                for trial, _ in batch.values():
                    study.tell(trial, state=TrialState.FAIL)
                continue
            for name, (trial, _) in batch.items():
                try:
                    value = model_scores(open_revision(name), args.model)["val"]["acc"]
                except (ResultsError, KeyError):
                    study.tell(trial, state=TrialState.FAIL)
                    log.warning("trial %s failed (%s)", name, OUT / f"{name}.log")
                    continue
                study.tell(trial, value)
                log.info("trial %s: val accuracy %.4f", name, value)
        report(study, args.model)
    except (TuneError, ResultsError, ValueError) as err:
        print(f"tune: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
