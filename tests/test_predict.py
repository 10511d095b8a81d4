"""src/predict.py and the MNIST-style preparation: a person's pictures of digits (any format,
size, colour and polarity), folders, IDX files and .npy arrays; one line per image; bad files
named one per line while the others are still answered."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, png_size, run_main, write_dataset
from digit_strokes import draw
from PIL import Image

from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.preparation import (
    BOX,
    CENTRE,
    FIELD,
    PictureError,
    mnist_form,
    read_picture,
)


def predict(*args: str | Path, repo: Path) -> subprocess.CompletedProcess:
    return run_main("predict", "--repo", repo, *args, cwd=repo)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG of a few hundred bytes whose header claims ``width`` x ``height`` grey pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """One file of each kind predict must refuse, and one good picture."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    files = {name: folder / name for name in (
        "good-seven.png", "notes.png", "truncated.png", "blank.png", "dot.png", "bomb.png"
    )}  # fmt: skip
    draw(7).save(files["good-seven.png"])
    files["notes.png"].write_text("not a picture\n")
    whole = files["good-seven.png"].read_bytes()
    files["truncated.png"].write_bytes(whole[: len(whole) // 2])
    Image.new("L", (120, 90), 250).save(files["blank.png"])
    Image.new("L", (1, 1), 0).save(files["dot.png"])
    files["bomb.png"].write_bytes(bomb_png())
    return files


def test_each_picture_gets_one_line_with_class_confidence_and_runner_up(slice_packages, tmp_path):
    draw(7).save(tmp_path / "seven.png")
    result = predict("--model", "knn", tmp_path / "seven.png", repo=slice_packages)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    file, answer, probability, then, runner_up, runner_p = line.split()
    assert file == str(tmp_path / "seven.png")
    assert answer in [str(d) for d in range(10)] and runner_up != answer
    assert then == "then" and probability.startswith("p=") and runner_p.startswith("p=")
    assert float(probability[2:].rstrip(",")) >= float(runner_p[2:])


def test_bad_files_are_named_one_line_each_and_the_good_one_still_answered(
    slice_packages, bad_files
):
    result = predict("--model", "knn", *bad_files.values(), repo=slice_packages)
    assert result.returncode == 1
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        str(bad_files["good-seven.png"])
    ]
    errors = result.stderr.splitlines()
    expected = {
        "notes.png": "not an image (expected PNG, JPEG, BMP or GIF)",
        "truncated.png": "truncated or damaged image (",
        "blank.png": "no ink: a blank image (nothing to recognise)",
        "dot.png": "too small: 1x1 pixels (a digit needs at least 8x8)",
        "bomb.png": "refused: claims more pixels than Pillow's limit of 89,478,485 "
        "(a decompression bomb?)",
    }
    assert len(errors) == len(expected)
    for line, (name, message) in zip(errors, expected.items(), strict=True):
        assert line.startswith(f"predict: error: {bad_files[name]}: {message}"), line


def test_a_folder_of_good_and_bad_files_shows_both(slice_packages, bad_files):
    folder = bad_files["good-seven.png"].parent
    draw(3).save(folder / "three.jpg", quality=85)
    result = predict("--model", "sgd_5", folder, repo=slice_packages)
    assert result.returncode == 1
    answered = [line.split()[0] for line in result.stdout.splitlines()]
    assert answered == [str(folder / "good-seven.png"), str(folder / "three.jpg")]
    assert len(result.stderr.splitlines()) == 5
    assert all(line.split()[1] in ("5", "not") for line in result.stdout.splitlines())


def test_a_decompression_bomb_is_refused_without_decoding_it(slice_packages, bad_files):
    """predict runs in a fresh interpreter that reports its own peak memory at exit: its
    address space's high-water mark (VmHWM), not ``ru_maxrss``, which Linux carries over from
    the forking process (this test's, which may hold a network)."""
    bomb = bad_files["bomb.png"]
    assert bomb.stat().st_size < 100
    measured = (
        "import re, runpy, sys\n"
        "sys.argv = sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    status = open('/proc/self/status').read()\n"
        "    peak = re.search(r'VmHWM:\\s+(\\d+) kB', status)[1]\n"
        "    print(f'peak {peak}', file=sys.stderr)\n"
        "    raise\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", measured, REPO / "src/predict.py", "--repo", slice_packages,
         "--model", "knn", bomb],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "(a decompression bomb?)" in result.stderr
    peak_mib = int(result.stderr.rsplit("peak ", 1)[1]) / 1024
    assert peak_mib < 600, "900 million pixels would take 858 MiB"


def test_idx_and_npy_images_are_taken_as_they_are(slice_packages, tmp_path, mnist_slice):
    images = mnist_slice["test_images"][:3]
    write_dataset(tmp_path, {**{k: v[:3] for k, v in mnist_slice.items()}})
    np.save(tmp_path / "three.npy", images)
    idx = tmp_path / "t10k-images-idx3-ubyte.gz"
    result = predict("--model", "knn", "--json", idx, tmp_path / "three.npy", repo=slice_packages)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["file"] for r in records] == [f"{idx}[{i}]" for i in range(3)] + [
        f"{tmp_path / 'three.npy'}[{i}]" for i in range(3)
    ]
    pipeline_answers = [r["class"] for r in records]
    assert pipeline_answers[:3] == pipeline_answers[3:]


