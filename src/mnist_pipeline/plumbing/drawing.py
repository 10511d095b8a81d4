"""Figures written as PNG files that are the same bytes for the same data.

Every figure is a bare matplotlib ``Figure`` (no pyplot, no GUI backend, no global state),
drawn by Agg in matplotlib's default style plus ``STYLE`` below, whatever a user's
matplotlibrc says, at a fixed size in inches and a fixed dpi, and saved without the
"Software" text chunk that would name the matplotlib version. With matplotlib and Pillow
pinned (pyproject.toml), the same data give the same PNG bytes, so git sees no change when
nothing changed. matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from mnist_pipeline.plumbing.files import atomic_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.interpolation": "nearest",
}

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Within the block: matplotlib's default style plus ``STYLE``, ignoring any matplotlibrc."""
    import matplotlib.style

    with matplotlib.style.context(["default", STYLE]):
        yield


def styled(func: Callable[P, R]) -> Callable[P, R]:
    """Run a figure-drawing function inside ``style()``: artists read rcParams when created."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with style():
            return func(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    """A figure of ``width`` x ``height`` inches (call inside ``style()``)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def png_bytes(figure: Figure, dpi: int) -> bytes:
    """The figure as PNG: fixed size and dpi, no metadata text chunk."""
    buffer = io.BytesIO()
    with style():
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def save_png(figure: Figure, dest: Path, dpi: int) -> None:
    """Write the figure's PNG to ``dest`` atomically."""
    data = png_bytes(figure, dpi)
    with atomic_file(Path(dest)) as tmp:
        tmp.write_bytes(data)
