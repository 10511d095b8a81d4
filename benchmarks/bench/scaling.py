"""How each stage's time and memory grow with the number of training images.

For each size n, a fresh copy of the project runs the default pipeline (a cold ``dvc repro``)
on a training set of n images plus the usual 10,000 validation images and the 10,000 test
images. Sizes up to 50,000 take MNIST's first n training images; beyond, shifted copies of
them (each digit moved by one or two pixels, a standard augmentation) follow the originals.
At 50,000 the training file is MNIST's own, byte for byte, so that run must reproduce the
committed metrics/ and plots/ exactly. Per stage the wrapper of ``bench.harness`` records wall
time and peak RSS; the growth exponent of a stage is the slope of log(wall) against log(n).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.harness import REPO, Sandbox, benchmark_copy, log, timed_dvc, write_wrapper
from mnist_pipeline.plumbing.idx import MNIST_FILE_NAMES, read_idx, write_idx_dataset

MNIST = REPO / "data" / "mnist"
TRAIN_IMAGES = MNIST_FILE_NAMES["train_images"]
TRAIN_LABELS = MNIST_FILE_NAMES["train_labels"]
VALIDATION = 10_000
SHIFTS = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, -1), (2, 0), (0, 2))
"""(rows, columns) each successive copy of the originals is moved by, zeros filling in."""


@dataclass
class SizeRun:
    """One cold ``dvc repro`` on ``n`` training images."""

    n: int
    wall: float
    stages: dict[str, dict[str, float]]
    """Stage name -> {"wall": seconds, "peak_rss_mb": MB}."""
    load_before: list[float]
    load_after: list[float]
    identical_to_committed: bool | None = None
    """At n = 50,000 (MNIST's own training file): whether every metrics/ and plots/ file is
    the committed one, byte for byte; None at other sizes."""


@dataclass
class Scaling:
    """Every size's run and, per stage, the fitted growth exponent."""

    runs: list[SizeRun]
    exponents: dict[str, float] = field(default_factory=dict)
    """Per stage, the growth exponent over every size."""
    tail_exponents: dict[str, float] = field(default_factory=dict)
    """Per stage, the growth exponent between the two largest sizes."""

    @classmethod
    def of(cls, runs: list[SizeRun]) -> Scaling:
        """The runs, sorted by size, with both exponents fitted."""
        runs = sorted(runs, key=lambda run: run.n)
        return cls(runs, growth_exponents(runs), growth_exponents(runs[-2:]))


def shifted(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``images`` (n x height x width) moved by ``rows`` down and ``cols`` right, zero-filled."""
    out = np.zeros_like(images)
    height, width = images.shape[1:]
    src_r = slice(max(0, -rows), height - max(0, rows))
    dst_r = slice(max(0, rows), height - max(0, -rows))
    src_c = slice(max(0, -cols), width - max(0, cols))
    dst_c = slice(max(0, cols), width - max(0, -cols))
    out[:, dst_r, dst_c] = images[:, src_r, src_c]
    return out


def training_set(images: np.ndarray, labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training file resized to ``n`` training images followed by its last 10,000
    (the validation split): the first n originals, then shifted copies of the originals, in
    ``SHIFTS`` order, until n are there. At n = 50,000 this is the file itself."""
    originals, original_labels = images[:-VALIDATION], labels[:-VALIDATION]
    parts, part_labels, have = [], [], 0
    copies = [(0, 0), *SHIFTS]
    while have < n:
        if len(parts) == len(copies):
            raise ValueError(f"n = {n}: at most {len(copies) * len(originals)} images")
        rows, cols = copies[len(parts)]
        take = min(n - have, len(originals))
        moved = (
            originals[:take] if (rows, cols) == (0, 0) else shifted(originals[:take], rows, cols)
        )
        parts.append(moved)
        part_labels.append(original_labels[:take])
        have += take
    return (
        np.concatenate([*parts, images[-VALIDATION:]]),
        np.concatenate([*part_labels, labels[-VALIDATION:]]),
    )


def write_dataset(folder: Path, n: int) -> dict[str, dict]:
    """Write the four IDX files of the size-``n`` dataset into ``folder``; return the params
    ``files`` entries (name, sha256, size) of the four roles."""
    images, labels = training_set(read_idx(MNIST / TRAIN_IMAGES), read_idx(MNIST / TRAIN_LABELS), n)
    arrays = {"train_images": images, "train_labels": labels}
    arrays |= {
        role: read_idx(MNIST / MNIST_FILE_NAMES[role]) for role in ("test_images", "test_labels")
    }
    return write_idx_dataset(folder, arrays)


def point_params_at(copy: Path, folder: Path, files: dict[str, dict[str, object]]) -> None:
    """Make the copy's dataset description (datasets.yaml) read from ``folder`` only, with
    ``files``."""
    import yaml

    selected = yaml.safe_load((copy / "params.yaml").read_text())["dataset"]
    path = copy / "datasets.yaml"
    catalogue = yaml.safe_load(path.read_text())
    catalogue["datasets"][selected].update(mirrors=[str(folder)], files=files)
    path.write_text(yaml.safe_dump(catalogue, sort_keys=False))


def identical_outputs(copy: Path) -> bool:
    """Whether every file under the copy's metrics/ and plots/ is the committed one."""
    for folder in ("metrics", "plots"):
        ours = {
            p.relative_to(copy): p.read_bytes() for p in (copy / folder).rglob("*") if p.is_file()
        }
        committed = {
            p.relative_to(REPO): p.read_bytes() for p in (REPO / folder).rglob("*") if p.is_file()
        }
        if ours != committed:
            differing = sorted(
                str(k) for k in set(ours) | set(committed) if ours.get(k) != committed.get(k)
            )
            log(f"differs from the committed {folder}/: {', '.join(differing[:5])}")
            return False
    return True


def run_size(root: Path, n: int) -> SizeRun:
    """A cold ``dvc repro`` of a fresh copy on ``n`` training images."""
    box = Sandbox(
        copy=benchmark_copy(root / f"repo-{n}"),
        wrapper=write_wrapper(root / "wrapper"),
        stage_log=root / f"stages-{n}.jsonl",
        work_log=root / f"work-{n}.jsonl",
    )
    if n != len(read_idx(MNIST / TRAIN_LABELS)) - VALIDATION:
        point_params_at(box.copy, root / f"data-{n}", write_dataset(root / f"data-{n}", n))
    log(f"n = {n}: cold dvc repro")
    run = timed_dvc(box, "repro")
    failed = sorted(name for name, stage in run.stages.items() if stage.exit != 0)
    if failed:
        raise RuntimeError(f"n = {n}: stages failed: {', '.join(failed)}")
    result = SizeRun(
        n=n,
        wall=run.wall,
        stages={
            name: {"wall": stage.wall, "peak_rss_mb": stage.peak_rss_mb}
            for name, stage in sorted(run.stages.items())
        },
        load_before=run.load_before,
        load_after=run.load_after,
        identical_to_committed=identical_outputs(box.copy) if n == 50_000 else None,
    )
    log(f"n = {n}: {run.wall:.1f} s, load {run.load_before} -> {run.load_after}")
    shutil.rmtree(box.copy)
    shutil.rmtree(root / f"data-{n}", ignore_errors=True)
    return result


def growth_exponents(runs: list[SizeRun]) -> dict[str, float]:
    """Per stage, the least-squares slope of log(wall) against log(n) over ``runs``' sizes.

    Over every size, a stage's fixed start-up (about a second) flattens the slope; over the
    two largest sizes it is closer to how the work itself grows."""
    sizes = np.log([run.n for run in runs])
    stages = sorted(set.intersection(*(set(run.stages) for run in runs)))
    return {
        stage: round(
            float(np.polyfit(sizes, np.log([r.stages[stage]["wall"] for r in runs]), 1)[0]), 2
        )
        for stage in stages
    }


def to_json(scaling: Scaling) -> str:
    """The results as indented JSON."""
    from dataclasses import asdict

    return json.dumps(asdict(scaling), indent=1) + "\n"


def from_json(text: str) -> Scaling:
    """Read what ``to_json`` wrote."""
    data = json.loads(text)
    return Scaling.of([SizeRun(**run) for run in data["runs"]])


def markdown_table(scaling: Scaling) -> str:
    """One row per stage: wall seconds and peak RSS at each size, and the growth exponent."""
    sizes = [run.n for run in scaling.runs]
    head = [
        "stage",
        *(f"{n:,} s" for n in sizes),
        f"{sizes[-1]:,} RSS MB",
        "exponent",
        f"{sizes[-2]:,}->{sizes[-1]:,}",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    order = sorted(scaling.exponents, key=lambda s: -scaling.runs[-1].stages[s]["wall"])
    for stage in order:
        walls = [f"{run.stages[stage]['wall']:.1f}" for run in scaling.runs]
        rss = f"{scaling.runs[-1].stages[stage]['peak_rss_mb']:.0f}"
        lines.append(
            f"| {stage} | {' | '.join(walls)} | {rss} | {scaling.exponents[stage]:.2f} "
            f"| {scaling.tail_exponents[stage]:.2f} |"
        )
    total = [f"**{run.wall:.1f}**" for run in scaling.runs]
    lines.append(f"| cold `dvc repro` | {' | '.join(total)} | | | |")
    return "\n".join(lines) + "\n"


def plot(scaling: Scaling, dest: Path) -> None:
    """Wall time against n, log-log, one line per stage (the ten slowest at the largest n
    labelled), to ``dest`` as PNG."""
    from mnist_pipeline.plumbing.drawing import new_figure, save_png, style

    with style():
        figure = new_figure(8, 6)
        _draw(figure.add_subplot(), scaling)
    save_png(figure, dest, dpi=100)


def _draw(ax, scaling: Scaling) -> None:
    sizes = [run.n for run in scaling.runs]
    order = sorted(scaling.exponents, key=lambda s: -scaling.runs[-1].stages[s]["wall"])
    for rank, stage in enumerate(order):
        walls = [run.stages[stage]["wall"] for run in scaling.runs]
        label = f"{stage} ({scaling.tail_exponents[stage]:.2f})" if rank < 10 else None
        ax.plot(
            sizes,
            walls,
            marker="o",
            linewidth=1.5 if rank < 10 else 0.6,
            alpha=1.0 if rank < 10 else 0.4,
            label=label,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training images (n)")
    ax.set_ylabel("stage wall time (s)")
    ax.set_title("cold dvc repro: time per stage against n (exponent between the two largest n)")
    ax.legend(fontsize=7, loc="upper left")