def test_an_array_of_another_shape_is_named(slice_packages, tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((2, 28, 30), np.uint8))
    result = predict("--model", "knn", tmp_path / "wide.npy", repo=slice_packages)
    assert result.returncode == 1
    assert result.stderr == (
        f"predict: error: {tmp_path / 'wide.npy'}: expected uint8 images of 28x28 (the "
        "dataset's form), got uint8 of shape (2, 28, 30)\n"
    )


def test_json_gives_every_field(slice_packages, tmp_path):
    draw(1).save(tmp_path / "one.png")
    result = predict("--model", "sgd_5", "--json", tmp_path / "one.png", repo=slice_packages)
    (record,) = json.loads(result.stdout)
    assert set(record) == {
        "file", "model", "class", "confidence", "confidence_kind", "runner_up",
        "runner_up_confidence",
    }  # fmt: skip
    assert record["model"] == "sgd_5" and record["confidence_kind"] == "margin"
    assert {record["class"], record["runner_up"]} == {"5", "not 5"}
    assert record["confidence"] >= 0 and record["runner_up_confidence"] is None


def test_all_models_gives_one_column_per_packaged_model(slice_packages, tmp_path):
    draw(4).save(tmp_path / "four.png")
    result = predict("--all-models", tmp_path / "four.png", repo=slice_packages)
    assert result.returncode == 0, result.stderr
    header, line = result.stdout.splitlines()
    assert header.split() == ["knn", "sgd_5"]
    assert line.startswith(str(tmp_path / "four.png"))


def test_the_default_model_is_the_best_of_every_class_on_the_leaderboard(slice_packages, tmp_path):
    draw(4).save(tmp_path / "four.png")
    detector = json.loads((slice_packages / "metrics/sgd_5/scores/test.json").read_text())
    knn = json.loads((slice_packages / "metrics/knn/scores/test.json").read_text())
    assert detector["acc"] > knn["acc"]  # sgd_5 is a detector, so knn is still the default
    default = predict("--json", tmp_path / "four.png", repo=slice_packages)
    assert [r["model"] for r in json.loads(default.stdout)] == ["knn"]


def test_show_draws_each_original_beside_the_image_the_model_saw(slice_packages, tmp_path):
    draw(2).save(tmp_path / "two.png")
    draw(5).save(tmp_path / "five.png")
    result = predict(
        "--model", "knn", "--show", tmp_path / "seen.png", tmp_path, repo=slice_packages
    )
    assert result.returncode == 0, result.stderr
    assert png_size((tmp_path / "seen.png").read_bytes()) == (800, 420)


