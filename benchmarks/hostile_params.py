"""Hostile params files (issue 24) against the stage scripts: what each gets, in how many
seconds and how much memory. Each case of the tests (tests/hostile_files.py) runs in a folder
of its own through one stage script, in a fresh interpreter killed past ``--timeout`` s or
``--max-rss`` MB, beside its stage's reference: the same script refusing an unknown key.
``--repo``: another checkout's scripts (a "before"). Writes runs/<date>-hostile-params-<label>.*
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.kernels import BENCHMARKS, measure, ratio
from bench.report import RUNS, log, machine, publish, table

sys.path.insert(0, str(BENCHMARKS.parent / "tests"))  # the cases: test support
from hostile_files import CASES, N_LINE, STAGE_ARGS, replaced, write_case

STAGES = {"bomb-as-knn-k": "train", "min-rate-nan": "download", "timeout-inf": "download"}
STAGES |= {f"reference-{s}": s for s in ("pca", "train", "download")}  # other cases: pca
REFERENCE = replaced(N_LINE, f"  nn: 1\n{N_LINE}"), "pca.nn: unknown key"
HOSTILE = {**{name: REFERENCE for name in STAGES if name.startswith("reference")}, **CASES}


def run_case(repo: Path, case: Path, stage: str, args: argparse.Namespace) -> dict:
    """``--repeat`` runs: the last one's exit, the median seconds, the peak MB, whether it wrote
    a file or printed a traceback, whether its last line is the refusal the tests expect."""
    script = [sys.executable, str(repo / "src" / f"{stage}.py"), "--params", "params.yaml"]
    before, runs = sorted(case.iterdir()), []
    for _ in range(args.repeat):
        runs.append(measure([*script, *STAGE_ARGS[stage]], cwd=case, check=False,
                            timeout=args.timeout, max_rss_mb=args.max_rss))  # fmt: skip
    done, last = runs[-1], (runs[-1].stderr.strip().splitlines() or [""])[-1]
    return {
        "stage": stage,
        "exit": done.exit,
        "seconds": round(statistics.median(r.wall for r in runs), 2),
        "peak_mb": max(r.peak_rss_mb for r in runs),
        "traceback": "Traceback" in done.stderr,
        "wrote": sorted(case.iterdir()) != before,
        "expected": HOSTILE[case.name][1] in last,
        "last_line": last[:160],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=BENCHMARKS.parent, help="whose scripts run")
    parser.add_argument("--label", default="after", help="names the result files")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a kill")
    parser.add_argument("--max-rss", type=float, default=2048.0, help="MB before a kill")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (the median)")
    parser.add_argument("--out", type=Path, default=RUNS)
    args = parser.parse_args(argv)
    repo, rows, about = args.repo.resolve(), {}, machine()
    with tempfile.TemporaryDirectory() as tmp:
        for name in HOSTILE:
            write_case(Path(tmp) / name, name, repo, HOSTILE)
            rows[name] = run_case(repo, Path(tmp) / name, STAGES.get(name, "pca"), args)
            log(f"{name}: {rows[name]}")
    cells = []
    for name, row in rows.items():
        ref = rows[f"reference-{row['stage']}"]
        flags = ["yes" if row[key] else "no" for key in ("traceback", "wrote", "expected")]
        cells.append([name, row["stage"], row["exit"], row["seconds"],
                      ratio(row["seconds"], ref["seconds"]), row["peak_mb"],
                      ratio(row["peak_mb"], ref["peak_mb"]), *flags,
                      row["last_line"].replace("|", "\\|")])  # fmt: skip
    head = ["case", "stage", "exit", "s", "x ref", "peak MB", "x ref", "traceback", "wrote"]
    lines = [
        "`x ref`: a case's seconds or peak memory over its stage's reference (the same script "
        "refusing `pca.nn`); `as tested`: its last line is the refusal tests/hostile_files.py "
        "expects.",
        "",
        *table([*head, "as tested", "last line"], cells),
    ]
    title = f"Hostile params files, {args.label} ({repo.name})"
    publish(f"hostile-params-{args.label}", title, about, lines, rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
