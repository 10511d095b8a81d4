"""One results file per run: the Markdown report a person reads and a small JSON beside it,
``benchmarks/runs/<date>-<topic>.md`` and ``.json``, and the helpers that write them."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.kernels import BENCHMARKS

RUNS = BENCHMARKS / "runs"
PACKAGES = ("numpy", "scipy", "scikit-learn", "dvc")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def log(message: str) -> None:
    """A progress line on stderr, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]  # over 1, 5 and 15 minutes


def machine() -> dict[str, Any]:
    """The CPU, cores, Python and package versions, the commit measured, the time, the load."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    git = ["git", "describe", "--always", "--dirty"]
    commit = subprocess.run(git, cwd=BENCHMARKS, capture_output=True, text=True).stdout.strip()
    return {
        "cpu": next((x.split(":")[1].strip() for x in cpuinfo if x.startswith("model name")), "?"),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "versions": {name: importlib.metadata.version(name) for name in PACKAGES},
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load": load(),
    }


def publish(
    topic: str, title: str, about: Mapping, lines: list[str], data: Mapping, out: Path = RUNS
) -> Path:
    """Print a run's report (the title, a sentence of ``about``, ``lines``) and write it with
    its JSON (``data``, ``about`` as its ``machine``) to ``out`` (``write_run``)."""
    versions = ", ".join(f"{k} {v}" for k, v in about["versions"].items())
    head = f"{about['date']}, commit {about['commit']}, {about['cpu']}, {about['cores']} cores, "
    head += f"Python {about['python']}, {versions}. Load average {about['load']} at the start."
    text = "\n".join([f"# {title}", "", head, "", *lines]) + "\n"
    sys.stdout.write(text)
    return write_run(topic, text, {"machine": about, **data}, out, about["date"][:10])


def write_run(
    topic: str, markdown: str, data: Mapping[str, Any], out: Path = RUNS, day: str | None = None
) -> Path:
    """Write ``out/<day>-<topic>.md`` and ``.json`` (day: today) and delete the topic's earlier
    results: a topic has one result, its last (git keeps the others). The Markdown's path."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{day or time.strftime('%Y-%m-%d')}-{topic}"
    small = ",\n".join(f" {json.dumps(key)}: {json.dumps(value)}" for key, value in data.items())
    stem.with_suffix(".json").write_text("{\n" + small + "\n}\n")  # one line per key
    stem.with_suffix(".md").write_text(markdown)
    earlier = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}-{re.escape(topic)}\.(md|json)")
    for path in out.iterdir():
        if earlier.fullmatch(path.name) and path.with_suffix("") != stem:
            path.unlink()
    return stem.with_suffix(".md")
