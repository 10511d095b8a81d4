"""predict.py and elsewhere.py on pictures, folders, IDX and .npy files; mnist_pipeline.pictures."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, bomb_png, png_size, run_main, run_script, write_dataset
from digit_strokes import draw
from PIL import Image
from small_models import write_models

from mnist_pipeline.pictures import BOX, CENTRE, FIELD, mnist_form, read_picture
from mnist_pipeline.plumbing.model_files import skops_io


@pytest.fixture(scope="module")
def project(tmp_path_factory, mnist_slice) -> Path:
    """A project folder with the trained models knn and sgd_5 and their test scores."""
    return write_models(tmp_path_factory.mktemp("project"), mnist_slice)


def predict(project: Path, *args: str | Path) -> subprocess.CompletedProcess:
    return run_main("predict", *args, cwd=project)


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """One file of each kind predict must refuse, and one good picture."""
    names = ("good-seven.png", "notes.png", "truncated.png", "blank.png", "dot.png", "bomb.png")
    files = {name: tmp_path / name for name in names}
    draw(7).save(files["good-seven.png"])
    files["notes.png"].write_text("not a picture\n")
    whole = files["good-seven.png"].read_bytes()
    files["truncated.png"].write_bytes(whole[: len(whole) // 2])
    draw(7, paper=(250, 250, 250), ink=(250, 250, 250)).save(files["blank.png"])
    draw(7, size=1).save(files["dot.png"])
    files["bomb.png"].write_bytes(bomb_png())
    return files


def test_each_picture_gets_its_class_probability_and_runner_up(project, tmp_path):
    draw(7).save(tmp_path / "seven.png")
    result = predict(project, "--model", "knn", tmp_path / "seven.png")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"{tmp_path}/seven.png  7 p=1.00, then \d p=0.00\n", result.stdout)


def test_bad_pictures_are_named_one_line_each_and_the_good_one_still_answered(project, bad_files):
    result = predict(project, "--model", "knn", *bad_files.values())
    assert result.returncode == 1
    assert result.stdout.split()[:2] == [str(bad_files["good-seven.png"]), "7"]
    expected = {
        "notes.png": "not an image (expected PNG, JPEG, BMP or GIF)",
        "truncated.png": "truncated or damaged image (",
        "blank.png": "no ink: a blank image (nothing to recognise)",
        "dot.png": "too small: 1x1 pixels (a digit needs at least 8x8)",
        "bomb.png": "refused: claims more pixels than Pillow's limit of 89,478,485 "
        "(a decompression bomb?)",
    }
    errors = result.stderr.splitlines()
    assert len(errors) == len(expected)
    for line, (name, message) in zip(errors, expected.items(), strict=True):
        assert line.startswith(f"predict: error: {bad_files[name]}: {message}"), line


def test_a_folder_gives_its_pictures_in_name_order_without_hidden_files(project, tmp_path):
    draw(3).save(tmp_path / "b-three.jpg", quality=85)
    draw(1).save(tmp_path / "a-one.gif")
    (tmp_path / ".hidden.png").write_text("not a picture")
    result = predict(project, "--model", "knn", tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    answered = [line.split()[:2] for line in result.stdout.splitlines()]
    assert answered == [[str(tmp_path / "a-one.gif"), "1"], [str(tmp_path / "b-three.jpg"), "3"]]


def test_a_decompression_bomb_is_refused_without_decoding_it(project, bad_files):
    """A fresh interpreter reports its own peak memory (VmHWM) at exit."""
    measured = (
        "import re, runpy, sys\n"
        "sys.argv = sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "finally:\n"
        "    peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())[1]\n"
        "    print(f'peak {peak}', file=sys.stderr)\n"
    )
    script = REPO / "src/predict.py"
    result = subprocess.run(
        [sys.executable, "-c", measured, script, "--model", "knn", bad_files["bomb.png"]],
        capture_output=True, text=True, check=False, cwd=project,
    )  # fmt: skip
    assert result.returncode == 1
    assert "(a decompression bomb?)" in result.stderr
    peak_mib = int(result.stderr.rsplit("peak ", 1)[1]) / 1024
    assert peak_mib < 600, "900 million pixels would take 858 MiB"


def huge_npy(path: Path) -> None:
    """A .npy file of 228 bytes whose header claims 10^11 images of 28x28 (71.3 TiB)."""
    with path.open("wb") as file:
        header = {"descr": "|u1", "fortran_order": False, "shape": (10**11, FIELD, FIELD)}
        np.lib.format.write_array_header_1_0(file, header)
        file.write(bytes(100))


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("z.png", os.mkfifo, "expected a regular file, got a FIFO"),
        ("y.png", Path.mkdir, "a folder with no picture in it"),
        ("huge.npy", huge_npy, "too many images: 100,000,000,000 claimed (at most 100,000)"),
        ("big.png", lambda p: p.write_bytes(bomb_png(9400)), "too large: 9400x9400 pixels "
         "(at most 4,000,000)"),
        ("wide.npy", lambda p: np.save(p, np.zeros((2, 28, 30), np.uint8)), "expected uint8 "
         "images of 28x28 (the dataset's form), got uint8 of shape (2, 28, 30)"),
    ],
    ids=["fifo", "empty-folder", "npy-header", "png-header", "npy-shape"],
)  # fmt: skip
def test_a_hostile_input_is_refused_at_once_by_one_line(project, bad_files, name, make, message):
    """A fresh interpreter with a deadline: a FIFO once hung predict."""
    good = bad_files["good-seven.png"]
    make(hostile := good.with_name(name))
    result = run_script("predict", "--model", "knn", hostile, good, cwd=project, timeout=60)
    assert (result.returncode, result.stderr) == (1, f"predict: error: {hostile}: {message}\n")
    assert result.stdout.split()[:2] == [str(good), "7"]


def test_idx_and_npy_images_are_taken_as_they_are(project, tmp_path, mnist_slice):
    write_dataset(tmp_path, {k: v[:3] for k, v in mnist_slice.items()})
    np.save(tmp_path / "three.npy", mnist_slice["test_images"][:3])
    idx = tmp_path / "t10k-images-idx3-ubyte.gz"
    result = predict(project, "--model", "knn", "--json", idx, tmp_path / "three.npy")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["file"] for r in records] == [f"{idx}[{i}]" for i in range(3)] + [
        f"{tmp_path / 'three.npy'}[{i}]" for i in range(3)
    ]
    assert [r["class"] for r in records] == [str(d) for d in mnist_slice["test_labels"][:3]] * 2


def test_a_detector_answers_with_its_margin_in_json(project, tmp_path):
    draw(1).save(tmp_path / "one.png")
    result = predict(project, "--model", "sgd_5", "--json", tmp_path / "one.png")
    (record,) = json.loads(result.stdout)
    assert record["confidence"] > 0
    assert record == {
        "file": str(tmp_path / "one.png"), "model": "sgd_5", "class": "not 5",
        "confidence": record["confidence"], "confidence_kind": "margin", "runner_up": "5",
        "runner_up_confidence": None,
    }  # fmt: skip


def test_all_models_in_leaderboard_order_and_by_default_the_best_of_every_class(project, tmp_path):
    draw(4).save(tmp_path / "four.png")
    result = predict(project, "--all-models", tmp_path / "four.png")
    assert result.returncode == 0, result.stderr
    header, line = result.stdout.splitlines()
    assert header.split() == ["knn", "sgd_5"]
    assert line.split()[:2] == [str(tmp_path / "four.png"), "4"] and "not 5 margin" in line
    result = predict(project, "--json", tmp_path / "four.png")
    assert [r["model"] for r in json.loads(result.stdout)] == ["knn"]


def test_show_draws_each_original_beside_the_image_the_model_saw(project, tmp_path):
    draw(2).save(tmp_path / "two.png")
    draw(5).save(tmp_path / "five.png")
    result = predict(project, "--model", "knn", "--show", tmp_path / "seen.png", tmp_path)
    assert result.returncode == 0, result.stderr
    assert png_size((tmp_path / "seen.png").read_bytes()) == (800, 420)


@pytest.mark.parametrize(
    ("dest", "why"),
    [("missing/seen.png", "no such folder"), ("/dev/full", "it is not a regular file")],
)
def test_show_writes_only_a_regular_file_in_an_existing_folder(project, tmp_path, dest, why):
    if dest == "/dev/full" and os.geteuid() != 0:
        pytest.skip("only root could replace /dev/full")
    draw(2).save(tmp_path / "two.png")
    out = tmp_path / dest  # /dev/full stays absolute
    result = predict(project, "--model", "knn", "--show", out, tmp_path / "two.png")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"predict: error: {out}: cannot write: {why}\n"
    assert not (tmp_path / "missing").exists() and stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_16_bit_picture_is_scaled_by_its_range_not_clipped(project, tmp_path):
    grey = np.asarray(draw(7).convert("L"), np.float64)  # ink 20,000 on paper 40,000
    Image.fromarray((20_000 + grey * (20_000 / 255)).astype(np.uint16)).save(tmp_path / "7.png")
    result = predict(project, "--model", "knn", tmp_path / "7.png")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == [str(tmp_path / "7.png"), "7"]


def test_an_unknown_model_is_named(project, tmp_path):
    result = predict(project, "--model", "cnn", tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "predict: error: stages/train/cnn/model.skops: no trained model 'cnn'"
    )


NOT_OURS, CARD = "not a skops model file of this project (", "not the card train writes ("
ANSWERS = CARD + "a JSON object under 1 MB: string model, task and 10 answers, one per class)"
BAD_FILES = {  # what predict says after the file's path: one line, ours
    "not a zip": ("model.skops", b"PK not a zip", NOT_OURS + "BadZipFile"),
    "a plain dict": ("model.skops", skops_io().dumps({"a": 1}),
                     "not the model train writes (a fitted classifier Pipeline)"),
    "card [1, 2]": ("card.json", b"[1, 2]", ANSWERS),
    "card not UTF-8": ("card.json", b"\xff\xfe", CARD + "'utf-8' codec can't decode"),
    "too few answers": ("card.json", json.dumps({"answers": ["0", "1"]}).encode(), ANSWERS),
}  # fmt: skip


@pytest.mark.parametrize(("file", "content", "message"), BAD_FILES.values(), ids=BAD_FILES)
def test_a_bad_model_file_is_one_line_naming_it(project, tmp_path, file, content, message):
    model = tmp_path / "knn"
    shutil.copytree(project / "stages/train/knn", model)
    (model / file).write_bytes(content)
    result = predict(project, "--model", model, tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"predict: error: {model}/{file}: {message}")


def test_digits_from_elsewhere_are_scored_beside_the_mnist_accuracy(project, tmp_path):
    result = run_main("elsewhere", "--out", tmp_path / "digits", cwd=project)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "digits").iterdir())) == 1797
    knn, sgd_5 = result.stdout.splitlines()[2:]
    accuracy = float(re.search(r"\| (\d+\.\d+)% \[", knn)[1])
    assert knn.startswith("| `knn` | every class | 90.00% | ") and knn.endswith("/1797) |")
    assert accuracy > 50, "a 10-class model far above chance on other people's digits"
    assert sgd_5.startswith("| `sgd_5` | is it a 5 | 95.00% | ")


def test_a_dataset_image_comes_back_nearly_as_the_dataset_has_it(mnist_slice):
    images = mnist_slice["test_images"][:50]
    prepared = np.stack([mnist_form(image) for image in images])
    assert prepared.dtype == np.uint8 and prepared.shape == images.shape
    assert np.abs(prepared.astype(int) - images.astype(int)).mean() < 12


def test_ink_fits_20x20_and_its_centre_of_mass_lands_on_14_14():
    image = mnist_form(np.asarray(draw(1, size=300, pen=20).convert("L"), dtype=np.float64))
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert rows[-1] - rows[0] + 1 == BOX and cols[-1] - cols[0] + 1 < BOX
    r, c = np.mgrid[:FIELD, :FIELD]
    assert abs((r * image).sum() / image.sum() - CENTRE) <= 0.5
    assert abs((c * image).sum() / image.sum() - CENTRE) <= 0.5


def test_dark_on_light_light_on_dark_and_ink_on_transparent_give_the_same_image(tmp_path):
    draw(2, ink=(20, 40, 200, 255), paper=(0, 0, 0, 0), mode="RGBA").save(tmp_path / "two.png")
    dark = np.asarray(draw(2, ink=(20, 40, 200), paper=(255, 255, 255)).convert("L"), np.float64)
    assert np.array_equal(mnist_form(dark), mnist_form(255 - dark))
    assert np.array_equal(mnist_form(read_picture(tmp_path / "two.png")), mnist_form(dark))
