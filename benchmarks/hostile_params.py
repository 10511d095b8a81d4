"""Hostile params files against the stage scripts: what each gets, in how many seconds and
how much memory.

Each case is the repository's params.yaml (and datasets.yaml, where the checkout has one)
with one hostile edit, in a temporary folder, run through one stage script in a fresh
interpreter: a directory, a FIFO, /dev/zero or /dev/urandom in its place, 2 MB of it, a byte
that is not UTF-8, a key written twice, an alias bomb ("billion laughs") at ``pca.n`` or as
a knn parameter, ``.nan`` and ``.inf`` download numbers, nesting 40 deep, 20,000 values, an
integer of 5,000 digits, a control character, a syntax error. A watchdog kills a run past
``--timeout`` seconds or ``--max-rss`` MB. Each stage's reference, in the same run, is the
same script refusing an unknown key (``pca.nn``) once it has read the params: each case's
seconds and peak memory are also given as a ratio to its stage's reference. ``--repo`` runs
another checkout's scripts (``--repo /path/to/main`` for a "before").

Usage: ``.venv/bin/python benchmarks/hostile_params.py --label after``; writes
benchmarks/runs/<date>-hostile-params-<label>.md and .json. ``--load-against CHECKOUT``
instead times reading the shipped params (import and load, fresh interpreter) against
another checkout's loader, interleaved.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOL = '["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
BOMB = (
    "[&a "
    + LOL
    + ", "
    + ", ".join(
        f"&{b} [{', '.join(f'*{a}' for _ in range(9))}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "]"
)
"""An inline value of 9 anchored lists, each of 9 aliases of the one before: 9^9 "lol"s."""


def edit(old: str, new: str):
    return lambda text: text.replace(old, new, 1)


def append(tail: str | bytes):
    return lambda text: (text.encode() + tail) if isinstance(tail, bytes) else text + tail


N_LINE = "  n: 60            # the nearest-neighbour notebook's choice"
CASES: dict[str, tuple[str, object]] = {
    # name: (stage, what replaces or edits params.yaml)
    "directory": ("pca", "dir"),
    "FIFO": ("pca", "fifo"),
    "/dev/zero": ("pca", "/dev/zero"),
    "/dev/urandom": ("pca", "/dev/urandom"),
    "2 MB": ("pca", append(("#" + "x" * 99 + "\n") * 20_000)),
    "not UTF-8": ("pca", append(b"# caf\xe9\n")),
    "pca: twice": ("pca", append("pca:\n  n: 40\n  whiten: false\n")),
    "bomb at pca.n": ("pca", edit(N_LINE, f"  n: {BOMB}")),
    "bomb as models.knn.k": ("train", edit("    k: 4\n", f"    k: {BOMB}\n")),
    "download.min_rate: .nan": ("download", edit("min_rate: 50000", "min_rate: .nan")),
    "download.timeout: .inf": ("download", edit("timeout: 30 ", "timeout: .inf ")),
    "nested 40 deep": ("pca", edit(N_LINE, "  n: " + "[" * 40 + "60" + "]" * 40)),
    "20,000 values": ("pca", edit(N_LINE, "  n: [" + ", ".join(["1"] * 20_000) + "]")),
    "5,000-digit integer": ("pca", edit(N_LINE, "  n: " + "9" * 5000)),
    "control character": ("pca", edit("  whiten: false", "  whiten: \x07")),
    "not YAML": ("pca", edit(N_LINE, "  n: [60")),
}


STAGES = ("pca", "train", "download")
REFERENCE = edit(N_LINE, f"{N_LINE}\n  nn: 1")
"""The reference of each stage: an unknown key (``pca.nn``), refused once the params are read."""


def command(repo: Path, stage: str, case: Path) -> list[str]:
    script = [
        sys.executable,
        str(repo / "src" / f"{stage}.py"),
        "--params",
        str(case / "params.yaml"),
    ]
    missing = str(case / "missing")
    if stage == "pca":
        return [
            *script,
            "--in",
            missing,
            "--out",
            str(case / "out"),
            "--variance",
            str(case / "v.csv"),
        ]
    if stage == "train":
        return [*script, "--model", "knn", "--features", missing, "--out", str(case / "out"),
                "--history", str(case / "h.csv")]  # fmt: skip
    return [*script, "--out", str(case / "out")]


def peak_rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(cmd: list[str], cwd: Path, timeout: float, max_rss: float) -> dict:
    """Run ``cmd``; its exit code, seconds, peak RSS (MB), last stderr line, and whether the
    watchdog killed it."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        killed = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                killed = f"killed after {timeout:.0f} s"
            elif peak_rss_mb(proc.pid) > max_rss:
                killed = f"killed at {max_rss:.0f} MB"
            if killed:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines() or [""]
    return {
        "exit": killed or proc.returncode,
        "seconds": round(seconds, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "traceback": any(line.startswith("Traceback") for line in lines),
        "last_line": lines[-1][:160],
    }


def prepare(repo: Path, folder: Path, change: object) -> None:
    folder.mkdir()
    if (repo / "datasets.yaml").exists():
        shutil.copy(repo / "datasets.yaml", folder)
    target = folder / "params.yaml"
    if change == "dir":
        target.mkdir()
    elif change == "fifo":
        os.mkfifo(target)
    elif isinstance(change, str):
        target.symlink_to(change)
    else:
        data = change((repo / "params.yaml").read_text())
        target.write_bytes(data if isinstance(data, bytes) else data.encode())


def load_seconds(repo: Path) -> float:
    """Seconds to start Python, import the loader of ``repo`` and read its shipped params."""
    code = "import mnist_pipeline.plumbing.params as p; p.load_params('params.yaml')"
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, check=True)
    return time.perf_counter() - started


