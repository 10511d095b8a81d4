"""The draw-a-digit page on 127.0.0.1, every trained model answering as one draws: the standard
library's server (two routes need no framework), the models loaded once and shared (read only).
No NumPy import here: mnist_pipeline, imported first, pins the BLAS kernel before NumPy loads."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from mnist_pipeline import answers as models
from mnist_pipeline.pictures import PictureError, mnist_form, read_picture

MAX_BODY = 1_000_000  # bytes; the page's 280x280 canvas PNG is about 10 kB
log = logging.getLogger("serve")


def predict_body(loaded: list[models.Model], body: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON for a posted picture: each model's answer and the 28x28 image they saw,
    or why there is none (``blank``: a picture without ink)."""
    try:
        image = mnist_form(read_picture(io.BytesIO(body)))
    except PictureError as err:
        blank = str(err).startswith("no ink")
        status = HTTPStatus.UNPROCESSABLE_ENTITY if blank else HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        return status, {"error": str(err), "blank": blank}
    found = [
        {"model": m.name, **answer, "text": models.text(answer)}
        for m in loaded
        for answer in models.answers(m, [image])
    ]
    return HTTPStatus.OK, {"answers": found, "image": image.tolist()}


class Handler(BaseHTTPRequestHandler):
    """``GET /`` and ``POST /predict``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the debug log, not stderr."""
        log.debug("%s " + format, self.address_string(), *args)

    def send(self, status: int, data: dict[str, Any] | bytes, close: bool = False) -> None:
        """Answer ``status`` with the page (bytes) or JSON; ``close`` when the body is unread."""
        page = isinstance(data, bytes)
        body = data if page else json.dumps(data).encode()
        self.close_connection = self.close_connection or close
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if page else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """The page."""
        if urlsplit(self.path).path in ("/", "/index.html"):
            self.send(HTTPStatus.OK, self.server.page)
        else:
            self.send(HTTPStatus.NOT_FOUND, {"error": f"{self.path}: no such page"})

    def do_POST(self) -> None:
        """A picture's answers; 4xx, unread, for a body with no length or over ``MAX_BODY``."""
        url = urlsplit(self.path)
        length = self.headers.get("Content-Length", "")
        if url.path != "/predict":
            self.send(HTTPStatus.NOT_FOUND, {"error": f"{url.path}: no such endpoint"}, True)
        elif not (length.isascii() and length.isdigit()):
            self.send(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"}, True)
        elif int(length) > MAX_BODY:
            error = f"a picture of at most {MAX_BODY:,} bytes, got {int(length):,}"
            self.send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": error}, True)
        else:
            self.send(*predict_body(self.server.models, self.rfile.read(int(length))))


def make_server(loaded: list[models.Model], port: int = 0) -> ThreadingHTTPServer:
    """The page's server on 127.0.0.1:``port`` (0: any free port), not yet serving."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.models = loaded  # the first answers first on the page
    server.page = resources.files("mnist_pipeline").joinpath("serve_page.html").read_bytes()
    return server


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C; 1 if no model could be loaded or the port is taken."""
    parser = argparse.ArgumentParser(
        description="Serve the draw-a-digit page on 127.0.0.1: draw with the mouse or a "
        "finger, and every trained model answers as you draw; the page needs no network.",
    )
    parser.add_argument("--port", type=int, default=8021, help="0: any free port (default 8021)")
    parser.add_argument(
        "--model", action="append", help="a model to serve (repeatable; default: every one)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        names = args.model or models.model_names()
        server = make_server([models.load(name) for name in names], args.port)
    except (FileNotFoundError, models.ModelFileError) as err:
        print(f"serve: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # the port is taken or not ours to bind
        print(f"serve: error: 127.0.0.1:{args.port}: {err.strerror}", file=sys.stderr)
        return 1
    from threadpoolctl import threadpool_limits

    # one BLAS thread per request, so that concurrent requests do not oversubscribe the cores
    with (
        server,
        threadpool_limits(limits=1, user_api="blas"),
        contextlib.suppress(KeyboardInterrupt),
    ):
        host, port = server.server_address[:2]
        print(f"serve: {len(names)} models on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
