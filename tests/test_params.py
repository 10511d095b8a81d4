"""The params loader: the shipped params.yaml and datasets.yaml load; each kind of mistake
names its file and key."""

from __future__ import annotations

import shutil

import pytest
from conftest import REPO

from mnist_pipeline.plumbing.params import Normalize, ParamsError, Raw, load_params


def test_shipped_params_load_with_every_notebook_model():
    params = load_params(REPO / "params.yaml")
    assert list(params.models) == [
        "nearest",
        "nearest_pca",
        "knn",
        "svm",
        "mlp",
        "logreg",
        "sgd_5",
        "never_5",
        "logreg_4",
        "gd_4",
        "cnn",
    ]
    assert params.pca.n == 60
    assert params.split.validation == 10000
    assert params.split.train_size is None  # split.train: all
    assert params.dataset.name == "mnist"
    assert params.dataset.mirrors[0] == "data/mnist"


def test_shipped_params_give_each_dataset_file_its_real_size_and_28_x_28_images():
    dataset = load_params(REPO / "params.yaml").dataset
    for file in dataset.files.values():
        assert file.size == (REPO / "data" / "mnist" / file.name).stat().st_size
    assert dataset.image_shape == (28, 28)


def test_split_train_is_a_number_of_training_images_or_all(write_params):
    assert load_params(write_params({"split": {"train": 500}})).split.train_size == 500
    assert load_params(write_params({"split": {"train": "all"}})).split.train_size is None


def test_model_entry_splits_pipeline_keys_from_estimator_parameters():
    knn = load_params(REPO / "params.yaml").model("knn")
    assert (knn.features, knn.estimator, knn.target) == ("pca", "knn", None)
    assert knn.params == {"k": 4, "weights": "distance"}


def test_svm_reads_the_deskewed_feature_set():
    params = load_params(REPO / "params.yaml")
    assert params.model("svm").features == "pca_deskewed"
    assert params.normalize_deskewed == Normalize(method="l2", deskew=True)
    pca = params.pca_deskewed
    assert (pca.name, pca.n, pca.whiten) == ("pca_deskewed", 60, False)


def test_feature_sections_are_looked_up_by_stage_name():
    params = load_params(REPO / "params.yaml")
    assert params.normalize_section("normalize") == Normalize(method="scale", deskew=False)
    assert params.pca_section("pca_deskewed") is params.pca_deskewed
    with pytest.raises(ParamsError) as err:
        params.pca_section("normalize")
    assert str(err.value) == ("normalize: not a PCA section (expected one of: pca, pca_deskewed)")


def test_gradient_descent_model_reads_raw_pixels_with_no_validation_split():
    params = load_params(REPO / "params.yaml")
    gd = params.model("gd_4")
    assert (gd.features, gd.estimator, gd.target) == ("raw", "gradient_descent", 4)
    assert gd.params == {"learning_rate": 0.00001, "max_iter": 200}
    assert params.raw == Raw(validation=0)
    assert params.split.validation == 10000


def test_cv_is_an_evaluation_option_never_an_estimator_parameter():
    params = load_params(REPO / "params.yaml")
    assert (params.model("sgd_5").cv, params.model("never_5").cv) == (3, 3)
    assert "cv" not in params.model("sgd_5").params
    assert [name for name, m in params.models.items() if m.cv is not None] == ["sgd_5", "never_5"]


def test_gists_cross_validated_accuracies_sit_apart_from_the_notebooks_test_accuracies():
    references = load_params(REPO / "params.yaml").dataset.references
    assert references.cv == {"sgd_5": 0.96, "never_5": 0.91}
    assert not {"sgd_5", "never_5"} & set(references.test)


def test_detector_has_its_target_digit():
    assert load_params(REPO / "params.yaml").model("sgd_5").target == 5


