"""Cold `dvc repro` of the working tree against a checkout of another revision, one after the
other on the same machine: each in a fresh copy without metrics/ and plots/ (every stage runs)
and with an empty DVC cache, its stages importing its own src/. Prints a Markdown table (wall
seconds, stages run, the no-op `dvc repro` after it, whether metrics/ and plots/ came back
byte for byte) and the ratio of the cold runs, ours / theirs; issue 30 asks for at most 0.8.

    python benchmarks/run.py                      # working tree vs 5a87d8c
    python benchmarks/run.py --against main~3 --rounds 2 --json runs/today.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # conftest: the tests' copy of the working tree
from conftest import copy_repo, tool_env  # noqa: E402

WORKTREE = "workspace"
BASELINE = "5a87d8c"  # the last commit before issue 30's redesign
LIMIT = 0.8


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def checkout(rev: str, dest: Path) -> Path:
    """``rev`` (or the working tree, ``workspace``) as a fresh git repository at ``dest``, less
    its committed metrics/ and plots/."""
    if rev == WORKTREE:
        return copy_repo(dest, leave_out=("metrics", "plots"), identity="benchmark")
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", REPO, dest], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=dest, check=True)
    for folder in ("metrics", "plots"):
        shutil.rmtree(dest / folder, ignore_errors=True)
    return dest


def outputs(repo: Path) -> dict[str, bytes]:
    found = [p for folder in ("metrics", "plots") for p in (repo / folder).rglob("*")]
    return {str(p.relative_to(repo)): p.read_bytes() for p in found if p.is_file()}


def committed_outputs(rev: str) -> dict[str, bytes] | None:
    """metrics/ and plots/ as ``rev`` holds them (the working tree's for ``workspace``)."""
    if rev == WORKTREE:
        return outputs(REPO)
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev, "metrics", "plots"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {
        name: subprocess.run(["git", "show", f"{rev}:{name}"], cwd=REPO, capture_output=True,
                             check=True).stdout
        for name in listed.stdout.split()
    }  # fmt: skip


def dvc(repo: Path, *args: str, site: Path) -> tuple[float, subprocess.CompletedProcess]:
    """``dvc <args>`` in ``repo``, its stages on ``repo``'s own src/ and the CPU (a GPU's
    sums give other bits); its wall seconds and what it printed."""
    env = tool_env(
        identity="benchmark",
        extra={"PYTHONPATH": str(repo / "src"), "CUDA_VISIBLE_DEVICES": "",
               "DVC_SITE_CACHE_DIR": str(site)},
    )  # fmt: skip
    started, lines, stage_starts = time.perf_counter(), [], []
    with subprocess.Popen(["dvc", *args], cwd=repo, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:  # fmt: skip
        for line in process.stdout:  # each stage's start, for the per-stage seconds
            lines.append(line)
            if found := re.match(r"Running stage '([^']+)'", line):
                stage_starts.append((found[1], time.perf_counter() - started))
        stderr = process.stderr.read()
    wall = time.perf_counter() - started
    result = subprocess.CompletedProcess(args, process.returncode, "".join(lines), stderr)
    ends = [at for _, at in stage_starts[1:]] + [wall] * bool(stage_starts)
    pairs = zip(stage_starts, ends, strict=True)
    result.stage_seconds = {stage: round(end - at, 1) for (stage, at), end in pairs}
    if result.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} in {repo} exited {result.returncode}:\n"
                           f"{result.stdout[-3000:]}{result.stderr[-3000:]}")  # fmt: skip
    return round(wall, 2), result


def cold_run(rev: str, root: Path) -> dict:
    """One cold `dvc repro` of ``rev`` and the no-op `dvc repro` after it."""
    name = re.sub(r"[^\w.-]", "_", rev)
    repo = checkout(rev, root / f"repo-{name}")
    log(f"{rev}: cold dvc repro in {repo}")
    cold, result = dvc(repo, "repro", site=root / "site")
    stages = re.findall(r"^Running stage '([^']+)'", result.stdout, re.MULTILINE)
    noop, again = dvc(repo, "repro", site=root / "site")
    log(f"{rev}: {cold:.1f} s, {len(stages)} stages; no-op {noop:.2f} s")
    same = outputs(repo) == committed_outputs(rev)
    shutil.rmtree(repo)
    return {"rev": rev, "cold": cold, "stages": len(stages), "noop": noop,
            "noop_ran": "Running stage" in again.stdout, "identical": same,
            "stage_seconds": result.stage_seconds}  # fmt: skip


def machine() -> dict:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def report(runs: list[dict], against: str) -> tuple[list[str], float]:
    """The Markdown table of every run and the ratio of the median cold runs, ours / theirs."""
    lines = ["| revision | cold `dvc repro` s | stages | no-op s | outputs identical |",
             "|---|---:|---:|---:|---|"]  # fmt: skip
    for r in runs:
        same = "yes" if r["identical"] else "**no**"
        lines.append(f"| {r['rev']} | {r['cold']:.1f} | {r['stages']} | {r['noop']:.2f} | {same} |")
    median = {
        rev: statistics.median(r["cold"] for r in runs if r["rev"] == rev)
        for rev in (WORKTREE, against)
    }
    ratio = round(median[WORKTREE] / median[against], 3)
    met = "met" if ratio <= LIMIT else "**not met**"
    lines += ["", f"Cold `dvc repro`, working tree / {against}: **{ratio}** (limit {LIMIT}: {met})"]
    return lines, ratio


def main(argv: list[str] | None = None) -> int:
    """Time the cold runs, print the report; 1 if the ratio is over the limit or a run's
    outputs differ from those committed."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", default=BASELINE, help="the other revision (%(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="cold runs of each, alternated")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args(argv)
    about, runs = machine(), []
    with tempfile.TemporaryDirectory(prefix="mnist-bench-") as root:
        for number in range(args.rounds):
            order = (args.against, WORKTREE) if number % 2 == 0 else (WORKTREE, args.against)
            runs += [cold_run(rev, Path(root)) for rev in order]
    lines, ratio = report(runs, args.against)
    about["load_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"Cold repro benchmark, {about['date']}: {about['cores']} cores, {about['cpu']}, load "
          f"{about['load']} at the start, {about['load_end']} at the end\n")  # fmt: skip
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({**about, "runs": runs, "ratio": ratio}, indent=2) + "\n")
    identical = all(r["identical"] and not r["noop_ran"] for r in runs if r["rev"] == WORKTREE)
    return 0 if ratio <= LIMIT and identical else 1


if __name__ == "__main__":
    sys.exit(main())
