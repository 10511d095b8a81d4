"""The draw-a-digit page: a canvas, every packaged model's answer as one draws, and the 28x28
image the models see, served on 127.0.0.1 by the standard library's ``ThreadingHTTPServer``.

Two routes: ``GET /`` (one self-contained page, no CDN: it works with no network) and
``POST /predict`` (a picture, at most ``MAX_BODY`` bytes, prepared as ``src/predict.py``
prepares a file; answers JSON). The standard library is enough for that, so the server adds
no dependency: one thread per connection, the models loaded once and shared (their
``predict`` only reads them), BLAS on one thread per request so that concurrent requests do
not oversubscribe the cores.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mnist_pipeline.preparation import PictureError, mnist_form, read_picture
from mnist_pipeline.tools.predict import Package, answers

MAX_BODY = 1_000_000
"""Largest request body accepted (bytes): a 280x280 canvas PNG is about 10 kB."""
log = logging.getLogger("serve")


def page() -> bytes:
    """The page's HTML, CSS and JavaScript, all in one file."""
    return resources.files("mnist_pipeline.tools").joinpath("serve_page.html").read_bytes()


def predict_body(packages: Sequence[Package], body: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON answer for a posted picture: every package's answer and the 28x28
    image they saw, or why there is none (``blank`` for a picture without ink)."""
    try:
        image = mnist_form(read_picture(io.BytesIO(body)))
    except PictureError as err:
        blank = str(err).startswith("no ink")
        status = HTTPStatus.UNPROCESSABLE_ENTITY if blank else HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        return status, {"error": str(err), "blank": blank}
    found = []
    for package in packages:
        (answer,) = answers(package, image[None])
        found.append(
            {
                "model": package.name,
                "class": answer.answer,
                "confidence": round(answer.confidence, 4),
                "confidence_kind": answer.kind,
                "runner_up": answer.runner_up,
                "text": answer.text(),
            }
        )
    return HTTPStatus.OK, {"answers": found, "image": image.tolist()}


class DigitServer(ThreadingHTTPServer):
    """The page's server, holding the loaded packages (leaderboard order: the first answers
    first)."""

    daemon_threads = True

    def __init__(self, packages: Sequence[Package], host: str = "127.0.0.1", port: int = 0):
        self.packages = list(packages)
        self.page = page()
        super().__init__((host, port), DigitHandler)

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class DigitHandler(BaseHTTPRequestHandler):
    """``GET /`` and ``POST /predict[?models=a,b]``."""

    server: DigitServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the debug log, not stderr."""
        log.debug("%s " + format, self.address_string(), *args)

    def send(self, status: int, body: bytes, content_type: str) -> None:
        """Answer ``status`` with ``body``."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, data: dict[str, Any]) -> None:
        """Answer ``status`` with ``data`` as JSON."""
        self.send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        """The page."""
        if urlsplit(self.path).path in ("/", "/index.html"):
            self.send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"{self.path}: no such page"})

    def do_POST(self) -> None:
        """A picture's answers; 4xx for a body over ``MAX_BODY`` or one that is no picture."""
        url = urlsplit(self.path)
        if url.path != "/predict":
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"{url.path}: no such endpoint"})
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self.send_json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return
        if int(length) > MAX_BODY:
            self.close_connection = True  # the body is not read
            self.send_json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"a picture of at most {MAX_BODY:,} bytes, got {int(length):,}"},
            )
            return
        body = self.rfile.read(int(length))
        wanted = parse_qs(url.query).get("models", [""])[0]
        packages = self.server.packages
        if wanted:
            names = wanted.split(",")
            packages = [p for p in packages if p.name in names]
            if len(packages) != len(names):
                known = ", ".join(p.name for p in self.server.packages)
                self.send_json(
                    HTTPStatus.BAD_REQUEST, {"error": f"models: expected some of {known}"}
                )
                return
        status, answer = predict_body(packages, body)
        self.send_json(status, answer)


def serve_in_thread(server: DigitServer) -> threading.Thread:
    """Start ``server`` in a daemon thread (stop it with ``server.shutdown()``)."""
    from threadpoolctl import threadpool_limits

    def run() -> None:
        with threadpool_limits(limits=1, user_api="blas"):
            server.serve_forever(poll_interval=0.1)

    thread = threading.Thread(target=run, name="digit-server", daemon=True)
    thread.start()
    return thread
