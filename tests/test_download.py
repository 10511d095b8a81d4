"""The download stage: fetching from directory, file:// and HTTP mirrors, and the stage script.

HTTP tests run against a real server on 127.0.0.1 whose behaviour per path each test sets.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import read_params_files, run_main, wait_for_temp_file, write_params_files

from mnist_pipeline.plumbing.verified import CHUNK
from mnist_pipeline.stages.download import FetchError, fetch_file

ROOT = Path(__file__).resolve().parents[1]
NAME = "train-labels-idx1-ubyte.gz"
BODY = bytes(range(256)) * (10 * CHUNK // 256)
SHA = hashlib.sha256(BODY).hexdigest()
ENDLESS_LIMIT = 200 * 2**20
"""The most an endless route sends: the test server's own cap, far past any expected size."""
WRONG = BODY[::-1]
"""The same size as BODY, another digest."""
WRONG_SHA = hashlib.sha256(WRONG).hexdigest()


@dataclass
class Route:
    body: bytes = BODY
    status: int = 200
    fail_times: int = 0
    """Answer 500 to this many requests before serving the body."""
    truncate_at: int | None = None
    """Send the full Content-Length but close the connection after this many bytes."""
    delay: float = 0.0
    """Seconds to wait before answering (cut short when the test ends)."""
    length: int | None = -1
    """The Content-Length to announce: -1 for the body's, None for none."""
    endless: bool = False
    """Send the body again and again (up to ENDLESS_LIMIT bytes) instead of once."""
    drip: float = 0.0
    """Seconds between single bytes of the body (cut short when the test ends)."""
    location: str | None = None
    """Answer 302 with this Location."""
    header_drip: float = 0.0
    """Seconds between single bytes of a status line and headers that never end (one header
    line growing until the test ends), instead of any answer."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.stopping = threading.Event()

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's getfqdn lookup
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: object, client_address: object) -> None:
        """Writes to clients that already gave up are expected; stay quiet."""

    def url(self, folder: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/{folder}/"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.delay:
            self.server.stopping.wait(route.delay)
        if route.header_drip:
            self._drip_headers(route.header_drip)
        elif route.location is not None:
            self.send_response(302)
            self.send_header("Location", route.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.server.hits[self.path] <= route.fail_times:
            self.send_error(500)
        elif route.status != 200:
            self.send_error(route.status)
        else:
            self._send_body(route)

    def _send_body(self, route: Route) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        length = len(route.body) if route.length == -1 else route.length
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.close_connection = True
        end = len(route.body) if route.truncate_at is None else route.truncate_at
        if route.endless:
            for _ in range(ENDLESS_LIMIT // len(route.body)):
                self.wfile.write(route.body)
        elif route.drip:
            for byte in route.body[:end]:
                if self.server.stopping.wait(route.drip):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        else:
            self.wfile.write(route.body[:end])

    def _drip_headers(self, seconds: float) -> None:
        self.close_connection = True
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Drip: "
        for byte in itertools.chain(head, itertools.repeat(ord("a"))):
            if self.server.stopping.wait(seconds):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Http:
    server: _Server

    def route(self, folder: str, route: Route, name: str = NAME) -> str:
        """Serve ``route`` at ``<folder>/<name>``; return the folder's mirror URL."""
        self.server.routes[f"/{folder}/{name}"] = route
        return self.server.url(folder)

    def hits(self, folder: str, name: str = NAME) -> int:
        return self.server.hits[f"/{folder}/{name}"]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep urllib (and the stage subprocess) talking to 127.0.0.1 directly."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)


