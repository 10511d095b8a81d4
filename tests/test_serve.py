"""The draw-a-digit page (src/serve.py): its server on 127.0.0.1 (4xx for what is no picture,
a bounded load test), and the page itself in a real headless Chromium (Debian's, driven by
Playwright): strokes of a 7 drawn with the mouse make svm answer 7, with no network."""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import run_main
from digit_strokes import draw, stroke_points
from load_clients import post_concurrently
from PIL import Image

from mnist_pipeline.tools.predict import default_model, load_package, packaged_models
from mnist_pipeline.tools.serve import MAX_BODY, DigitServer, serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOAD_REQUESTS = 400
LOAD_CLIENTS = 8
TIMEOUT = 60.0


def running(packages) -> Iterator[DigitServer]:
    server = DigitServer(packages)
    thread = serve_in_thread(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def slice_server(slice_packages) -> Iterator[DigitServer]:
    """The server of the slice's knn and sgd_5 packages, on a free port of 127.0.0.1."""
    yield from running([load_package(name, slice_packages) for name in ("knn", "sgd_5")])


def post(server: DigitServer, body: bytes, path: str = "/predict", headers=None):
    """POST ``body``; the status and the decoded JSON answer."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request("POST", path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_drawn_picture_gets_every_model_and_the_image_they_saw(slice_server):
    status, answer = post(slice_server, png_of(draw(7, ink=(255,) * 3, paper=(0,) * 3)))
    assert status == 200
    assert [a["model"] for a in answer["answers"]] == ["knn", "sgd_5"]
    assert answer["answers"][1]["class"] in ("5", "not 5")
    image = answer["image"]
    assert len(image) == 28 and {len(row) for row in image} == {28}
    assert max(map(max, image)) == 255


def test_one_model_can_be_asked_for(slice_server):
    status, answer = post(slice_server, png_of(draw(7)), "/predict?models=sgd_5")
    assert status == 200 and [a["model"] for a in answer["answers"]] == ["sgd_5"]
    status, answer = post(slice_server, png_of(draw(7)), "/predict?models=svm")
    assert (status, answer) == (400, {"error": "models: expected some of knn, sgd_5"})


def test_a_body_over_one_megabyte_is_refused_unread(slice_server):
    """Only the headers are sent: the server answers from Content-Length alone."""
    host, port = slice_server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Length", str(MAX_BODY + 1))
    connection.endheaders()
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 413
    assert answer == {"error": "a picture of at most 1,000,000 bytes, got 1,000,001"}


def test_a_body_that_is_no_image_is_refused(slice_server):
    status, answer = post(slice_server, b"GIF89a but not really")
    assert status == 415
    assert answer["error"].startswith("truncated or damaged image") or answer["error"] == (
        "not an image (expected PNG, JPEG, BMP or GIF)"
    )
    status, answer = post(slice_server, b"plain text")
    assert (status, answer["error"]) == (415, "not an image (expected PNG, JPEG, BMP or GIF)")


def test_a_blank_canvas_is_answered_as_blank(slice_server):
    status, answer = post(slice_server, png_of(Image.new("L", (280, 280), 0)))
    assert status == 422 and answer["blank"] is True


def test_a_request_without_length_is_refused(slice_server):
    host, port = slice_server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    connection.putrequest("POST", "/predict")
    connection.endheaders()
    assert connection.getresponse().status == 411
    connection.close()


def test_the_page_loads_nothing_from_another_host(slice_server):
    host, port = slice_server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode()
    connection.close()
    assert response.status == 200 and "<canvas" in page
    assert "http://" not in page and "https://" not in page and "//cdn" not in page


def test_it_survives_400_requests_from_8_concurrent_clients(slice_server):
    bodies = [png_of(draw(d)) for d in range(10)]
    answers = post_concurrently(
        slice_server.server_address[:2], bodies, LOAD_REQUESTS, LOAD_CLIENTS, TIMEOUT
    )
    assert [status for status, _ in answers] == [200] * LOAD_REQUESTS


def test_serve_script_has_help():
    result = run_main("serve", "--help")
    assert result.returncode == 0 and "127.0.0.1" in result.stdout


# ---------------------------------------------------------------------------------------------
# The page in Debian's headless Chromium, with every model of the full pipeline


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by Playwright (never a browser of its own). Absent:
    skipped with how to install it, except under CI, where that fails."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    if missing is None and not CHROMIUM.exists() and shutil.which("chromium") is None:
        missing = "no chromium: install Debian's with `apt-get install -y chromium`"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run installs it")
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def full_server(reproduced) -> Iterator[DigitServer]:
    """The server of every model the full pipeline packaged, as `make serve` starts it."""
    yield from running([load_package(n, reproduced) for n in packaged_models(reproduced)])


@pytest.fixture
def page(browser, full_server):
    """The page, every request to another host than the server's refused and recorded."""
    context = browser.new_context(viewport={"width": 900, "height": 600})
    page = context.new_page()
    elsewhere: list[str] = []

    def only_the_server(route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(full_server.url).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.goto(full_server.url)
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


@pytest.mark.slow
def test_a_blank_canvas_says_draw_a_digit(page):
    assert page.locator("#status").inner_text() == "draw a digit"
    assert page.locator("#answers tbody tr").count() == 0


@pytest.mark.slow
def test_the_strokes_of_a_seven_make_svm_and_the_best_model_answer_seven(
    page, reproduced, tmp_path
):
    """The status line speaks for the leaderboard's best model of every class (cnn, then svm)."""
    draw_with_the_mouse(page, 7)
    assert page.locator('#answers tr[data-model="svm"] td.answer').inner_text() == "7"
    assert page.locator("#status").inner_text() == f"{default_model(reproduced)} says 7"
    assert page.locator("#answers tbody tr").count() == len(packaged_models(reproduced))
    seen = page.evaluate(
        "() => Array.from(document.getElementById('seen').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 0).length"
    )
    assert 40 < seen < 400, "the 28x28 image the models saw holds the stroke"
    shot = Path(os.environ.get("PAGE_SCREENSHOT", tmp_path / "page.png"))
    page.screenshot(path=shot)
    assert shot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_clear_empties_the_canvas_and_the_answers(page, reproduced):
    draw_with_the_mouse(page, 1)
    assert page.locator("#answers tbody tr").count() == len(packaged_models(reproduced))
    page.click("#clear")
    assert page.locator("#status").inner_text() == "draw a digit"
    assert page.locator("#answers tbody tr").count() == 0
