"""Progress of a long step on stderr, for a person to see: a bar on a terminal (tqdm, which
DVC installs), plain log lines otherwise (a log file, CI, `dvc repro` piped into a file)."""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

LOG_LINES = 10
"""Lines a long step writes to a log: one per item up to twice this many items, else one at
each tenth of the way."""


def on_terminal() -> bool:
    """Whether stderr is a terminal (a bar can redraw itself there)."""
    return sys.stderr.isatty()


class Progress:
    """``total`` items of ``what`` done one after another: ``advance(done, note)`` after each.

    On a terminal a bar, redrawn in place and removed at ``close``; elsewhere a line
    ``<what> <done>/<total>: <note> (<seconds> s)`` on ``log`` after each item, or at each
    tenth of the way for more than ``2 * LOG_LINES`` items, and always after the last."""

    def __init__(self, log: logging.Logger, what: str, total: int, *, unit: str = "it") -> None:
        self.log, self.what, self.total = log, what, total
        self.every = 1 if total <= 2 * LOG_LINES else math.ceil(total / LOG_LINES)
        self.started = time.perf_counter()
        self.bar: Any = None
        if on_terminal():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, desc=f"{log.name}: {what}", unit=unit, leave=False, file=sys.stderr
            )

    def advance(self, done: int, note: str = "") -> None:
        """``done`` items of ``total`` are done; ``note`` says how the last went."""
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            if note:
                self.bar.set_postfix_str(note, refresh=True)
        elif done % self.every == 0 or done == self.total:
            seconds = time.perf_counter() - self.started
            tail = f": {note}" if note else ""
            self.log.info("%s %d/%d%s (%.1f s)", self.what, done, self.total, tail, seconds)

    def close(self) -> None:
        """Remove the bar (a log keeps its lines)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
