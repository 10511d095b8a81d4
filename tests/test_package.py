"""The package stage on a slice of MNIST: one skops file per model, holding the feature chain
and the estimator as one Pipeline from uint8 images, the same bytes on every run, loaded
without running code; its model card; and the feature stages' chains it is made of."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
import skops.io
from conftest import (
    REPO,
    package_step,
    params_copy,
    redirected,
    run_main,
    run_script,
    sha256_of,
)
from sklearn.pipeline import Pipeline

from mnist_pipeline.features import CHAIN_FILE, Float32PCA, PixelRows, RawRows
from mnist_pipeline.params import CATALOGUE
from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.plumbing.model_files import (
    ModelFileError,
    canonical_skops,
    load_model,
    save_model,
)


class NotOurs:
    """A type no model of ours is made of."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


@pytest.mark.parametrize(("model", "features"), [("knn", "pca"), ("sgd_5", "normalize")])
def test_package_predicts_what_evaluate_predicted_from_the_decoded_images(
    slice_packages, model, features
):
    pipeline = load_model(slice_packages / f"stages/package/{model}/model.skops")
    images = load_arrays(slice_packages / "stages/decode/test.npz", ("images",))["images"]
    expected = load_arrays(
        slice_packages / f"stages/evaluate/{model}/predictions.npz", ("test_pred",)
    )["test_pred"]
    assert isinstance(pipeline, Pipeline)
    assert images.dtype == np.uint8 and images.shape == (300, 28, 28)
    np.testing.assert_array_equal(pipeline.predict(images), expected)


def test_package_steps_are_the_feature_stages_chain_then_the_estimator(slice_packages):
    pipeline = load_model(slice_packages / "stages/package/knn/model.skops")
    assert [name for name, _ in pipeline.steps] == ["pixels", "pca", "model"]
    assert isinstance(pipeline[0], PixelRows) and isinstance(pipeline[1], Float32PCA)
    assert pipeline[1].n_components == 20
    assert type(pipeline[-1]).__name__ == "KNeighborsClassifier"


def test_feature_chain_gives_the_feature_stage_rows_bit_for_bit(slice_packages):
    """With as many BLAS threads as the stages had (`run_stages`: one): OpenBLAS's float32
    product may round the last bit otherwise."""
    from threadpoolctl import threadpool_limits

    decoded = load_arrays(slice_packages / "stages/decode/test.npz", ("images",))["images"]
    for stage in ("normalize", "pca"):
        chain = load_model(slice_packages / "stages" / stage / CHAIN_FILE)
        rows = load_arrays(slice_packages / "stages" / stage / "test.npz", ("X",))["X"]
        with threadpool_limits(limits=1, user_api="blas"):
            assert chain.transform(decoded).tobytes() == rows.tobytes(), stage


def test_package_is_the_same_bytes_from_another_process(slice_packages, tmp_path):
    args = redirected(package_step("knn", "pca"), out=tmp_path / "again")
    params = params_copy(slice_packages, tmp_path)  # a stage writes only inside its repository
    result = run_script(*args[:1], "--params", params, *args[1:], cwd=slice_packages)
    assert result.returncode == 0, result.stderr
    for name in ("model.skops", "card.json", "card.md"):
        first = (slice_packages / "stages/package/knn" / name).read_bytes()
        assert (tmp_path / "again" / name).read_bytes() == first, name


def test_skops_entries_have_one_timestamp_and_numbered_ids(slice_packages):
    data = (slice_packages / "stages/package/knn/model.skops").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        schema = json.loads(archive.read("schema.json"))
    ids: set[int] = set()

    def collect(node):
        if isinstance(node, dict):
            ids.update([node["__id__"]] if "__id__" in node else [])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert ids == set(range(1, len(ids) + 1))
    arrays = {int(info.filename.split(".")[0]) for info in infos[1:]}
    assert infos[0].filename == "schema.json" and arrays <= ids


def test_canonical_skops_keeps_the_object_and_is_idempotent():
    pipeline = Pipeline([("pixels", PixelRows("standardize"))]).fit(
        np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    )
    data = canonical_skops(skops.io.dumps(pipeline))
    assert canonical_skops(data) == data
    assert canonical_skops(skops.io.dumps(pipeline)) == data
    again = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    np.testing.assert_array_equal(again[0].mean_, pipeline[0].mean_)


