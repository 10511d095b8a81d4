"""Cluster sweeps (src/cluster.py) against a local `dvc queue`, on the MNIST slice of the tests
and on full MNIST: the same grid on a loopback Dask cluster of 1 worker, of 2 workers, and as
`dvc queue start -j 2` on the machine that reproduced the baseline.

For each data set, in a temporary folder: a copy of the project is reproduced (cold), pushed
to a git origin (`git daemon` on 127.0.0.1) and an S3 remote (rclone on 127.0.0.1) with its
run-cache; then each phase runs the grid from a plain clone of the origin (the laptop), with
fresh workers (empty scratch folders: each worker's first point pulls the unchanged stages'
outputs). Between phases the experiments are deleted from the origin and the laptop, so every
phase runs every point, and so are the run records the phase pushed, so it runs every stage.
Every worker, and the queue, run BLAS on one thread: a worker is a
one-core machine, and two of them share this machine's two cores as `-j 2` does.

Reported: each phase's wall seconds; the speed-up (1 worker / 2 workers); each point's seconds
split into clone, `dvc exp run` (pulls and dvc's own work included), push, and the stages' own
work (`run_stage`'s timing, start-up aside), whose difference from the total is the per-task
overhead; how many stages each point ran and reused; and the `svc_fit` reference kernel at the
start and the end, with every phase in its units. Writes benchmarks/runs/cluster-<date>.{md,json}.

Usage: ``.venv/bin/python benchmarks/cluster.py [--data slice full] [-S pca.n=20,30,40,50]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO, log

sys.path.insert(0, str(REPO / "tests"))  # the loopback cluster and the slice: test support
from loopback_cluster import DaskScheduler, DaskWorker, GitDaemon, wait_for_workers
from repo_copy import copy_repo, tool_env

from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.tools.s3server import S3Server

GRID = "pca.n=20,30,40,50"
REMOTE = "team"
LIMITS = {"two_over_one_worker": 0.6, "overhead_share_full": 0.25}
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; its stdout. RuntimeError with its output if it fails."""
    result = subprocess.run(
        args, cwd=cwd, env=env or environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {result.returncode} in {cwd}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


def environment(**extra: str) -> dict[str, str]:
    return tool_env(identity="benchmark", extra={**ONE_THREAD, **extra})


def svc_fit_seconds() -> float:
    """The reference kernel, in a fresh interpreter."""
    code = "from bench.kernels import svc_fit; print(svc_fit())"
    env = environment(PYTHONPATH=str(REPO / "benchmarks"))
    return float(run([sys.executable, "-c", code], REPO, env).strip())


def project(root: Path, data: str) -> Path:
    """Machine A's copy: the slice of the tests, or the project as it is (full MNIST)."""
    if data == "slice":
        import conftest  # the tests' helpers, for make_small_repo

        return conftest.make_small_repo(root / "machine-a")
    return copy_repo(REPO, root / "machine-a", leave_out=("metrics", "plots"), identity="benchmark")


def baseline(root: Path, data: str, server: S3Server, daemon: GitDaemon) -> dict:
    """Reproduce A cold, push it; the laptop clone. Timed."""
    a = project(root, data)
    dvc = [sys.executable, "-m", "dvc"]
    run([*dvc, "remote", "add", "-d", REMOTE, server.url()], a)
    run([*dvc, "remote", "modify", REMOTE, "endpointurl", server.endpoint], a)
    started = time.monotonic()
    run([*dvc, "repro"], a)
    repro = time.monotonic() - started
    run(["git", "add", "-A"], a)
    run(["git", "commit", "-q", "-m", "baseline"], a)
    started = time.monotonic()
    run([*dvc, "push", "--run-cache"], a, environment(**server.credentials_env()))
    push = time.monotonic() - started
    run(["git", "init", "-q", "--bare", "-b", "main", "origin.git"], daemon.base)
    origin = daemon.url("origin.git")
    run(["git", "push", "-q", origin, "main"], a)
    run(["git", "clone", "-q", origin, str(root / "laptop")], root)
    sha = run(["git", "rev-parse", "HEAD"], a).strip()
    return {
        "a": a,
        "laptop": root / "laptop",
        "origin": origin,
        "baseline": sha,
        "repro_seconds": round(repro, 1),
        "push_seconds": round(push, 1),
        "run_records": run_records(server),
    }


def run_records(server: S3Server) -> set[Path]:
    """The run-cache records on the remote."""
    return set((server.bucket_dir / "store" / "runs").rglob("*"))


def forget_experiments(team: dict, daemon: GitDaemon, server: S3Server) -> None:
    """Delete every experiment ref from the origin and the laptop, and the run records the
    phase added to the remote, so that the next phase runs every stage the first ran."""
    for repo in (daemon.base / "origin.git", team["laptop"]):
        refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], repo).split()
        for ref in refs:
            run(["git", "update-ref", "-d", ref], repo)
    for record in sorted(run_records(server) - team["run_records"], reverse=True):
        if record.is_file():
            record.unlink()
        elif record.is_dir() and not any(record.iterdir()):
            record.rmdir()
    server.forget_listings()


def cluster_phase(root: Path, team: dict, server: S3Server, workers: int, grid: str) -> dict:
    """The grid on a fresh cluster of ``workers`` workers; wall seconds and the summary."""
    folder = root / f"cluster-{workers}"
    env = environment()
    with DaskScheduler(folder / "scheduler", env) as scheduler:
        started = [
            DaskWorker(
                f"w{i}",
                folder / f"w{i}",
                scheduler.address,
                {**ONE_THREAD, **server.credentials_env()},
            ).start()
            for i in range(workers)
        ]
        try:
            wait_for_workers(scheduler.address, workers)
            summary = folder / "summary.json"
            t0 = time.monotonic()
            run(
                [
                    sys.executable,
                    "src/cluster.py",
                    "--scheduler",
                    scheduler.address,
                    "--origin",
                    team["origin"],
                    "-S",
                    grid,
                    "--summary",
                    str(summary),
                ],
                team["laptop"],
                env,
            )
            wall = time.monotonic() - t0
        finally:
            for worker in started:
                worker.stop()
    return {"wall": round(wall, 1), "summary": json.loads(summary.read_text())}