def load_with(write_params, overrides: dict):
    """A loader of params written with ``overrides``, and the file a mistake in them names:
    datasets.yaml for the catalogue's keys, else params.yaml."""
    path = write_params(overrides)
    named = path.with_name("datasets.yaml") if "datasets" in overrides else path
    return lambda: load_params(path), str(named)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pca": {"nn": 40}}, "pca.nn: unknown key (expected one of: n, whiten)"),
        (
            {"datasets": {"mnist": {"references": {"cv": {"logreg_4": 0.98}}}}},
            "datasets.mnist.references.cv.logreg_4: not a model with cv "
            "(expected one of: sgd_5, never_5)",
        ),
        (
            {"datasets": {"mnist": {"references": {"cv": {"sgd_5": "0.96"}}}}},
            "datasets.mnist.references.cv.sgd_5: expected a number, got '0.96'",
        ),
        ({"pca": {"n": "forty"}}, "pca.n: expected an integer, got 'forty'"),
        ({"pca": {"n": 0}}, "pca.n: expected an integer >= 1, got 0"),
        ({"pca": {"whiten": "yes"}}, "pca.whiten: expected true or false, got 'yes'"),
        ({"pca_deskewed": {"n": 0}}, "pca_deskewed.n: expected an integer >= 1, got 0"),
        (
            {"normalize_deskewed": {"deskew": "yes"}},
            "normalize_deskewed.deskew: expected true or false, got 'yes'",
        ),
        (
            {"normalize": {"method": "minmax"}},
            "normalize.method: expected one of scale, offset, l2, standardize, got 'minmax'",
        ),
        ({"split": {"validation": 2.5}}, "split.validation: expected an integer, got 2.5"),
        ({"split": {"train": "half"}}, "split.train: expected all or an integer >= 1, got 'half'"),
        ({"split": {"train": 0}}, "split.train: expected all or an integer >= 1, got 0"),
        ({"split": {"train": True}}, "split.train: expected all or an integer >= 1, got True"),
        (
            {"split": {"size": 500}},
            "split.size: unknown key (expected one of: validation, train)",
        ),
        ({"raw": {"validation": -1}}, "raw.validation: expected an integer >= 0, got -1"),
        ({"raw": {"validation": "none"}}, "raw.validation: expected an integer, got 'none'"),
        ({"raw": {"holdout": 0}}, "raw.holdout: unknown key (expected one of: validation)"),
        ({"download": {"timeout": -1}}, "download.timeout: expected a positive number, got -1"),
        ({"download": {"min_rate": 0}}, "download.min_rate: expected a positive number, got 0"),
        (
            {"datasets": {"mnist": {"files": {"test_labels": {"size": 0}}}}},
            "datasets.mnist.files.test_labels.size: expected an integer >= 1, got 0",
        ),
        (
            {"datasets": {"mnist": {"image_shape": [28]}}},
            "datasets.mnist.image_shape: expected [rows, columns], two positive integers, got [28]",
        ),
        (
            {"datasets": {"mnist": {"mirrors": []}}},
            "datasets.mnist.mirrors: expected a non-empty list of directories or URLs, got []",
        ),
        (
            {"datasets": {"mnist": {"files": {"train_images": {"sha256": "abc"}}}}},
            "datasets.mnist.files.train_images.sha256: expected 64 lowercase hex digits, got 'abc'",
        ),
        (
            {"models": {"knn": {"features": "pixels"}}},
            "models.knn.features: expected one of raw, normalize, pca, normalize_deskewed, "
            "pca_deskewed, images, got 'pixels'",
        ),
        (
            {"models": {"knn": {"estimator": "forest"}}},
            "models.knn.estimator: expected one of cnn, cosine_1nn, dummy, extra_trees, "
            "gradient_descent, knn, logistic_regression, mlp, one_vs_one_svc, sgd, svc, "
            "got 'forest'",
        ),
        ({"models": {"sgd_5": {"cv": 1}}}, "models.sgd_5.cv: expected an integer >= 2, got 1"),
        ({"models": {"sgd_5": {"cv": "3"}}}, "models.sgd_5.cv: expected an integer, got '3'"),
        (
            {"models": {"sgd_5": {"target": 10}}},
            "models.sgd_5.target: expected a class index 0-9 of datasets.mnist.classes "
            "(or no target for a model of every class), got 10",
        ),
        (
            {"datasets": {"mnist": {"references": {"test": {"resnet": 0.99}}}}},
            "datasets.mnist.references.test.resnet: not a model (expected one of: nearest, "
            "nearest_pca, knn, svm, mlp, logreg, sgd_5, never_5, logreg_4, gd_4, cnn)",
        ),
        ({"figures": {"dpi": 5}}, "figures.dpi: expected an integer >= 10, got 5"),
        (
            {"figures": {"misclassified": "all"}},
            "figures.misclassified: expected an integer, got 'all'",
        ),
        (
            {"figures": {"samples_per_digit": 0}},
            "figures.samples_per_digit: expected an integer >= 1, got 0",
        ),
    ],
)
def test_bad_value_is_named_by_file_and_key(write_params, overrides, message):
    load, source = load_with(write_params, overrides)
    with pytest.raises(ParamsError) as err:
        load()
    assert str(err.value) == f"{source}: {message}"


def test_misspelled_top_level_section(write_params, repo_params):
    path = write_params({"modles": {}})
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value) == (
        f"{path}: modles: unknown key (expected one of: dataset, download, "
        "split, raw, normalize, pca, normalize_deskewed, pca_deskewed, "
        "models, figures)"
    )


def test_missing_key(tmp_path):
    shutil.copy(REPO / "datasets.yaml", tmp_path)
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text().replace("  whiten: false\n", ""))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value) == f"{path}: pca.whiten: missing"


def test_missing_params_file(tmp_path):
    with pytest.raises(ParamsError) as err:
        load_params(tmp_path / "nope.yaml")
    assert str(err.value) == f"{tmp_path / 'nope.yaml'}: no such params file"


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ParamsError) as err:
        load_params(REPO / "params.yaml").model("resnet")
    assert str(err.value).startswith("models.resnet: no such model (expected one of: nearest,")


def test_exponent_without_a_dot_is_a_float_as_dvc_writes_it(tmp_path):
    """`dvc exp run -S models.gd_4.learning_rate=0.00002` writes `2e-05`: YAML 1.1 (PyYAML's
    default) would read the string '2e-05', YAML 1.2 (DVC's) the float."""
    shutil.copy(REPO / "datasets.yaml", tmp_path)
    path = tmp_path / "params.yaml"
    path.write_text(
        (REPO / "params.yaml").read_text().replace("learning_rate: 0.00001", "learning_rate: 2e-05")
    )
    assert load_params(path).model("gd_4").params["learning_rate"] == 2e-05