@pytest.fixture
def http() -> Iterator[Http]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Http(server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def fetch(
    mirrors: list[str],
    dest: Path,
    *,
    sha256: str = SHA,
    size: int = len(BODY),
    timeout: float = 5.0,
    min_rate: float = 1e9,
    retries: int = 2,
    progress: io.StringIO | None = None,
) -> str:
    return fetch_file(
        NAME,
        sha256,
        size,
        mirrors,
        dest,
        timeout=timeout,
        min_rate=min_rate,
        retries=retries,
        progress=progress,
    )


def fetch_error(mirrors: list[str], dest: Path, **kwargs: Any) -> str:
    with pytest.raises(FetchError) as info:
        fetch(mirrors, dest, **kwargs)
    return str(info.value)


def refused_url() -> str:
    """An http URL on a 127.0.0.1 port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone/"


# fetch_file: HTTP


def test_http_mirror_writes_verified_file_and_reports_progress(http: Http, tmp_path: Path):
    mirror = http.route("a", Route())
    progress = io.StringIO()

    served = fetch([mirror], tmp_path / NAME, progress=progress)

    assert served == mirror
    assert (tmp_path / NAME).read_bytes() == BODY
    assert progress.getvalue().splitlines() == [
        f"{NAME}: {pct}% ({pct * len(BODY) // 100 / 1e6:.1f}/0.7 MB) from {mirror}"
        for pct in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
    ]


def test_http_mirror_without_trailing_slash_is_joined_with_one(http: Http, tmp_path: Path):
    mirror = http.route("a", Route()).rstrip("/")

    assert fetch([mirror], tmp_path / NAME) == mirror
    assert http.hits("a") == 1


def test_404_falls_through_to_next_mirror_without_retry(http: Http, tmp_path: Path):
    missing = http.server.url("a")
    good = http.route("b", Route())

    assert fetch([missing, good], tmp_path / NAME) == good
    assert http.hits("a") == 1
    assert (tmp_path / NAME).read_bytes() == BODY


def test_500_is_retried_and_the_retry_succeeds(http: Http, tmp_path: Path):
    mirror = http.route("a", Route(fail_times=1))

    assert fetch([mirror], tmp_path / NAME, retries=2) == mirror
    assert http.hits("a") == 2
    assert (tmp_path / NAME).read_bytes() == BODY


def test_500_on_every_try_fails_after_all_retries(http: Http, tmp_path: Path):
    mirror = http.route("a", Route(fail_times=99))

    message = fetch_error([mirror], tmp_path / NAME, retries=1)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: HTTP 500 Internal Server Error (after 2 tries)"
    )
    assert http.hits("a") == 2


def test_truncated_body_is_retried_then_fails(http: Http, tmp_path: Path):
    mirror = http.route("a", Route(truncate_at=1000))

    message = fetch_error([mirror], tmp_path / NAME, retries=2)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: body truncated at 1000 of {len(BODY)} bytes (after 3 tries)"
    )
    assert http.hits("a") == 3


def test_slow_server_times_out_without_retry(http: Http, tmp_path: Path):
    mirror = http.route("a", Route(delay=5.0))

    # a deadline 1 s past the silence limit: the silence ends the request first
    message = fetch_error([mirror], tmp_path / NAME, timeout=0.3, min_rate=len(BODY), retries=2)

    assert message == f"could not fetch {NAME} from 1 mirror:\n  - {mirror}: timed out after 0.3 s"
    assert http.hits("a") == 1


def test_checksum_mismatch_shows_expected_and_actual_digest_without_retry(
    http: Http, tmp_path: Path
):
    mirror = http.route("a", Route(body=WRONG))

    message = fetch_error([mirror], tmp_path / NAME, retries=2)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: checksum mismatch: expected sha256 {SHA}, got {WRONG_SHA}"
    )
    assert http.hits("a") == 1


def test_all_mirrors_down_lists_each_mirror_and_reason(
    http: Http, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist").mkdir()
    not_found = http.server.url("a")
    failing = http.route("b", Route(fail_times=99))
    wrong = http.route("c", Route(body=WRONG))
    refused = refused_url()

    message = fetch_error(
        ["mnist", not_found, failing, wrong, refused], tmp_path / "out" / NAME, retries=1
    )

    assert message == "\n".join(
        [
            f"could not fetch {NAME} from any of 5 mirrors:",
            f"  - mnist: no such file mnist/{NAME}",
            f"  - {not_found}: HTTP 404 Not Found",
            f"  - {failing}: HTTP 500 Internal Server Error (after 2 tries)",
            f"  - {wrong}: checksum mismatch: expected sha256 {SHA}, got {WRONG_SHA}",
            f"  - {refused}: connection refused",
        ]
    )


# fetch_file: hostile HTTP mirrors, bounded in bytes and time


def timed_fetch_error(mirrors: list[str], dest: Path, **kwargs: Any) -> tuple[str, float]:
    """The FetchError's message and the seconds fetch_file took to give up."""
    started = time.monotonic()
    message = fetch_error(mirrors, dest, **kwargs)
    return message, time.monotonic() - started


def test_endless_body_stops_at_the_first_byte_past_the_size_without_retry(
    http: Http, tmp_path: Path
):
    mirror = http.route("a", Route(length=None, endless=True))
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()

    message, seconds = timed_fetch_error([mirror], dest, retries=2)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: sent more than the expected {len(BODY)} bytes"
    )
    assert http.hits("a") == 1
    assert seconds < 2
    assert list(dest.parent.iterdir()) == []


