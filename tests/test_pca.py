"""PCA's variance spectrum: every principal axis's share of the variance, as a CSV; the pca
stage on a slice of MNIST: its projections, and a number of components it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SLICE_STEPS, params_copy, redirected, run_main, run_script

from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.stages.pca import explained_variance_ratio, variance_csv


def test_explained_variance_ratio_matches_scikit_learn_pca():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    x[:, 3] = 0.5  # a constant pixel, as MNIST's borders: one zero eigenvalue
    ours = explained_variance_ratio(x, chunk=37)  # blocks that do not divide the rows
    theirs = PCA(svd_solver="full").fit(x).explained_variance_ratio_
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    assert ours.shape == (12,)
    assert ours.sum() == pytest.approx(1.0)
    assert ours[-1] == pytest.approx(0.0, abs=1e-12)
    # float32 features, as the normalize stage writes them: products in float32
    single = explained_variance_ratio(x.astype(np.float32), chunk=37)
    np.testing.assert_allclose(single, theirs, atol=1e-6)
    np.testing.assert_allclose(np.cumsum(single), np.cumsum(theirs), atol=1e-6)


def test_variance_csv_gives_each_share_and_the_running_total_to_8_digits():
    assert variance_csv(np.array([0.5, 1 / 3, 1 / 6])).splitlines() == [
        "components,share,cumulative",
        "1,0.5,0.5",
        "2,0.33333333,0.83333333",
        "3,0.16666667,1",
    ]


# --- the stage, on the MNIST slice (conftest's slice_run) -----------------------------------


def test_pca_writes_projections_and_the_whole_variance_spectrum(slice_run):
    train = load_arrays(slice_run / "stages/pca/train.npz", ("X", "y"))
    assert train["X"].shape == (1000, 20)
    lines = (slice_run / "metrics/pca/variance.csv").read_text().splitlines()
    assert lines[0] == "components,share,cumulative"
    assert len(lines) == 1 + 784
    rows = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_array_equal(rows[:, 0], np.arange(1, 785))
    assert np.all(np.diff(rows[:, 1]) <= 0)
    assert rows[-1, 2] == pytest.approx(1.0, abs=1e-6)
    components = load_arrays(
        slice_run / "stages/pca/components.npz", ("explained_variance_ratio",)
    )["explained_variance_ratio"]
    assert rows[19, 2] == pytest.approx(components.sum(), abs=1e-6)


def test_pca_runs_as_dvc_runs_it(slice_run, tmp_path):
    """The script in a fresh Python, as dvc.yaml's command: the projections of the in-process
    run (to float32 rounding: BLAS may split the sums differently)."""
    out, variance = tmp_path / "pca", tmp_path / "variance.csv"
    script, *args = redirected(SLICE_STEPS["pca"], out=out, variance=variance)
    result = run_script(script, "--params", params_copy(slice_run, tmp_path), *args, cwd=slice_run)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("pca: done in ")
    for split in ("train", "val", "test"):
        written = load_arrays(out / f"{split}.npz", ("X", "y"))
        expected = load_arrays(slice_run / f"stages/pca/{split}.npz", ("X", "y"))
        np.testing.assert_allclose(written["X"], expected["X"], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(written["y"], expected["y"])
    assert len(variance.read_text().splitlines()) == 1 + 784


def test_pca_script_has_help():
    result = run_main("pca", "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage:")


def test_pca_n_larger_than_the_feature_count_is_refused(slice_run, write_params):
    params = write_params({"pca": {"n": 785}})
    out = params.parent / "pca_big"
    result = run_main(
        "pca",
        "--params",
        params,
        "--in",
        "stages/normalize",
        "--out",
        out,
        "--variance",
        params.parent / "pca_big.csv",
        cwd=slice_run,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "pca: error: pca.n: expected at most 784 (the number of features or training rows), "
        "got 785\n"
    )
    assert not out.exists()


def test_pca_error_names_the_section_it_follows(slice_run, write_params):
    params = write_params({"pca_deskewed": {"n": 785}})
    result = run_main(
        "pca",
        "--params",
        params,
        "--section",
        "pca_deskewed",
        "--in",
        "stages/normalize",
        "--out",
        params.parent / "pca_big",
        "--variance",
        params.parent / "pca_big.json",
        cwd=slice_run,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "pca: error: pca_deskewed.n: expected at most 784 (the "
        "number of features or training rows), got 785\n"
    )
