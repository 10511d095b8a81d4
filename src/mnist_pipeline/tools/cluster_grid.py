"""The grid of a cluster sweep: the `-S` overrides expanded as `dvc exp run --queue` expands
them, and each point's name, derived from its parameters so that a retried point cannot make a
second experiment. Its own module to keep `tools.cluster`, the submitter, under 400 lines.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mnist_pipeline.tools.cluster import ClusterError
from mnist_pipeline.tools.cluster_task import last_line

NAME_LIMIT = 60
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class GridPoint:
    """One experiment of the grid: its `-S` overrides and the name derived from them."""

    overrides: tuple[str, ...]
    name: str


def expand_grid(settings: Sequence[str]) -> list[tuple[str, ...]]:
    """The points of the grid that ``settings`` (each a `-S` argument: ``pca.n=10,20``,
    ``models.knn.k=range(1,4)``) describe, in the order `dvc exp run --queue` queues them:
    DVC's own parser and hydra's sweeper. ClusterError naming a bad argument."""
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import get_hydra_sweeps

    if not settings:
        raise ClusterError("no grid: give at least one -S KEY=VALUES, e.g. -S pca.n=20,40")
    try:
        sweeps = get_hydra_sweeps(to_path_overrides(settings))
    except Exception as err:  # DVC's InvalidArgumentError and hydra's parse errors
        raise ClusterError(f"-S {' -S '.join(settings)}: {last_line(str(err))}") from err
    points = []
    for sweep in sweeps:
        points.append(
            tuple(
                override if path == "params.yaml" else f"{path}:{override}"
                for path, overrides in sweep.items()
                for override in overrides
            )
        )
    return points


def point_name(overrides: Sequence[str]) -> str:
    """A name for the experiment of ``overrides``, the same on every run and every machine:
    ``pca.n-40_models.knn.k-3``; with a digest of the overrides appended when characters had
    to be replaced or the name would be long, so that two points never share one."""
    readable = "_".join(override.replace("=", "-", 1) for override in overrides)
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", readable)
    valid = SAFE_NAME.match(safe) and not safe.endswith((".", ".lock")) and ".." not in safe
    if safe == readable and len(safe) <= NAME_LIMIT and valid:
        return safe
    digest = hashlib.sha256("\0".join(overrides).encode()).hexdigest()[:10]
    return f"{safe[:NAME_LIMIT].strip('.-_') or 'point'}-{digest}"


def grid(settings: Sequence[str]) -> list[GridPoint]:
    """The grid's points with their names; ClusterError if two points are the same."""
    points = [GridPoint(tuple(o), point_name(o)) for o in expand_grid(settings)]
    names = [point.name for point in points]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ClusterError(f"the grid has the same point twice: {', '.join(twice)}")
    return points
