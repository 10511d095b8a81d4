"""The download stage against directory, file:// and HTTP mirrors (a local server), hostile ones."""

import hashlib
import itertools
import os
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, read_params_files, run_main, run_script, write_params_files

import download

NAME = "train-labels-idx1-ubyte.gz"
BODY = bytes(range(256)) * 2560  # 655,360 bytes: ten chunks
SHA, N = hashlib.sha256(BODY).hexdigest(), len(BODY)
WRONG = BODY[::-1]  # the same size, another digest
MAX_REQUESTS = 50
ENDLESS = 200 * 2**20


@dataclass
class Route:
    body: bytes = BODY
    status: int = 200
    fail_times: int = 0  # answer 500 to this many requests first
    truncate_at: int | None = None  # announce the whole body, close after this many bytes
    delay: float = 0.0  # seconds before answering
    length: int | None = -1  # Content-Length: -1 the body's, None none
    endless: bool = False  # the body again and again, up to ENDLESS bytes
    drip: float = 0.0  # seconds between single bytes of the body
    header_drip: float = 0.0  # seconds between bytes of a header that never ends
    location: str | None = None  # answer 302 to this


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.stopping = threading.Event()

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # without HTTPServer's host name lookup

    def route(self, folder: str, route: Route, name: str = NAME) -> str:
        """Serve ``route`` at ``/<folder>/<name>``; the folder's mirror URL."""
        self.routes[f"/{folder}/{name}"] = route
        return self.url(folder)

    def url(self, folder: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{folder}/"

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that gave up mid-answer are expected."""


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        route = self.server.routes.get(self.path)
        if sum(self.server.hits.values()) > MAX_REQUESTS or route is None:
            return self.send_error(404)
        self.close_connection = True
        if route.delay and self.server.stopping.wait(route.delay):
            return None
        if route.header_drip:
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Drip: "
            return self.drip(itertools.chain(head, itertools.repeat(ord("a"))), route.header_drip)
        if route.location is not None:
            self.send_response(302)
            self.send_header("Location", route.location)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if self.server.hits[self.path] <= route.fail_times or route.status != 200:
            return self.send_error(500 if route.status == 200 else route.status)
        self.send_response(200)
        length = len(route.body) if route.length == -1 else route.length
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if route.endless:
            for _ in range(ENDLESS // len(route.body)):
                self.wfile.write(route.body)
        elif route.drip:
            self.drip(route.body, route.drip)
        else:
            self.wfile.write(route.body[: route.truncate_at])
        return None

    def drip(self, data: Iterator[int] | bytes, seconds: float) -> None:
        for byte in data:
            if self.server.stopping.wait(seconds):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    server = Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()
    thread.join()


def fetch(mirror: str, dest: Path, size: int = len(BODY), sha256: str = SHA, **settings) -> None:
    """``download.fetch_file`` of NAME, with download settings (timeout 5, retries 2)."""
    file = SimpleNamespace(name=NAME, size=size, sha256=sha256)
    settings = SimpleNamespace(**{"timeout": 5.0, "min_rate": 1e9, "retries": 2, **settings})
    download.fetch_file(mirror, file, settings, dest)


def failure(mirror: str, dest: Path, within: float = 2.5, **kwargs) -> str:
    """A failing ``mirror``'s message within ``within`` s; nothing left in ``dest``'s folder."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with pytest.raises(download.Failed) as info:
        fetch(mirror, dest, **kwargs)
    assert time.monotonic() - started < within
    assert list(dest.parent.iterdir()) == []
    return str(info.value)


@pytest.mark.parametrize(("fail_times", "redirect"), [(0, False), (2, False), (0, True)])
def test_http_mirror_writes_the_verified_file_after_5xx_retries_and_redirects(
    http, tmp_path, fail_times, redirect
):
    mirror = http.route("a", Route(fail_times=fail_times)).rstrip("/")  # one slash all the same
    if redirect:
        mirror = http.route("b", Route(location=mirror + "/" + NAME))

    fetch(mirror, tmp_path / NAME, retries=2)

    assert (tmp_path / NAME).read_bytes() == BODY
    assert http.hits[f"/a/{NAME}"] == 1 + fail_times


SMALL = {"size": 1000, "sha256": hashlib.sha256(BODY[:1000]).hexdigest(), "timeout": 0.5}
DEADLINE = "not complete within 1.5 s (download.timeout + 1000 bytes / download.min_rate)"
HTTP_FAILURES = {  # route, fetch settings, our message, requests made
    "404": (Route(status=404), {}, "HTTP 404 Not Found", 1),
    "500": (
        Route(fail_times=99),
        {"retries": 1},
        "HTTP 500 Internal Server Error (after 2 tries)",
        2,
    ),
    "truncated": (
        Route(truncate_at=1000),
        {},
        f"body truncated at 1000 of {N} bytes (after 3 tries)",
        3,
    ),
    "silence": (Route(delay=5.0), {"timeout": 0.3, "min_rate": 1e6}, "timed out after 0.3 s", 1),
    "mismatch": (
        Route(body=WRONG),
        {},
        f"checksum mismatch: expected sha256 {SHA}, got {hashlib.sha256(WRONG).hexdigest()}",
        1,
    ),
    "endless": (Route(length=None, endless=True), {}, f"sent more than the expected {N} bytes", 1),
    "10-GiB-announced": (
        Route(length=10 * 2**30, endless=True),
        {},
        f"Content-Length 10737418240 differs from the expected {N} bytes",
        1,
    ),
    "dripped-body": (Route(body=BODY[:1000], drip=0.05), {**SMALL, "min_rate": 1000}, DEADLINE, 1),
    "dripped-headers": (Route(header_drip=0.05), {**SMALL, "min_rate": 1000}, DEADLINE, 1),
    "ftp-redirect": (
        Route(location=f"ftp://127.0.0.1/{NAME}"),
        {},
        f"redirected to ftp://127.0.0.1/{NAME}: only http(s) redirects are followed",
        1,
    ),
}


@pytest.mark.parametrize(
    ("route", "settings", "message", "requests"), HTTP_FAILURES.values(), ids=HTTP_FAILURES.keys()
)
def test_a_failing_http_mirror_is_one_line_within_its_deadline(
    http, tmp_path, route, settings, message, requests
):
    message_ = failure(http.route("a", route), tmp_path / "out" / NAME, **settings)

    assert (message_, http.hits[f"/a/{NAME}"]) == (message, requests)


def test_a_chain_of_slow_redirects_shares_one_deadline(http, tmp_path):
    mirror = http.route("final", Route(body=BODY[:1000]))
    for hop in range(6):  # each within the 0.5 s timeout, 1.8 s together
        mirror = http.route(f"hop{hop}", Route(delay=0.3, location=mirror + NAME))

    assert failure(mirror, tmp_path / "out" / NAME, **SMALL, min_rate=1000) == DEADLINE
    assert http.hits[f"/final/{NAME}"] == 0


def test_a_dropped_connection_is_retried_and_a_refused_one_is_not(tmp_path):
    with socket.socket() as listener:  # accepts, then closes without a word
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        closer = threading.Thread(target=lambda: [listener.accept()[0].close() for _ in range(2)])
        closer.start()
        mirror = f"http://127.0.0.1:{listener.getsockname()[1]}/a/"
        dropped = failure(mirror, tmp_path / "out" / NAME, retries=1)
        closer.join(timeout=5)

    assert dropped == "connection dropped (after 2 tries)"
    assert failure(mirror, tmp_path / "out" / NAME) == "connection refused"


def test_relative_directory_and_file_url_mirrors_are_read_from_disk(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / NAME).write_bytes(BODY)
    monkeypatch.chdir(tmp_path)

    fetch("data", tmp_path / "a" / NAME)
    fetch((tmp_path / "data").as_uri(), tmp_path / "b" / NAME)

    assert (tmp_path / "a" / NAME).read_bytes() == (tmp_path / "b" / NAME).read_bytes() == BODY


def test_an_unsupported_scheme_is_named(tmp_path):
    message = failure("ftp://127.0.0.1/mnist/", tmp_path / "out" / NAME)
    assert message == "unsupported URL scheme ftp:// (use a directory, file:// or http(s)://)"


NOT_REGULAR = "expected a regular file, got "


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "no such file {path}"),
        (lambda p: p.symlink_to("/dev/zero"), "{path}: " + NOT_REGULAR + "a character device"),
        (os.mkfifo, "{path}: " + NOT_REGULAR + "a FIFO"),
        (Path.mkdir, "{path}: " + NOT_REGULAR + "a directory"),
        (lambda p: p.write_bytes(BODY + b"x"), f"{{path}} is {N + 1} bytes, expected {N}"),
        (lambda p: p.write_bytes(WRONG), f"checksum mismatch: expected sha256 {SHA}"),
    ],
    ids=["missing", "dev-zero", "fifo", "directory", "other-size", "mismatch-hides-digest"],
)
def test_a_local_mirror_serves_only_a_regular_file_of_the_size_and_digest(tmp_path, make, expected):
    (tmp_path / "mirror").mkdir()
    make(tmp_path / "mirror" / NAME)

    message = failure(str(tmp_path / "mirror"), tmp_path / "out" / NAME, within=1)

    assert message == expected.format(path=tmp_path / "mirror" / NAME)