def test_model_card_says_what_the_model_is_and_how_well_it_did(slice_packages):
    card = json.loads((slice_packages / "stages/package/sgd_5/card.json").read_text())
    scores = json.loads((slice_packages / "metrics/sgd_5/scores/test.json").read_text())
    params = (REPO / CATALOGUE).read_text()
    assert card["answers"] == ["not 5", "5"]
    assert card["task"] == "is it a 5"
    assert card["dataset"]["classes"] == [str(d) for d in range(10)]
    assert card["features"] == "normalize" and card["estimator"] == "sgd"
    assert card["params"] == {"random_state": 1}
    assert card["test"] == scores and {"acc", "acc_lo", "acc_hi"} <= set(card["test"])
    for file in card["dataset"]["files"].values():
        assert file["sha256"] in params
    assert card["sha256"] == sha256_of(slice_packages / "stages/package/sgd_5/model.skops")
    assert card["git_commit"] != ""
    assert 'load_model("model.skops")' in card["load"]["python"]
    steps = {s["step"]: s for s in card["steps"]}
    assert steps["model"]["params"]["loss"] == "hinge"
    assert steps["pixels"]["params"] == {"deskew": False, "method": "scale"}
    markdown = (slice_packages / "stages/package/sgd_5/card.md").read_text()
    assert f"{100 * scores['acc']:.2f}%" in markdown


def test_loading_refuses_a_type_we_do_not_trust(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(skops.io.dumps(NotOurs()))
    with pytest.raises(ModelFileError) as raised:
        load_model(path)
    assert str(raised.value) == (
        f"{path}: holds types this project does not trust: test_package.NotOurs"
    )


def test_loading_refuses_a_file_that_is_no_skops_file(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"\x80\x04K\x01.")  # a pickle
    with pytest.raises(ModelFileError, match=r"^.*model\.skops: not a skops model file \("):
        load_model(path)


def test_raw_chain_keeps_uint8_pixels(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    path = tmp_path / CHAIN_FILE
    save_model(Pipeline([("rows", RawRows().fit(images))]), path)
    rows = load_model(path).transform(images)
    assert rows.dtype == np.uint8 and rows.shape == (2, 784)


def test_chain_refuses_images_of_another_shape():
    pixels = PixelRows().fit(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"^expected images of 28x28 pixels, got \(8, 8\)$"):
        pixels.transform(np.zeros((1, 8, 8), np.uint8))


def test_package_without_the_feature_chain_names_the_missing_file(slice_packages, tmp_path):
    args = redirected(package_step("knn", "pca"), features=tmp_path, out=tmp_path / "out")
    params = params_copy(slice_packages, tmp_path)
    result = run_main(*args[:1], "--params", params, *args[1:], cwd=slice_packages)
    assert result.returncode == 1
    assert f"package: error: {tmp_path / CHAIN_FILE}: no such file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_package_script_has_help():
    result = run_main("package", "--help")
    assert result.returncode == 0 and "model.skops" in result.stdout


def test_sha256_in_card_is_of_the_model_file(slice_packages):
    data = (slice_packages / "stages/package/knn/model.skops").read_bytes()
    card = json.loads((slice_packages / "stages/package/knn/card.json").read_text())
    assert card["sha256"] == hashlib.sha256(data).hexdigest()


def test_card_commit_is_the_last_to_change_code_params_or_data(tmp_path):
    from conftest import git

    from mnist_pipeline.stages.package import git_commit

    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "src").mkdir()
    (tmp_path / "src/stage.py").write_text("one\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "code")
    code = git(tmp_path, "rev-parse", "HEAD").stdout.strip()
    (tmp_path / "dvc.lock").write_text("results\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "results alone")
    assert git_commit(tmp_path) == code
    (tmp_path / "src/stage.py").write_text("two\n")
    assert git_commit(tmp_path) == f"{code} with uncommitted changes"
    assert git_commit(tmp_path / "src") == f"{code} with uncommitted changes"
