"""The draw-a-digit page (src/serve.py): its server, and the page in a headless Chromium."""

import http.client
import io
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import bomb_png
from digit_strokes import draw, stroke_points
from load_clients import post_concurrently
from PIL import Image
from small_models import write_models

import serve
from mnist_pipeline import answers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory, mnist_slice) -> Iterator[object]:
    """knn and sgd_5 served on a free port of 127.0.0.1, silent connections dropped after 1 s."""
    project = write_models(tmp_path_factory.mktemp("project"), mnist_slice)
    loaded = [answers.load(project / "stages/train" / n) for n in ("knn", "sgd_5")]
    running = serve.make_server(loaded, channel_timeout=1)
    thread = threading.Thread(target=running.run)
    thread.start()
    try:
        yield running
    finally:
        running.close()
        thread.join(TIMEOUT)
    assert not thread.is_alive()


def address(server) -> tuple[str, int]:
    return "127.0.0.1", server.effective_port


def request(server, body: bytes | None = None, headers=None, method="POST", path="/predict"):
    """The status and body of one request on a connection of its own."""
    connection = http.client.HTTPConnection(*address(server), timeout=TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def raw_exchange(server, data: bytes) -> bytes:
    """What the server answers to ``data`` sent as is, until it closes the connection."""
    with socket.create_connection(address(server), timeout=TIMEOUT) as client:
        client.sendall(data)
        return b"".join(iter(lambda: client.recv(65536), b""))


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_drawn_picture_gets_every_model_and_the_image_they_saw(server):
    status, body = request(server, png_of(draw(7, ink=(255,) * 3, paper=(0,) * 3)))
    answer = json.loads(body)
    assert status == 200
    found = [(a["model"], a["class"]) for a in answer["answers"]]
    assert found == [("knn", "7"), ("sgd_5", "not 5")]
    assert answer["answers"][0]["text"].startswith("7 p=1.00, then ")
    assert len(answer["image"]) == 28 and {len(row) for row in answer["image"]} == {28}


SEVEN = png_of(draw(7))
BLANK = png_of(Image.new("L", (280, 280), 0))
REFUSED = {  # headers, body, status, our reason
    "no-image": ({}, b"plain text", 415, "not an image (expected PNG, JPEG, BMP or GIF)"),
    "blank": ({}, BLANK, 422, "no ink: a blank image (nothing to recognise)"),
    "too-many-pixels": ({}, bomb_png(9400), 415, "too large: 9400x9400 pixels (at most 4,000"),
    "other-host": ({"Host": "evil.example:80"}, SEVEN, 403, "Host: expected one of"),
    "other-origin": ({"Origin": "http://evil.example"}, SEVEN, 403, "Origin: only this server"),
    "null-origin": ({"Origin": "null"}, SEVEN, 403, "Origin: only this server's own page"),
}


@pytest.mark.parametrize(("headers", "body", "status", "error"), REFUSED.values(), ids=REFUSED)
def test_what_is_no_picture_from_this_page_is_refused_with_our_reason(
    server, headers, body, status, error
):
    got, answer = request(server, body, headers)
    assert got == status and json.loads(answer)["error"].startswith(error)


def test_the_page_is_served_only_under_this_servers_own_names(server):
    port = server.effective_port
    assert request(server, method="GET", path="/")[0] == 200
    assert request(server, method="GET", path="/", headers={"Host": f"localhost:{port}"})[0] == 200
    rebound = {"Host": f"rebound.example:{port}"}  # a DNS-rebinding page's requests
    assert request(server, method="GET", path="/", headers=rebound)[0] == 403
    assert request(server, SEVEN, {"Origin": f"http://localhost:{port}"})[0] == 200


@pytest.mark.parametrize("length", ["\u00b2", "9" * 5000, "-1", str(serve.MAX_BODY + 1)])
def test_a_bad_or_oversized_length_gets_a_4xx_and_no_traceback(server, length, caplog):
    head = f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{server.effective_port}\r\n"
    answer = raw_exchange(server, f"{head}Content-Length: {length}\r\n\r\n".encode())
    assert answer.split(b" ")[1][:1] == b"4", answer[:80]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


STALLED = {
    "header": b"POST /predict HTTP/1.1\r\nHo",
    "body": b"POST /predict HTTP/1.1\r\nContent-Length: 500000\r\n\r\n0123456789",
}


@pytest.mark.parametrize("sent", STALLED.values(), ids=STALLED)
def test_a_stalled_header_or_body_is_dropped_while_others_are_served(server, sent, caplog):
    with socket.create_connection(address(server), timeout=TIMEOUT) as stalled:
        stalled.sendall(sent)
        assert request(server, SEVEN)[0] == 200
        assert stalled.recv(65536) == b""  # closed by the server after its channel timeout
    hung_up = [socket.create_connection(address(server), timeout=TIMEOUT) for _ in range(20)]
    for client in hung_up:
        client.sendall(sent)
        client.close()
    assert request(server, SEVEN)[0] == 200
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_good_picture_is_answered_while_200_idle_connections_are_held(server):
    idle = [socket.create_connection(address(server), timeout=TIMEOUT) for _ in range(200)]
    try:
        assert request(server, SEVEN)[0] == 200
    finally:
        for connection in idle:
            connection.close()


def test_it_survives_400_requests_from_8_concurrent_clients(server):
    bodies = [png_of(draw(d)) for d in range(10)]
    found = post_concurrently(address(server), bodies, 400, 8, TIMEOUT)
    assert [status for status, _ in found] == [200] * 400


# ---------------------------------------------------------------------------------------------
# The page in Debian's headless Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by Playwright; absent, a skip (a failure under CI)."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if missing is None and executable is None:
        missing = "no chromium: install Debian's with `apt-get install -y chromium`"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run installs it")
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server):
    """The page, which loads nothing from another host (such a request fails the test)."""
    context = browser.new_context(viewport={"width": 900, "height": 600})
    page = context.new_page()
    here = "{}:{}".format(*address(server))
    elsewhere: list[str] = []

    def only_the_server(route) -> None:
        if urlsplit(route.request.url).netloc == here:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.goto(f"http://{here}/")
    yield page
    context.close()
    assert elsewhere == []


