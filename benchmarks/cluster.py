"""Cluster sweeps (issue 26): one grid from a plain clone on a fresh loopback Dask cluster of 1
worker, of 2 (one BLAS thread each) and as ``dvc queue start -j 2`` on machine A, on the tests'
MNIST slice or full MNIST; each phase's experiments and run records deleted after it, so each
runs every stage. Reported: walls and ratios, each point's clone, fetch, ``dvc exp run``, push,
stages' work and overhead, and ``svc_fit`` at the start and end. Writes
``runs/<date>-cluster-<data>.md`` and ``.json``."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from pathlib import Path

from bench.kernels import BENCHMARKS, ratio, reference_seconds
from bench.report import RUNS, log, machine, publish, table

sys.path.insert(0, str(BENCHMARKS.parent / "tests"))  # the loopback cluster: test support
import loopback_cluster as loopback
from conftest import make_small_repo  # the tests' MNIST slice
from repo_copy import copy_repo, tool_env
from s3server import S3Server

GRID = "pca.n=20,30,40,50"
LEFT_OUT = ("metrics", "plots")  # of full MNIST's copy: every stage runs
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
LONG = 4 * 3600.0  # seconds any one command may take: a cold full-MNIST `dvc repro`, a phase
PHASES = "data | points | 1 worker | 2 workers | `dvc queue -j 2` | 2 / 1 worker (limit 0.6) | "
PHASES += "speed-up | 2 workers / queue | svc_fit (start, end)"
POINTS = "workers | point | total | clone | fetch | exp run | push | stages' work | overhead | "
POINTS += "overhead / stages (limit 0.25, full) | stages ran | reused | restored"
SECONDS = ("total", "clone", "fetch", "run", "push", "stages")
STAGES = ("ran", "reused", "restored")
PHASE_KEYS = {1: "one_worker", 2: "two_workers"}


def forget_experiments(team: dict, daemon: loopback.GitDaemon, server: S3Server) -> None:
    """Delete the experiment refs of the origin and the laptop and the run records a phase
    added to the remote, so that the next phase runs every stage the first ran."""
    for repo in (daemon.base / "origin.git", team["laptop"]):
        refs = loopback.tool(repo, "git", "for-each-ref", "--format=%(refname)", "refs/exps")
        for ref in refs.split():
            loopback.tool(repo, "git", "update-ref", "-d", ref)
    runs = server.bucket_dir / "store" / "runs"
    for record in sorted(set(runs.rglob("*")) - team["run_records"], reverse=True):
        (record.unlink if record.is_file() else record.rmdir)()
    server.forget_listings()


def cluster_phase(root: Path, team: dict, server: S3Server, workers: int, grid: str) -> dict:
    """The grid from the laptop on a fresh cluster of ``workers``: wall seconds, the points."""
    folder, names = root / f"cluster-{workers}", [f"w{i}" for i in range(workers)]
    summary = folder / "summary.json"
    worker_env = {**ONE_THREAD, **server.credentials_env()}
    with loopback.running_cluster(folder, names, tool_env(), worker_env) as (scheduler, _):
        command = [sys.executable, "src/cluster.py", "-S", grid, "--summary", str(summary)]
        command += ["--scheduler", scheduler.address, "--origin", team["origin"]]
        started = time.monotonic()
        loopback.tool(team["laptop"], *command, timeout=LONG)
        wall = time.monotonic() - started
    key = PHASE_KEYS[workers]
    return {key: round(wall, 1), f"points_{key}": loopback.summary_of(summary)["points"]}


def measure(data: str, grid: str) -> dict:
    """Baseline, both cluster phases and the queue on ``data``: the run's raw figures."""
    root = Path(tempfile.mkdtemp(prefix=f"mnist-cluster-{data}-"))
    os.environ.update(ONE_THREAD, DVC_SITE_CACHE_DIR=str(root / "dvc-site"))
    result = {"data": data, "grid": grid, "machine": machine(), "start": reference_seconds(1)}
    try:
        (root / "git").mkdir()
        with S3Server(root / "s3" / "data") as server, loopback.GitDaemon(root / "git") as daemon:
            log(f"{data}: the baseline")
            a, here = root / "machine-a", BENCHMARKS.parent  # slice: the tests' MNIST slice
            a = make_small_repo(a) if data == "slice" else copy_repo(here, a, leave_out=LEFT_OUT)
            team = loopback.publish_team(a, root, server, daemon, LONG)
            team["run_records"] = set((server.bucket_dir / "store" / "runs").rglob("*"))
            result.update({k: team[k] for k in ("repro_seconds", "push_seconds")})
            for workers in (1, 2):
                log(f"{data}: {workers} worker(s)")
                result |= cluster_phase(root, team, server, workers, grid)
                forget_experiments(team, daemon, server)
            log(f"{data}: dvc queue start -j 2")
            queue = loopback.run_local_queue(team["a"], grid, LONG)
            result["local_queue_j2"] = queue["seconds"]
            result["queue_failed"] = queue["status"].count("Failed")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {**result, "end": reference_seconds(1)}


def point_row(workers: int, point: dict) -> list:
    """A point's row: its seconds, overhead (the total less the stages' own work) and stages."""
    s = point["seconds"]
    overhead = s["total"] - s["stages"]
    share = f"{overhead / s['stages']:.2f}" if s["stages"] else "-"
    times = [f"{s[k]:.1f}" for k in SECONDS] + [f"{overhead:.1f}", share]
    return [workers, point["name"], *times, *(len(point[k]) for k in STAGES)]


def markdown(r: dict) -> list[str]:
    """The run's report below its machine line: the phases, then every point of both."""
    one, two, queue = r["one_worker"], r["two_workers"], r["local_queue_j2"]
    svc_fit = [min(r[side]["svc_fit"]) for side in ("start", "end")]
    units = ", ".join(f"{ratio(x, sum(svc_fit) / 2)}" for x in (one, two, queue))
    phases = [r["data"], len(r["points_one_worker"]), *(f"{x:.0f} s" for x in (one, two, queue))]
    phases += [ratio(two, one), f"{ratio(one, two)}x", ratio(two, queue)]
    phases.append("{:.2f}, {:.2f} s".format(*svc_fit))
    points = [point_row(w, p) for w, key in PHASE_KEYS.items() for p in r[f"points_{key}"]]
    head = f"Grid `{r['grid']}`: cold `dvc repro` {r['repro_seconds']:.0f} s, `dvc push "
    head += f"--run-cache` {r['push_seconds']:.0f} s; 1 worker, 2 workers, queue: {units} "
    head += f"`svc_fit`; queue experiments failed: {r['queue_failed']}."
    lines = [head, "", *table(PHASES.split(" | "), [phases]), ""]
    lines += ["Per point (seconds; overhead = total - the stages' own work):", ""]
    return [*lines, *table(POINTS.split(" | "), points)]


def main(argv: list[str] | None = None) -> int:
    """Measure each data set and write its run; return 0."""
    parser = ArgumentParser(description=__doc__, formatter_class=RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", choices=("slice", "full"), default=["slice", "full"])
    parser.add_argument("-S", dest="grid", default=GRID, help=f"the grid (default {GRID})")
    parser.add_argument("--out", type=Path, default=RUNS, help="the folder of the results")
    args = parser.parse_args(argv)
    for data in args.data:
        result = measure(data, args.grid)
        about, title = result.pop("machine"), f"Cluster sweeps, {data}"
        log(f"wrote {publish(f'cluster-{data}', title, about, markdown(result), result, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
