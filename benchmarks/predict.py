"""Speed of using a packaged model (issue 21): ``src/predict.py`` on one picture from a cold
start and on 1,000, and ``src/serve.py``'s answers to 8 concurrent clients, beside a bare
``import sklearn`` and the model's own warm answer for one image. Targets: one picture <= 1.5 x
(import + own answer), the server's median <= 50 ms. Needs ``make repro``'s packages."""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import argparse
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

from bench.kernels import BENCHMARKS, measure, ratio
from bench.report import RUNS, machine, publish, table

from mnist_pipeline import answers
from mnist_pipeline.pictures import mnist_form, read_picture

sys.path.insert(0, str(BENCHMARKS.parent / "tests"))  # the load test's clients: test support
from digit_strokes import draw
from load_clients import post_concurrently

REPO = BENCHMARKS.parent
CLIENTS, REQUESTS = 8, 400


def cold(args: list[str | Path], repeat: int) -> float:
    """Median seconds of ``python <args>`` in the repository, each run from a cold start."""
    return statistics.median(measure([sys.executable, *args], cwd=REPO).wall for _ in range(repeat))


def pictures(folder: Path, count: int, size: int, canvas: bool) -> list[Path]:
    """``count`` PNGs of digits drawn with a pen (tests/digit_strokes.py), ``size`` pixels wide,
    dark on light as a scan, or light on dark as the page's canvas."""
    folder.mkdir()
    colours = {"ink": (255, 255, 255), "paper": (0, 0, 0)} if canvas else {}
    for i in range(count):
        draw(i % 10, size, **colours).save(folder / f"{i:04d}.png")
    return sorted(folder.iterdir())


def own_answer(model: str, picture: Path, repeat: int = 50) -> float:
    """Median seconds of the package's answer (class and confidence) for one prepared image,
    warm, in this process."""
    loaded = answers.load(REPO / answers.MODELS / model)
    image = mnist_form(read_picture(picture))[None]
    times = timeit.repeat(lambda: answers.answers(loaded, image), number=1, repeat=repeat + 1)
    return statistics.median(times[1:])


def server_latencies(model: str, bodies: list[bytes]) -> list[float]:
    """Seconds per answer of ``src/serve.py`` to ``CLIENTS`` concurrent clients on 127.0.0.1."""
    serve = [sys.executable, "src/serve.py", "--port", "0", "--model", model]
    server = subprocess.Popen(serve, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        host, port = server.stdout.readline().split("http://")[1].split("/")[0].split(":")
        answers = post_concurrently((host, int(port)), bodies, REQUESTS, CLIENTS, timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if {status for status, _ in answers} != {200}:
        raise RuntimeError(f"/predict answered {sorted({status for status, _ in answers})}")
    return [seconds for _, seconds in answers]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="svm", help="the packaged model (default svm)")
    parser.add_argument("--repeat", type=int, default=5, help="cold starts per command")
    parser.add_argument("--out", type=Path, default=RUNS)
    args = parser.parse_args(argv)
    about, m = machine(), args.model
    with tempfile.TemporaryDirectory() as scratch:
        scans = pictures(Path(scratch) / "scans", 1000, 160, canvas=False)
        canvases = pictures(Path(scratch) / "canvas", 40, 280, canvas=True)
        s = {
            "import_sklearn": cold(["-c", "import sklearn"], args.repeat),
            "own_answer": own_answer(m, scans[0]),
            "predict_one": cold(["src/predict.py", "--model", m, scans[0]], args.repeat),
            "predict_one_default": cold(["src/predict.py", scans[0]], args.repeat),
            "predict_1000": cold(["src/predict.py", "--model", m, scans[0].parent], 3),
        }
        latencies = server_latencies(m, [p.read_bytes() for p in canvases])
    s["server_median"] = statistics.median(latencies)
    s["server_p95"] = statistics.quantiles(latencies, n=20)[-1]
    own, sklearn = s["import_sklearn"] + s["own_answer"], s["import_sklearn"]
    rows = [
        ('`python -c "import sklearn"`', "import_sklearn", None),
        (f"{m}'s own answer for one image, warm", "own_answer", None),
        (f"`src/predict.py --model {m}`, one picture (limit 1.5)", "predict_one", own),
        ("`src/predict.py` (the leaderboard's best), one picture", "predict_one_default", own),
        (f"`src/predict.py --model {m}`, 1,000 pictures", "predict_1000", s["predict_one"]),
        (f"server's median answer, {CLIENTS} clients (limit 0.050 s)", "server_median", sklearn),
        (f"server's 95th percentile, {REQUESTS} requests", "server_p95", sklearn),
    ]
    cells = [[name, f"{s[k]:.3f}", "" if by is None else ratio(s[k], by)] for name, k, by in rows]
    lines = [
        "Ratios: one picture over the import and the model's own answer, 1,000 pictures over "
        "one, the server's over the import.",
        "",
        *table(["measurement", "s", "same-run ratio"], cells),
    ]
    publish("predict", "predict and serve", about, lines, s, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
