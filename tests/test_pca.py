"""PCA's variance spectrum against scikit-learn's, and the pca stage on the MNIST slice."""

import numpy as np
import pytest
from conftest import deep_update, run_main, run_script, write_decoded_slice, write_params_files

import pca
from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.plumbing.model_files import load_model


def test_the_variance_spectrum_is_scikit_learns_in_blocks_of_rows():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    x[:, 3] = 0.5  # a constant pixel, as MNIST's borders: one zero eigenvalue
    theirs = PCA(svd_solver="full").fit(x).explained_variance_ratio_

    np.testing.assert_allclose(pca.explained_variance_ratio(x, chunk=37), theirs, atol=1e-12)
    single = pca.explained_variance_ratio(x.astype(np.float32), chunk=37)
    np.testing.assert_allclose(single, theirs, atol=1e-6)


def test_variance_csv_gives_each_share_and_the_running_total_to_8_digits():
    assert pca.variance_csv(np.array([0.5, 1 / 3, 1 / 6])).splitlines() == [
        "components,share,cumulative",
        "1,0.5,0.5",
        "2,0.33333333,0.83333333",
        "3,0.16666667,1",
    ]


@pytest.fixture(scope="module")
def root(tmp_path_factory, mnist_slice, repo_params):
    """The MNIST slice decoded, normalized (validation 200), then pca (n 20) as dvc runs it."""
    root = tmp_path_factory.mktemp("pca")
    write_decoded_slice(root, mnist_slice)
    overrides = {"split": {"validation": 200}, "pca": {"n": 20}}
    params = write_params_files(root, deep_update(repo_params, overrides))
    folders = ("--in", root / "stages/decode", "--out", root / "normalize")
    assert run_main("normalize", "--params", params, *folders).returncode == 0
    args = ("--in", root / "normalize", "--out", root / "pca", "--variance", root / "pca.csv")
    result = run_script("pca", "--params", params, *args, timeout=120)
    assert result.returncode == 0, result.stderr
    return root


def test_pca_projects_every_split_and_writes_the_whole_spectrum(root):
    train = load_arrays(root / "pca/train.npz", ("X",))["X"]
    ratio = load_arrays(root / "pca/components.npz", ("explained_variance_ratio",))
    rows = np.loadtxt(root / "pca.csv", delimiter=",", skiprows=1)

    assert train.shape == (1000, 20) and train.dtype == np.float32
    for split, count in (("val", 200), ("test", 300)):
        assert load_arrays(root / f"pca/{split}.npz", ("X",))["X"].shape == (count, 20)
    assert rows.shape == (784, 3) and np.all(np.diff(rows[:, 1]) <= 0)
    assert rows[-1, 2] == pytest.approx(1, abs=1e-6)
    assert rows[19, 2] == pytest.approx(ratio["explained_variance_ratio"].sum(), abs=1e-6)


def test_the_chain_turns_decoded_images_into_the_projections(root):
    images = load_arrays(root / "stages/decode/test.npz", ("images",))["images"]

    chain = load_model(root / "pca/features.skops")

    assert [name for name, _ in chain.steps] == ["pixels", "pca"]
    projected = load_arrays(root / "pca/test.npz", ("X",))["X"]
    np.testing.assert_allclose(chain.transform(images), projected, atol=1e-5)


@pytest.mark.parametrize("section", ["pca", "pca_deskewed"])
def test_more_components_than_features_are_refused_naming_the_section(root, write_params, section):
    params = write_params({section: {"n": 785}})
    args = ("--in", root / "normalize", "--out", root / "too_many", "--variance", root / "v.csv")

    result = run_main("pca", "--params", params, "--section", section, *args)

    assert (result.returncode, result.stderr) == (
        1,
        f"pca: error: {section}.n: expected at most 784 (the number of features or training "
        "rows), got 785\n",
    )
    assert not (root / "too_many").exists()
