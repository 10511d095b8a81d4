"""What every stage script shares: log lines on stderr, expected failures as one line, and
SIGTERM handled like Ctrl-C (temporary files removed on the way out)."""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

TERMINATED_EXIT = 128 + signal.SIGTERM
"""The exit status after SIGTERM, as a shell reports a process the signal ended."""


class Terminated(BaseException):
    """SIGTERM arrived. A ``BaseException``, like ``KeyboardInterrupt``, so that it unwinds
    through every ``finally`` (which removes temporary files) and no ``except Exception``
    swallows it."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def run_stage(
    name: str, work: Callable[[], None], expected_errors: tuple[type[BaseException], ...]
) -> int:
    """Run ``work``; return 0, or 1 after printing ``<name>: error: <message>`` for an expected
    error (a bad parameter or input file). Anything else is a bug and keeps its traceback.
    SIGTERM unwinds ``work`` as Ctrl-C would, then prints one line and returns 143."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    started = time.perf_counter()
    try:
        work()
    except expected_errors as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 1
    except Terminated:
        print(f"{name}: error: terminated by SIGTERM", file=sys.stderr)
        return TERMINATED_EXIT
    finally:
        signal.signal(signal.SIGTERM, previous)
    logging.getLogger(name).info("done in %.1f s", time.perf_counter() - started)
    return 0
