"""The draw-a-digit server (src/serve.py) under hostile clients, in a process of its own on the
trained models of stages/train: its peak memory while 8 clients each post the worst picture the
pixel cap allows, beside its idle memory (issue 31: under 1 GB), and a good picture's answer
time while 200 idle connections, 20 stalled headers and 20 stalled bodies are held (under 1 s).

    python benchmarks/serve_limits.py
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))
from digit_strokes import draw  # noqa: E402

from mnist_pipeline.pictures import MAX_PIXELS  # noqa: E402


def memory(pid: int) -> dict[str, float]:
    """The process's resident and peak resident memory in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", status)[1]) / 1024 for k in ("VmRSS", "VmHWM")}


def post(port: int, body: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("POST", "/predict", body=body)
    status = connection.getresponse().status
    connection.close()
    return status, time.perf_counter() - started


def worst_picture() -> bytes:
    """An RGBA PNG of ``MAX_PIXELS`` pixels under the 1 MB body cap: a digit drawn large (its
    decoding costs what its pixels and mode cost, whatever they show)."""
    side = int(MAX_PIXELS**0.5)
    buffer = io.BytesIO()
    draw(7).convert("RGBA").resize((side, side)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    server = subprocess.Popen([sys.executable, "src/serve.py", "--port", "0"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port = int(re.search(r":(\d+)/", server.stdout.readline())[1])
        good = Image.new("RGB", (280, 280))
        good.paste(draw(7).resize((280, 280)))
        buffer = io.BytesIO()
        good.save(buffer, "PNG")
        good_body = buffer.getvalue()
        post(port, good_body)
        idle = memory(server.pid)
        worst = worst_picture()
        with ThreadPoolExecutor(8) as pool:
            statuses = [s for s, _ in pool.map(lambda _: post(port, worst), range(8))]
        peak = memory(server.pid)["VmHWM"]
        print(f"pixel cap {MAX_PIXELS:,}; worst picture {len(worst):,} bytes, statuses {statuses}")
        print(f"memory: idle {idle['VmRSS']:.0f} MB, peak under 8 worst pictures {peak:.0f} MB "
              f"({peak / idle['VmRSS']:.1f}x idle; issue 31: under 1,024 MB)")  # fmt: skip
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(240)]
        for i, connection in enumerate(held[200:]):  # half a header, or a tenth of a body
            tail = b"Ho" if i % 2 else b"Content-Length: 500000\r\n\r\n0123"
            connection.sendall(b"POST /predict HTTP/1.1\r\n" + tail)
        times = [post(port, good_body)[1] for _ in range(10)]
        print(
            f"a good picture with 200 idle, 20 stalled headers and 20 stalled bodies held: "
            f"median {statistics.median(times):.3f} s, max {max(times):.3f} s (issue 31: < 1 s)"
        )
        for connection in held:
            connection.close()
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(REPO / "src"))
    main()