def test_content_length_other_than_the_size_fails_before_the_body_without_retry(
    http: Http, tmp_path: Path
):
    mirror = http.route("a", Route(length=10 * 2**30, endless=True))
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()

    message, seconds = timed_fetch_error([mirror], dest, retries=2)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: Content-Length 10737418240 differs from the expected "
        f"{len(BODY)} bytes"
    )
    assert http.hits("a") == 1
    assert seconds < 2
    assert list(dest.parent.iterdir()) == []


def test_drip_that_never_falls_silent_ends_at_the_whole_file_deadline(http: Http, tmp_path: Path):
    body = BODY[:1000]
    mirror = http.route("a", Route(body=body, drip=0.1))
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()

    message, seconds = timed_fetch_error(
        [mirror],
        dest,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        timeout=0.5,
        min_rate=1000,
        retries=2,
    )

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: not complete within 1.5 s (download.timeout + 1000 "
        "bytes / download.min_rate)"
    )
    assert http.hits("a") == 1
    assert 1.5 <= seconds < 2.5
    assert list(dest.parent.iterdir()) == []


def test_headers_dripped_past_the_deadline_end_the_request_at_the_deadline(
    http: Http, tmp_path: Path
):
    """A status line and headers sent a byte every 0.05 s, never silent for the 0.5 s timeout:
    the request ends at the deadline (before, the deadline began only with the body, and this
    mirror never got there)."""
    mirror = http.route("a", Route(header_drip=0.05))
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()

    message = fetch_error([mirror], dest, size=1000, timeout=0.5, min_rate=1000, retries=2)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: not complete within 1.5 s (download.timeout + 1000 "
        "bytes / download.min_rate)"
    )
    assert http.hits("a") == 1
    assert list(dest.parent.iterdir()) == []


def test_a_chain_of_slow_redirects_ends_at_the_one_deadline_of_the_request(
    http: Http, tmp_path: Path
):
    """Each hop answers after 0.3 s, within the 0.5 s timeout, and redirects to the next: the
    chain shares one deadline, from the first byte of the request on."""
    mirror = http.route("final", Route())
    for hop in range(6):
        mirror = http.route(f"hop{hop}", Route(delay=0.3, location=mirror + NAME))

    message = fetch_error([mirror], tmp_path / NAME, timeout=0.5, min_rate=len(BODY), retries=2)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: not complete within 1.5 s (download.timeout + {len(BODY)} "
        "bytes / download.min_rate)"
    )
    assert http.hits("hop5") == 1
    assert http.hits("final") == 0


def test_redirect_to_another_http_mirror_is_followed(http: Http, tmp_path: Path):
    target = http.route("b", Route())
    mirror = http.route("a", Route(location=target + NAME))

    assert fetch([mirror], tmp_path / NAME) == mirror
    assert (tmp_path / NAME).read_bytes() == BODY


def test_redirect_to_ftp_is_refused(http: Http, tmp_path: Path):
    mirror = http.route("a", Route(location="ftp://127.0.0.1/mnist/" + NAME))

    message = fetch_error([mirror], tmp_path / NAME)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: redirected to ftp://127.0.0.1/mnist/{NAME}: only http(s) "
        "redirects are followed"
    )


# fetch_file: directories and file:// URLs


def test_directory_mirror_missing_the_file_is_reported(tmp_path: Path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()

    message = fetch_error([str(mirror)], tmp_path / NAME)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n  - {mirror}: no such file {mirror / NAME}"
    )


