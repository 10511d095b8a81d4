"""``timed.py STAGE COMMAND...``: run COMMAND and append to the file $BENCH_STAGE_LOG one JSON
line of the stage's name, wall and CPU seconds, peak resident memory and exit code
(``os.wait4``: that process's own). The benchmark's copy of dvc.yaml runs every stage through
it, in ``python -I -S`` (standard library only)."""

import json
import os
import sys
import time


def main(stage: str, argv: list[str]) -> int:
    """Run ``argv``; return its exit code."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    record = {
        "stage": stage,
        "wall": round(time.perf_counter() - started, 3),
        "cpu": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": code,
    }
    with open(os.environ["BENCH_STAGE_LOG"], "a") as log:
        log.write(json.dumps(record) + "\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