def test_an_unknown_model_is_named(slice_packages, tmp_path):
    result = predict("--model", "cnn", tmp_path, repo=slice_packages)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"predict: error: {slice_packages / 'stages/package/cnn'}: no packaged model 'cnn'"
    )


def test_predict_script_has_help():
    result = run_main("predict", "--help")
    assert result.returncode == 0
    assert "--all-models" in result.stdout and "--show" in result.stdout


# ---------------------------------------------------------------------------------------------
# The preparation


def test_a_dataset_image_comes_back_as_the_dataset_has_it(mnist_slice):
    """MNIST's own digits are already in the form: the preparation moves each by at most a
    pixel and changes its grey levels little."""
    images = mnist_slice["test_images"][:50]
    prepared = np.stack([mnist_form(image) for image in images])
    mean_difference = np.abs(prepared.astype(int) - images.astype(int)).mean()
    assert mean_difference < 12


def test_ink_fits_20x20_and_its_centre_of_mass_lands_on_14_14():
    grey = np.asarray(draw(1, size=300, pen=20).convert("L"), dtype=np.float64)
    image = mnist_form(grey)
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert rows[-1] - rows[0] + 1 == BOX and cols[-1] - cols[0] + 1 < BOX
    r, c = np.mgrid[:FIELD, :FIELD]
    mass = image.sum()
    assert abs((r * image).sum() / mass - CENTRE) <= 0.5
    assert abs((c * image).sum() / mass - CENTRE) <= 0.5


def test_dark_on_light_and_light_on_dark_give_the_same_image():
    dark = np.asarray(draw(8).convert("L"), dtype=np.float64)
    assert np.array_equal(mnist_form(dark), mnist_form(255 - dark))


def test_ink_on_a_transparent_background_is_read_as_ink(tmp_path):
    rgba = draw(2, ink=(20, 40, 200, 255), paper=(0, 0, 0, 0), mode="RGBA")
    rgba.save(tmp_path / "two.png")
    opaque = draw(2, ink=(20, 40, 200), paper=(255, 255, 255))
    assert np.array_equal(
        mnist_form(read_picture(tmp_path / "two.png")),
        mnist_form(np.asarray(opaque.convert("L"), dtype=np.float64)),
    )


def test_a_blank_picture_raises_rather_than_guessing():
    with pytest.raises(PictureError, match=r"^no ink: a blank image"):
        mnist_form(np.full((50, 50), 200.0))


def test_the_prepared_test_image_is_uint8_28x28(slice_run):
    decoded = load_arrays(slice_run / "stages/decode/test.npz", ("images",))["images"]
    assert mnist_form(decoded[0]).shape == (FIELD, FIELD)
    assert mnist_form(decoded[0]).dtype == np.uint8


def test_digits_from_elsewhere_are_written_as_pictures_and_scored(slice_packages, tmp_path):
    from mnist_pipeline.tools.elsewhere import markdown, score, write_digit_files
    from mnist_pipeline.tools.predict import load_package

    labels = write_digit_files(tmp_path / "digits")
    files = sorted((tmp_path / "digits").iterdir())
    assert len(files) == len(labels) == 1797
    assert Image.open(files[0]).size == (8, 8)
    for extra in files[300:]:
        extra.unlink()
    packages = [load_package(name, slice_packages) for name in ("knn", "sgd_5")]
    knn, sgd_5 = score(packages, tmp_path / "digits", {"knn": 0.9})
    assert (knn.total, knn.task, sgd_5.task) == (300, "every class", "is it a 5")
    assert knn.accuracy > 0.5, "a 10-class model far above chance on other people's digits"
    table = markdown([knn, sgd_5])
    assert f"| `knn` | every class | 90.00% | {100 * knn.accuracy:.2f}% [" in table