def test_relative_directory_mirror_resolves_against_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / NAME).write_bytes(BODY)
    monkeypatch.chdir(tmp_path)
    progress = io.StringIO()

    served = fetch(["data/empty", "data/mnist"], tmp_path / "out" / NAME, progress=progress)

    assert served == "data/mnist"
    assert (tmp_path / "out" / NAME).read_bytes() == BODY
    assert progress.getvalue() == ""


def test_file_url_mirror_is_read_from_disk(tmp_path: Path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / NAME).write_bytes(BODY)
    mirror = (tmp_path / "mirror").as_uri()

    assert fetch([mirror], tmp_path / "out" / NAME) == mirror
    assert (tmp_path / "out" / NAME).read_bytes() == BODY


def test_unsupported_url_scheme_is_reported(tmp_path: Path):
    message = fetch_error(["ftp://example.invalid/mnist/"], tmp_path / NAME)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        "  - ftp://example.invalid/mnist/: unsupported URL scheme ftp:// "
        "(use a directory, file:// or http(s)://)"
    )


def local_mirror(tmp_path: Path) -> tuple[Path, Path]:
    """An empty directory mirror and the path of NAME in it."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    return mirror, mirror / NAME


def test_directory_mirror_symlink_to_dev_zero_is_refused_before_any_byte(tmp_path: Path):
    mirror, path = local_mirror(tmp_path)
    path.symlink_to("/dev/zero")
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()

    message, seconds = timed_fetch_error([str(mirror)], dest)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: {path}: expected a regular file, got a character device"
    )
    assert seconds < 1
    assert list(dest.parent.iterdir()) == []


def test_file_url_mirror_holding_a_fifo_is_refused_at_once(tmp_path: Path):
    mirror, path = local_mirror(tmp_path)
    os.mkfifo(path)

    message, seconds = timed_fetch_error([mirror.as_uri()], tmp_path / NAME)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror.as_uri()}: {path}: expected a regular file, got a FIFO"
    )
    assert seconds < 1


def test_directory_mirror_holding_a_directory_is_refused(tmp_path: Path):
    mirror, path = local_mirror(tmp_path)
    path.mkdir()

    message = fetch_error([str(mirror)], tmp_path / NAME)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: {path}: expected a regular file, got a directory"
    )


def test_local_file_of_another_size_is_refused_before_any_byte(tmp_path: Path):
    mirror, path = local_mirror(tmp_path)
    path.write_bytes(BODY + b"x")
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()

    message = fetch_error([str(mirror)], dest)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: {path} is {len(BODY) + 1} bytes, expected {len(BODY)}"
    )
    assert list(dest.parent.iterdir()) == []


def test_local_checksum_mismatch_does_not_show_the_local_files_digest(tmp_path: Path):
    mirror, path = local_mirror(tmp_path)
    path.write_bytes(WRONG)

    message = fetch_error([str(mirror)], tmp_path / NAME)

    assert message == (
        f"could not fetch {NAME} from 1 mirror:\n"
        f"  - {mirror}: checksum mismatch: expected sha256 {SHA}"
    )


@pytest.mark.parametrize(
    "route",
    [
        Route(status=404),
        Route(fail_times=99),
        Route(truncate_at=3 * CHUNK + 5),
        Route(body=WRONG),
        Route(delay=5.0),
    ],
    ids=["404", "500", "truncated", "mismatch", "timeout"],
)
def test_failure_leaves_no_file_in_dest_folder(http: Http, tmp_path: Path, route: Route):
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()

    fetch_error([http.route("a", route)], dest, timeout=0.3, retries=1)

    assert list(dest.parent.iterdir()) == []


def test_failure_keeps_the_previous_dest_untouched(tmp_path: Path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / NAME).write_bytes(WRONG)
    dest = tmp_path / "out" / NAME
    dest.parent.mkdir()
    dest.write_bytes(b"old")

    fetch_error([str(tmp_path / "mirror")], dest)

    assert list(dest.parent.iterdir()) == [dest]
    assert dest.read_bytes() == b"old"


# the stage script


def fixture_files() -> dict[str, bytes]:
    return {
        role: f"{role} fixture\n".encode() * 100
        for role in ("train_images", "train_labels", "test_images", "test_labels")
    }


def write_params(tmp_path: Path, mirrors: list[str]) -> Path:
    """A params.yaml like the repository's, its datasets.yaml pointing at small fixture files."""
    raw = read_params_files(ROOT)
    raw["datasets"]["mnist"]["mirrors"] = mirrors
    for role, body in fixture_files().items():
        raw["datasets"]["mnist"]["files"][role]["sha256"] = hashlib.sha256(body).hexdigest()
        raw["datasets"]["mnist"]["files"][role]["size"] = len(body)
    raw["download"] = {"timeout": 2, "retries": 0, "min_rate": 1000}
    return write_params_files(tmp_path, raw)


