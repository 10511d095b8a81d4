"""What every stage script shares: log lines on stderr, and expected failures as one line."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable


def run_stage(
    name: str, work: Callable[[], None], expected_errors: tuple[type[BaseException], ...]
) -> int:
    """Run ``work``; return 0, or 1 after printing ``<name>: error: <message>`` for an expected
    error (a bad parameter or input file). Anything else is a bug and keeps its traceback."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    started = time.perf_counter()
    try:
        work()
    except expected_errors as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 1
    logging.getLogger(name).info("done in %.1f s", time.perf_counter() - started)
    return 0
