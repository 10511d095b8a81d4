"""params.yaml and datasets.yaml: the shipped ones load; a mistake is one line naming the key."""

import shutil

import pytest
from conftest import REPO

from mnist_pipeline.params import ParamsError, load_params

MODELS = ["nearest", "nearest_pca", "knn", "svm", "mlp", "logreg", "sgd_5", "never_5"]
MODELS += ["logreg_4", "gd_4", "cnn"]


def test_shipped_params_load_with_every_notebook_model_and_dataset_file():
    params = load_params(REPO / "params.yaml")
    assert list(params.models) == MODELS
    assert (params.pca.n, params.split.validation, params.split.train_size) == (60, 10000, None)
    assert (params.dataset.key, params.dataset.image_shape) == ("datasets.mnist", (28, 28))
    for file in params.dataset.files.values():
        assert file.size == (REPO / "data/mnist" / file.name).stat().st_size


def test_a_model_entry_splits_pipeline_keys_from_estimator_parameters():
    params = load_params(REPO / "params.yaml")
    knn, sgd = params.model("knn"), params.model("sgd_5")
    assert (knn.key, knn.features, knn.estimator, knn.target) == ("models.knn", "pca", "knn", None)
    assert knn.params == {"k": 4, "weights": "distance"}
    assert (sgd.target, sgd.cv) == (5, 3) and "cv" not in sgd.params
    assert params.dataset.references.cv == {"sgd_5": 0.96, "never_5": 0.91}


def test_split_train_is_a_number_of_training_images_or_all(write_params):
    assert load_params(write_params({"split": {"train": 500}})).split.train_size == 500
    assert load_params(write_params({"split": {"train": "all"}})).split.train_size is None


@pytest.mark.parametrize(
    ("overrides", "key", "got"),
    [
        ({"pca": {"nn": 40}}, "pca.nn", "unknown key (expected one of: n, whiten)"),
        ({"modles": {}}, "modles", "unknown key (expected one of: dataset, download, split,"),
        ({"pca": {"n": "forty"}}, "pca.n", "got 'forty'"),
        ({"pca_deskewed": {"n": 0}}, "pca_deskewed.n", "got 0"),
        ({"normalize_deskewed": {"deskew": "yes"}}, "normalize_deskewed.deskew", "got 'yes'"),
        ({"normalize": {"method": "minmax"}}, "normalize.method", "expected one of scale, offset"),
        ({"split": {"validation": 2.5}}, "split.validation", "got 2.5"),
        ({"split": {"train": True}}, "split.train", "expected all or an integer >= 1, got True"),
        ({"raw": {"validation": -1}}, "raw.validation", "got -1"),
        ({"download": {"min_rate": 0}}, "download.min_rate", "got 0"),
        ({"figures": {"dpi": 5}}, "figures.dpi", "got 5"),
        ({"models": {"sgd_5": {"cv": "3"}}}, "models.sgd_5.cv", "got '3'"),
        ({"models": {"knn": {"features": "pixels"}}}, "models.knn.features", "got 'pixels'"),
        ({"models": {"knn": {"estimator": "forest"}}}, "models.knn.estimator", "got 'forest'"),
        ({"models": {"Knn!": {}}}, "models.Knn!", "expected a name of lowercase letters"),
        (
            {"datasets": {"mnist": {"files": {"test_labels": {"size": 0}}}}},
            "datasets.mnist.files.test_labels.size",
            "got 0",
        ),
        (
            {"datasets": {"mnist": {"files": {"train_images": {"sha256": "abc"}}}}},
            "datasets.mnist.files.train_images.sha256",
            "expected 64 lowercase hex digits, got 'abc'",
        ),
        (
            {"datasets": {"mnist": {"references": {"cv": {"logreg_4": 0.98}}}}},
            "datasets.mnist.references.cv.logreg_4",
            "not a model with cv (expected one of: sgd_5, never_5)",
        ),
        ({"download": {"timeout": float("nan")}}, "download.timeout", "got nan"),
    ],
)
def test_a_mistake_is_one_line_naming_the_file_and_the_dotted_key(
    write_params, overrides, key, got
):
    path = write_params(overrides)
    source = path.with_name("datasets.yaml") if "datasets" in overrides else path
    with pytest.raises(ParamsError) as err:
        load_params(path)
    message = str(err.value)
    assert message.startswith(f"{source}: {key}: ") and "\n" not in message
    assert got in message


def test_a_missing_key_or_file_or_a_yaml_syntax_error_is_one_line_naming_it(tmp_path):
    shutil.copy(REPO / "datasets.yaml", tmp_path)
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text().replace("  whiten: false\n", ""))
    with pytest.raises(ParamsError, match=rf"^{path}: pca.whiten: missing$"):
        load_params(path)
    with pytest.raises(ParamsError, match=rf"^{tmp_path / 'nope.yaml'}: no such params file$"):
        load_params(tmp_path / "nope.yaml")
    path.write_text((REPO / "params.yaml").read_text() + "pca: [\n")
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value).startswith(f"{path}: cannot read: ") and "\n" not in str(err.value)


def test_an_exponent_without_a_dot_is_a_float_as_dvc_exp_run_s_writes_it(tmp_path):
    """`-S ...=0.00002` writes `2e-05`: a float in DVC's YAML 1.2, a string in PyYAML's 1.1."""
    shutil.copy(REPO / "datasets.yaml", tmp_path)
    path = tmp_path / "params.yaml"
    text = (REPO / "params.yaml").read_text()
    path.write_text(text.replace("learning_rate: 0.00001", "learning_rate: 2e-05"))
    assert load_params(path).model("gd_4").params["learning_rate"] == 2e-05


def test_an_unknown_model_name_is_refused_naming_the_known_ones():
    with pytest.raises(ParamsError, match=r"^models.resnet: no such model \(expected one of: ne"):
        load_params(REPO / "params.yaml").model("resnet")