def queue_phase(team: dict, grid: str) -> dict:
    """The grid with `dvc queue start -j 2` in A; wall seconds from start to the last done."""
    dvc = [sys.executable, "-m", "dvc"]
    a = team["a"]
    run([*dvc, "exp", "run", "--queue", "-S", grid], a)
    t0 = time.monotonic()
    run([*dvc, "queue", "start", "-j", "2"], a)
    while re.search(r"\b(Queued|Running)\b", run([*dvc, "queue", "status"], a)):
        time.sleep(1)
    wall = time.monotonic() - t0
    status = run([*dvc, "queue", "status"], a)
    run([*dvc, "queue", "stop"], a)
    return {"wall": round(wall, 1), "failed": status.count("Failed")}


def point_rows(summary: dict) -> list[dict]:
    rows = []
    for point in summary["points"]:
        s = point["seconds"]
        overhead = s["total"] - s["stages"]
        rows.append(
            {
                "name": point["name"],
                "worker": point["worker"],
                **s,
                "overhead": round(overhead, 2),
                "overhead_share": round(overhead / s["stages"], 3) if s["stages"] else None,
                "ran": len(point["ran"]),
                "reused": len(point["reused"]),
                "restored": len(point["restored"]),
            }
        )
    return rows


def measure(data: str, grid: str, keep: bool) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"mnist-cluster-{data}-"))
    os.environ["DVC_SITE_CACHE_DIR"] = str(root / "dvc-site")
    try:
        kernel_before = svc_fit_seconds()
        with S3Server(root / "s3" / "data") as server:
            (root / "git").mkdir()
            with GitDaemon(root / "git") as daemon:
                log(f"{data}: baseline")
                team = baseline(root, data, server, daemon)
                log(f"{data}: 1 worker")
                one = cluster_phase(root, team, server, 1, grid)
                forget_experiments(team, daemon, server)
                log(f"{data}: 2 workers")
                two = cluster_phase(root, team, server, 2, grid)
                log(f"{data}: dvc queue start -j 2")
                queue = queue_phase(team, grid)
        kernel_after = svc_fit_seconds()
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    kernel = statistics.mean([kernel_before, kernel_after])
    return {
        "data": data,
        "grid": grid,
        "svc_fit": [round(kernel_before, 2), round(kernel_after, 2)],
        "repro_seconds": team["repro_seconds"],
        "push_seconds": team["push_seconds"],
        "one_worker": one["wall"],
        "two_workers": two["wall"],
        "local_queue_j2": queue["wall"],
        "queue_failed": queue["failed"],
        "two_over_one_worker": round(two["wall"] / one["wall"], 3),
        "speed_up": round(one["wall"] / two["wall"], 2),
        "two_workers_over_queue": round(two["wall"] / queue["wall"], 3),
        "in_svc_fit": {
            k: round(v / kernel, 1)
            for k, v in (
                ("one_worker", one["wall"]),
                ("two_workers", two["wall"]),
                ("local_queue_j2", queue["wall"]),
            )
        },
        "points_one_worker": point_rows(one["summary"]),
        "points_two_workers": point_rows(two["summary"]),
    }


def markdown(results: list[dict]) -> str:
    lines = [
        "| data | points | 1 worker | 2 workers | `dvc queue -j 2` | 2 / 1 worker (limit 0.6) "
        "| speed-up | 2 workers / queue | svc_fit (start, end) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        n = len(r["points_one_worker"])
        lines.append(
            f"| {r['data']} | {n} | {r['one_worker']:.0f} s | {r['two_workers']:.0f} s | "
            f"{r['local_queue_j2']:.0f} s | {r['two_over_one_worker']:.2f} | {r['speed_up']:.2f}x "
            f"| {r['two_workers_over_queue']:.2f} "
            f"| {r['svc_fit'][0]:.2f}, {r['svc_fit'][1]:.2f} s |"
        )
    lines += [
        "",
        "Per point, 1 worker (seconds; overhead = total - the stages' own work):",
        "",
        "| data | point | total | clone | fetch | exp run | push | stages' work | overhead | "
        "overhead / stages (limit 0.25, full) | stages ran | reused |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for p in r["points_one_worker"]:
            lines.append(
                f"| {r['data']} | {p['name']} | {p['total']:.1f} | {p['clone']:.1f} | "
                f"{p['fetch']:.1f} | "
                f"{p['run']:.1f} | {p['push']:.1f} | {p['stages']:.1f} | {p['overhead']:.1f} | "
                f"{p['overhead_share']:.2f} | {p['ran']} | {p['reused']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure each data set; write the Markdown and JSON results; return 0."""
    parser = argparse.ArgumentParser(
        prog="cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", nargs="+", choices=("slice", "full"), default=["slice", "full"])
    parser.add_argument("-S", dest="grid", default=GRID, help=f"the grid (default {GRID})")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)
    results = []
    stem = args.out / f"cluster-{time.strftime('%Y-%m-%d')}-{'-'.join(args.data)}"
    for data in args.data:
        results.append(measure(data, args.grid, args.keep))
        write_text(stem.with_suffix(".json"), json.dumps(results, indent=2) + "\n")
        write_text(stem.with_suffix(".md"), markdown(results))
    sys.stdout.write(markdown(results))
    log(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
