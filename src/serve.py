"""The draw-a-digit page on 127.0.0.1, every trained model answering as one draws, served by
waitress: a small pool of threads, a body cap and idle timeouts built in. Only requests naming
this server as Host are answered, and only posts from its own page (docs/predict.md)."""

import argparse
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable
from http import HTTPStatus
from importlib import resources
from typing import Any

from mnist_pipeline import answers as models
from mnist_pipeline.pictures import PictureError, mnist_form, read_picture

MAX_BODY = 1_000_000  # bytes; the page's 280x280 canvas PNG is about 10 kB
# waitress's limits: requests decoded at once (the rest wait), open connections, seconds a
# connection may stay silent, header bytes (a drip-fed header ends there)
LIMITS = {"threads": 2, "connection_limit": 500, "channel_timeout": 10, "cleanup_interval": 1,
          "max_request_header_size": 8192, "max_request_body_size": MAX_BODY}  # fmt: skip
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


def make_app(loaded: list[models.Model], port: int) -> Callable:
    """The WSGI app: ``GET /`` the page, ``POST /predict`` a picture's answers; 403 for another
    Host (a DNS-rebinding page) or, on a post, another Origin (any page the user visits)."""
    page = resources.files("mnist_pipeline").joinpath("serve_page.html").read_bytes()
    hosts = {f"{name}:{port}" for name in ("127.0.0.1", "localhost")}
    origins = {f"http://{host}" for host in hosts}

    def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method, path, status = environ["REQUEST_METHOD"], environ["PATH_INFO"], HTTPStatus.OK
        data: dict[str, Any] | bytes = page
        if environ.get("HTTP_HOST") not in hosts:
            status, data = HTTPStatus.FORBIDDEN, {"error": f"Host: expected one of {sorted(hosts)}"}
        elif method == "GET" and path in ("/", "/index.html"):
            pass
        elif path != "/predict" or method != "POST":
            status, data = HTTPStatus.NOT_FOUND, {"error": f"{method} {path}: no such endpoint"}
        elif environ.get("HTTP_ORIGIN", next(iter(origins))) not in origins:
            status, data = HTTPStatus.FORBIDDEN, {"error": "Origin: only this server's own page"}
        else:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            status, data = predict_body(loaded, body)
        if status != HTTPStatus.OK:
            log.info("%s %s %s: %d %s", environ["REMOTE_ADDR"], method, path, status, data["error"])
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        kind = "text/html; charset=utf-8" if isinstance(data, bytes) else "application/json"
        headers = [("Content-Type", kind), ("Content-Length", str(len(body)))]
        start_response(f"{status.value} {status.phrase}", [*headers, ("Cache-Control", "no-store")])
        return [body]

    return app


def make_server(loaded: list[models.Model], port: int = 0, **limits: float) -> Any:
    """The page's waitress server on 127.0.0.1:``port`` (0: any free port) with ``LIMITS``
    (``limits`` override them), not yet running: ``run()`` serves, ``close()`` stops."""
    from waitress import create_server

    # waitress's int() of a 4,301+ digit Content-Length raises past its parser, no answer sent;
    # digits are bounded by the header cap, and such a length then gets waitress's 413
    sys.set_int_max_str_digits(max(4300, int(LIMITS["max_request_header_size"])))
    # the app checks Host against the port, known once bound
    server = create_server(lambda e, s: app(e, s), host="127.0.0.1", port=port, ident=None,
                           asyncore_use_poll=True, **LIMITS | limits)  # fmt: skip
    app = make_app(loaded, server.effective_port)
    return server


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C; 1 if no model could be loaded or the port is taken."""
    parser = argparse.ArgumentParser(description=__doc__)
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
    with threadpool_limits(limits=1, user_api="blas"):
        port = server.effective_port
        print(f"serve: {len(names)} models on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
        server.run()  # until Ctrl-C
    return 0


if __name__ == "__main__":
    sys.exit(main())