def file_names(params: Path) -> dict[str, str]:
    files = read_params_files(params.parent)["datasets"]["mnist"]["files"]
    return {role: entry["name"] for role, entry in files.items()}


def write_mirror(tmp_path: Path, params: Path, *, skip: str | None = None) -> Path:
    """A directory holding the fixture files under their params.yaml names (but ``skip``)."""
    names = file_names(params)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for role, body in fixture_files().items():
        if role != skip:
            (mirror / names[role]).write_bytes(body)
    return mirror


def run_stage(*args: str) -> subprocess.CompletedProcess[str]:
    """src/download.py in a fresh Python, as DVC runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / "download.py"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=os.environ.copy(),
    )


def test_stage_fetches_all_four_files_from_a_directory_mirror(tmp_path: Path):
    params = write_params(tmp_path, [str(tmp_path / "mirror")])
    mirror = write_mirror(tmp_path, params)
    out = tmp_path / "stages" / "download"

    result = run_stage("--params", str(params), "--out", str(out))

    assert result.returncode == 0, result.stderr
    names = list(file_names(params).values())
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        assert (out / name).read_bytes() == (mirror / name).read_bytes()
    *lines, last = result.stderr.splitlines()
    assert last.startswith("download: done in ")
    for line, name in zip(lines, names, strict=True):
        size = (mirror / name).stat().st_size
        assert line.startswith(f"download: {name}: {size} bytes from {mirror} in ")
        assert line.endswith(" s")


def test_stage_fails_with_exit_1_and_no_out_folder_when_a_file_is_missing(
    http: Http, tmp_path: Path
):
    mirror = tmp_path / "mirror"
    not_found = http.server.url("a")
    params = write_params(tmp_path, [str(mirror), not_found])
    write_mirror(tmp_path, params, skip="test_labels")
    out = tmp_path / "stages" / "download"

    result = run_main("download", "--params", str(params), "--out", str(out))

    assert result.returncode == 1
    name = "t10k-labels-idx1-ubyte.gz"
    assert result.stderr.endswith(
        f"download: error: could not fetch {name} from any of 2 mirrors:\n"
        f"  - {mirror}: no such file {mirror / name}\n"
        f"  - {not_found}: HTTP 404 Not Found\n"
    )
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_stage_reports_invalid_params_and_exits_1(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    out = tmp_path / "stages" / "download"

    result = run_main("download", "--params", str(missing), "--out", str(out))

    assert result.returncode == 1
    assert result.stderr == f"download: error: {missing}: no such params file\n"
    assert not out.exists()


def test_stage_help_exits_0():
    result = run_main("download", "--help")

    assert result.returncode == 0
    assert result.stdout.startswith("usage: download [-h] --params PARAMS --out OUT")
    assert "sha256" in result.stdout


def test_sigterm_during_a_download_removes_its_temporary_folder(http: Http, tmp_path: Path):
    params = write_params(tmp_path, [http.server.url("a")])
    for role, body in fixture_files().items():
        http.route("a", Route(body=body, drip=0.05), name=file_names(params)[role])
    out = tmp_path / "stages" / "download"
    out.parent.mkdir(parents=True)
    stage = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "src" / "download.py"),
            "--params",
            str(params),
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        wait_for_temp_file(out.parent)
        stage.terminate()
        _, stderr = stage.communicate(timeout=10)
    finally:
        stage.kill()

    assert stage.returncode == 143
    assert stderr.splitlines()[-1] == "download: error: terminated by SIGTERM"
    assert list(out.parent.iterdir()) == []