# The stage script


def stage_params(tmp_path: Path, mirrors: list[str]) -> tuple[Path, dict[str, bytes]]:
    """A params.yaml whose four files are small bodies in tmp_path/mirror; the bodies by name."""
    params = read_params_files(REPO)
    bodies = {}
    (tmp_path / "mirror").mkdir()
    for role, entry in params["datasets"]["mnist"]["files"].items():
        bodies[entry["name"]] = body = f"{role}\n".encode() * 100
        entry.update(sha256=hashlib.sha256(body).hexdigest(), size=len(body))
        (tmp_path / "mirror" / entry["name"]).write_bytes(body)
    params["datasets"]["mnist"]["mirrors"] = mirrors
    params["download"] = {"timeout": 2, "retries": 0, "min_rate": 1000}
    return write_params_files(tmp_path, params), bodies


def test_the_stage_writes_all_four_files_and_a_line_for_each(tmp_path):
    params, bodies = stage_params(tmp_path, [str(tmp_path / "mirror")])

    result = run_script("download", "--params", params, "--out", tmp_path / "out")

    assert result.returncode == 0, result.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == bodies
    mirror = tmp_path / "mirror"
    for line, (name, body) in zip(result.stderr.splitlines(), bodies.items(), strict=False):
        assert line.startswith(f"download: {name}: {len(body)} bytes from {mirror} in ")


def test_a_file_no_mirror_serves_fails_the_stage_with_a_line_per_mirror(http, tmp_path):
    params, _ = stage_params(tmp_path, ["mirror", http.url("a")])
    name = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / "mirror" / name).unlink()

    result = run_main("download", "--params", params, "--out", "stages/download", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.endswith(
        f"download: error: could not fetch {name} from any of 2 mirrors:\n"
        f"  - mirror: no such file mirror/{name}\n"
        f"  - {http.url('a')}: HTTP 404 Not Found\n"
    )
    assert list((tmp_path / "stages").iterdir()) == []


def test_the_stage_names_a_missing_params_file(tmp_path):
    result = run_main("download", "--params", tmp_path / "no.yaml", "--out", tmp_path / "out")
    assert result.stderr == f"download: error: {tmp_path / 'no.yaml'}: no such params file\n"
    assert result.returncode == 1
