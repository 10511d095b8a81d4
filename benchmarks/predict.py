"""Speed of using a packaged model (issue 21): `src/predict.py` on one picture from a cold
start and on 1,000 pictures, and the draw-a-digit server's answer time under 8 concurrent
clients, with same-run references: a bare `python -c "import sklearn"` and the model's own
in-process predict of one image. Needs the packages of `dvc repro` (stages/package/).

Usage: ``.venv/bin/python benchmarks/predict.py [--model svm] [--out benchmarks/runs]``;
writes ``<date>-predict.md`` and ``<date>-predict.json`` there. Targets: one picture <= 1.5 x
(import sklearn + the model's predict of one image); the server's median <= 50 ms for svm.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import numpy as np
from PIL import Image

from mnist_pipeline.plumbing.files import write_json, write_text
from mnist_pipeline.tools.predict import answers, load_package

REPO = Path(__file__).resolve().parents[1]
CLIENTS = 8
REQUESTS = 400


def wall(command: list[str | Path], repeat: int) -> list[float]:
    """Seconds of ``command`` run ``repeat`` times in the repository, each from a cold start."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def pictures(folder: Path, count: int, size: int, light_on_dark: bool) -> list[Path]:
    """``count`` pictures of handwritten digits (scikit-learn's load_digits, upscaled to
    ``size`` pixels as a scan or a canvas would be) as PNG files in ``folder``."""
    from sklearn.datasets import load_digits

    folder.mkdir(parents=True, exist_ok=True)
    images = load_digits().images
    paths = []
    for i in range(count):
        ink = images[i % len(images)] * (255 / 16)
        grey = ink if light_on_dark else 255 - ink
        picture = Image.fromarray(grey.astype(np.uint8)).resize((size, size), Image.BILINEAR)
        paths.append(folder / f"{i:04d}.png")
        picture.save(paths[-1])
    return paths


def model_predict_one(model: str, picture: Path, repeat: int = 50) -> float:
    """Median seconds of the package's own answer for one prepared image (predict and its
    confidence, as src/predict.py asks), warm, in this process."""
    from mnist_pipeline.preparation import prepare_file

    package = load_package(model, REPO)
    image = prepare_file(picture)[1][None]
    answers(package, image)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answers(package, image)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def server_latencies(model: str, bodies: list[bytes]) -> list[float]:
    """Seconds per answer of `src/serve.py --model <model>`, ``REQUESTS`` drawn pictures sent
    by ``CLIENTS`` concurrent clients on 127.0.0.1."""
    server = subprocess.Popen(
        [sys.executable, "src/serve.py", "--port", "0", "--model", model],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        host, port = line.split("http://")[1].split("/")[0].split(":")

        def client(number: int) -> list[float]:
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            times = []
            for i in range(REQUESTS // CLIENTS):
                started = time.perf_counter()
                connection.request("POST", "/predict", body=bodies[(number + i) % len(bodies)])
                response = connection.getresponse()
                response.read()
                times.append(time.perf_counter() - started)
                assert response.status == 200, response.status
            connection.close()
            return times

        with ThreadPoolExecutor(CLIENTS) as pool:
            return [t for found in pool.map(client, range(CLIENTS)) for t in found]
    finally:
        server.terminate()
        server.wait(timeout=30)


def report(model: str, results: dict) -> str:
    """The run as Markdown: raw seconds and the same-run ratios the targets are judged on."""
    r = results
    reference = r["import_sklearn_s"] + r["model_predict_one_s"]
    rows = [
        ('`python -c "import sklearn"` (median)', r["import_sklearn_s"], "1.00x"),
        (f"{model}'s own answer for one image, warm", r["model_predict_one_s"], ""),
        (
            f"`src/predict.py --model {model}` one picture, cold",
            r["predict_one_s"],
            f"{r['predict_one_s'] / reference:.2f}x of import + own (target <= 1.5)",
        ),
        (
            "`src/predict.py` (default model: leaderboard) one picture",
            r["predict_one_default_s"],
            f"{r['predict_one_default_s'] / reference:.2f}x of import + own",
        ),
        (
            f"`src/predict.py --model {model}` 1,000 pictures",
            r["predict_1000_s"],
            f"{r['predict_1000_s']:.1f} ms a picture",
        ),
        (
            f"server median answer ({CLIENTS} clients, {REQUESTS} requests)",
            r["server_median_s"],
            f"{r['server_median_s'] / r['import_sklearn_s']:.3f}x import (target <= 50 ms)",
        ),
        ("server 95th percentile", r["server_p95_s"], ""),
    ]
    lines = [
        f"# predict and serve, {r['date']} ({r['cores']} cores, load {r['load']})",
        "",
        "| measurement | seconds | same-run ratio |",
        "|---|---:|---|",
        *(f"| {name} | {seconds:.3f} | {ratio} |" for name, seconds, ratio in rows),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the Markdown, write it and the JSON; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="svm", help="the packaged model (default svm)")
    parser.add_argument("--repeat", type=int, default=5, help="cold starts per command")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/runs")
    args = parser.parse_args(argv)
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        scans = pictures(Path(scratch) / "scans", 1000, 160, light_on_dark=False)
        canvases = pictures(Path(scratch) / "canvas", 40, 280, light_on_dark=True)
        one = [python, "src/predict.py", "--model", args.model, scans[0]]
        results = {
            "date": datetime.date.today().isoformat(),
            "cores": len(os.sched_getaffinity(0)),
            "load": f"{os.getloadavg()[0]:.1f}",
            "model": args.model,
            "import_sklearn_s": statistics.median(
                wall([python, "-c", "import sklearn"], args.repeat)
            ),
            "model_predict_one_s": model_predict_one(args.model, scans[0]),
            "predict_one_s": statistics.median(wall(one, args.repeat)),
            "predict_one_default_s": statistics.median(
                wall([python, "src/predict.py", scans[0]], args.repeat)
            ),
            "predict_1000_s": statistics.median(
                wall([python, "src/predict.py", "--model", args.model, scans[0].parent], 3)
            ),
        }
        latencies = server_latencies(args.model, [p.read_bytes() for p in canvases])
    results["server_median_s"] = statistics.median(latencies)
    results["server_p95_s"] = float(np.percentile(latencies, 95))
    markdown = report(args.model, results)
    print(markdown)
    stem = args.out / f"{results['date']}-predict"
    write_text(stem.with_suffix(".md"), markdown)
    write_json(stem.with_suffix(".json"), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