def draw_with_the_mouse(page, digit: int) -> None:
    box = page.locator("#pad").bounding_box()
    for stroke in stroke_points(digit, box["x"] + 40, box["y"] + 40, box["width"] - 80):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*point)
        page.mouse.up()
    page.locator('#pad[data-settled="yes"]').wait_for(timeout=TIMEOUT * 1000)


def test_the_strokes_of_a_seven_make_the_models_answer_seven(page, tmp_path):
    """The status line speaks for the first model (the leaderboard's best)."""
    draw_with_the_mouse(page, 7)
    assert page.locator('#answers tr[data-model="knn"] td.answer').inner_text() == "7"
    assert page.locator('#answers tr[data-model="sgd_5"] td.answer').inner_text() == "not 5"
    assert page.locator("#status").inner_text() == "knn says 7"
    seen = page.evaluate(
        "() => Array.from(document.getElementById('seen').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 0).length"
    )
    assert 40 < seen < 400, "the 28x28 image the models saw holds the stroke"
    shot = Path(os.environ.get("PAGE_SCREENSHOT", tmp_path / "page.png"))
    page.screenshot(path=shot)
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_the_page_starts_blank_and_clear_empties_the_canvas_and_the_answers(page):
    assert page.locator("#status").inner_text() == "draw a digit"
    assert page.locator("#answers tbody tr").count() == 0
    draw_with_the_mouse(page, 1)
    assert page.locator("#answers tbody tr").count() == 2
    page.click("#clear")
    assert page.locator("#status").inner_text() == "draw a digit"
    assert page.locator("#answers tbody tr").count() == 0