def print_load_cost(repo: Path, other: Path, rounds: int) -> int:
    """Print the median seconds of ``load_seconds`` for both checkouts, interleaved, with a
    bare interpreter (``import yaml``) as the same-run reference."""
    bare = [sys.executable, "-c", "import yaml"]
    times: dict[str, list[float]] = {"bare": [], repo.name: [], other.name: []}
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(bare, check=True)
        times["bare"].append(time.perf_counter() - started)
        times[repo.name].append(load_seconds(repo))
        times[other.name].append(load_seconds(other))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.3f} s ({median / medians['bare']:.2f} x bare)")
    print(f"{repo.name} / {other.name}: {medians[repo.name] / medians[other.name]:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hostile_params",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose scripts run")
    parser.add_argument("--label", default="after", help="names the result files")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a kill")
    parser.add_argument("--max-rss", type=float, default=2048.0, help="MB before a kill")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "runs")
    parser.add_argument(
        "--load-against",
        type=Path,
        metavar="CHECKOUT",
        help="also time reading the shipped params in a fresh interpreter, this checkout's "
        "loader against CHECKOUT's, interleaved (--load-rounds each)",
    )
    parser.add_argument("--load-rounds", type=int, default=7)
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    if args.load_against is not None:
        return print_load_cost(repo, args.load_against.resolve(), args.load_rounds)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        references = {f"reference ({stage})": (stage, REFERENCE) for stage in STAGES}
        for i, (name, (stage, change)) in enumerate({**references, **CASES}.items()):
            case = Path(tmp) / str(i)
            prepare(repo, case, change)
            # download runs where the shipped mirror data/mnist is, so accepted numbers show.
            cwd = repo if stage == "download" else case
            rows[name] = {
                "stage": stage,
                **run(command(repo, stage, case), cwd, args.timeout, args.max_rss),
            }
            rows[name]["wrote"] = sorted(p.name for p in case.iterdir()) != sorted(
                ["params.yaml", *(["datasets.yaml"] if (repo / "datasets.yaml").exists() else [])]
            )
            rows[name]["last_line"] = rows[name]["last_line"].replace(f"{case}/", "")
            print(f"{name}: {rows[name]}", file=sys.stderr)
    lines = [
        f"# Hostile params files, {args.label} ({repo.name}, {datetime.date.today()})",
        "",
        "Each stage's reference (same run) refuses an unknown key, `pca.nn`, once the params "
        "are read; `x ref` is a case's seconds or peak memory over its stage's reference's. "
        "Paths are relative to the case's folder.",
        "",
        "| case | stage | exit | s | x ref | peak MB | x ref | traceback | wrote | last line |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for name, row in rows.items():
        ref = rows[f"reference ({row['stage']})"]
        last = row["last_line"].replace("|", "\\|")
        lines.append(
            f"| {name} | {row['stage']} | {row['exit']} | {row['seconds']} | "
            f"{row['seconds'] / ref['seconds']:.2f} | {row['peak_mb']} | "
            f"{row['peak_mb'] / ref['peak_mb']:.2f} | {'yes' if row['traceback'] else 'no'} | "
            f"{'yes' if row['wrote'] else 'no'} | {last} |"
        )
    stem = args.out / f"{datetime.date.today()}-hostile-params-{args.label}"
    args.out.mkdir(parents=True, exist_ok=True)
    Path(f"{stem}.md").write_text("\n".join(lines) + "\n")
    Path(f"{stem}.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
