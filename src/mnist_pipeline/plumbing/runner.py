"""What every stage script shares: its outputs checked to lie inside the repository and cleared
of what killed runs left, log lines on stderr, expected failures as one line (an output that
cannot be written among them), SIGTERM handled like Ctrl-C (temporary files removed on the
way out), and a quick exit."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from mnist_pipeline.plumbing.files import (
    OutputError,
    OutsideRepositoryError,
    check_inside,
    remove_stale_temps,
)

TERMINATED_EXIT = 128 + signal.SIGTERM
"""The exit status after SIGTERM, as a shell reports a process the signal ended."""


class Terminated(BaseException):
    """SIGTERM arrived. A ``BaseException``, like ``KeyboardInterrupt``, so that it unwinds
    through every ``finally`` (which removes temporary files) and no ``except Exception``
    swallows it."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def repository_root(params: Path | None = None) -> Path:
    """The repository a stage writes into: the nearest folder that holds ``.dvc`` or ``.git``,
    from the folder of its ``params`` file up (params.yaml sits at the top of a DVC project,
    where dvc runs every command), or from the current folder for a stage without params;
    that first folder itself if none does."""
    here = Path.cwd() if params is None else Path(os.path.abspath(params)).parent
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir() or (folder / ".git").exists():
            return folder
    return here


def prepare_outputs(name: str, outputs: Sequence[Path], params: Path | None = None) -> None:
    """Before a stage writes anything: refuse an output whose real path is outside the
    repository (``repository_root(params)``; ``OutsideRepositoryError``), then remove the
    temporary names its earlier, killed runs left beside each output (logged), never another
    output's."""
    root = repository_root(params)
    for output in outputs:
        check_inside(output, root)
    log = logging.getLogger(name)
    for output in outputs:
        for path in remove_stale_temps(output):
            log.info("removed %s, left by an earlier run that was killed", path)


def run_stage(
    name: str,
    work: Callable[[], None],
    expected_errors: tuple[type[BaseException], ...],
    *,
    outputs: Sequence[Path | None],
    params: Path | None = None,
) -> int:
    """Run ``work``, which writes ``outputs`` (the paths on the stage's command line; None for
    an optional one not given) from the ``params`` file, after ``prepare_outputs``; return 0,
    or 1 after printing ``<name>: error: <message>`` for an expected error (a bad parameter
    or input file, an output outside the repository or one that cannot be written). Anything
    else is a bug and keeps its traceback. SIGTERM unwinds ``work`` as Ctrl-C would, then
    prints one line and returns 143. A successful ``work`` logs ``<name>: done in <seconds>
    s`` (the benchmark reads it)."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    started = time.perf_counter()
    try:
        prepare_outputs(name, [Path(o) for o in outputs if o is not None], params)
        work()
    except (*expected_errors, OutputError, OutsideRepositoryError) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 1
    except Terminated:
        print(f"{name}: error: terminated by SIGTERM", file=sys.stderr)
        return TERMINATED_EXIT
    finally:
        signal.signal(signal.SIGTERM, previous)
    logging.getLogger(name).info("done in %.1f s", time.perf_counter() - started)
    return 0


def exit_stage(code: int) -> NoReturn:
    """End a stage script's process with exit status ``code`` (``exit_stage(main())``), without
    the garbage collector's walk over every object at interpreter shutdown.

    CPython's shutdown runs full collections and then takes apart, cycle by cycle, every module,
    class and function loaded: 0.15-0.3 s per stage once scikit-learn, SciPy and pandas are
    imported (a full collection alone then takes ~0.05 s), ~0.07 s with matplotlib, a quarter
    of a train stage's overhead. ``gc.freeze()`` moves every object to the permanent
    generation, which no collection visits, so the process ends in ~0.03 s and the operating
    system reclaims its memory. Nothing is skipped that a stage relies on: by now its files
    are written and closed (``files.atomic_*``); atexit handlers (logging's flush,
    ``weakref.finalize``) still run, stdout and stderr are still flushed, and objects outside
    reference cycles are still freed. Only for a process that ends here: called in a process
    that goes on (tests call ``main``), it would keep every object alive until it exits."""
    gc.freeze()
    sys.exit(code)
