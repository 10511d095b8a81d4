"""PCA of the feature rows: fitted on the training split, every split projected onto it, and
the training split's whole variance spectrum. The fitted ``features.Float32PCA`` is appended
to the input stage's chain, which the stage writes beside the projections."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mnist_pipeline.features import CHAIN_FILE, Float32PCA
from mnist_pipeline.plumbing.files import atomic_dir, csv_text, load_arrays, save_arrays, write_text
from mnist_pipeline.plumbing.model_files import load_model, save_model
from mnist_pipeline.plumbing.params import ParamsError, Pca

SPLITS = ("train", "val", "test")
log = logging.getLogger("pca")


def fit_pca(train: np.ndarray, settings: Pca) -> Float32PCA:
    """Fit PCA on the training split only (never on val or test).

    The solver is pinned to the eigendecomposition of the covariance matrix: exact and
    deterministic, so PCA needs no random seed (scikit-learn's "auto" picks it for MNIST's
    50,000 x 784 anyway, but a randomized solver for small slices)."""
    limit = min(train.shape)
    if settings.n > limit:
        raise ParamsError(
            f"{settings.key}.n: expected at most {limit} (the number of features or "
            f"training rows), got {settings.n}"
        )
    return Float32PCA(n_components=settings.n, whiten=settings.whiten, svd_solver="covariance_eigh").fit(
        train
    )


def reconstruction_mse(pca, x: np.ndarray) -> float:
    """Mean squared error per pixel between the features and their projection back."""
    restored = pca.inverse_transform(pca.transform(x))
    return float(np.mean((x.astype(np.float64) - restored) ** 2))


def explained_variance_ratio(x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Share of the total variance along each principal axis of ``x`` (rows = samples), all
    ``x.shape[1]`` of them, largest first: the eigenvalues of the covariance matrix, which
    is what a full PCA's ``explained_variance_ratio_`` holds (zeros past the rank).

    The scatter matrix is summed in float64 over blocks of ``chunk`` centred rows, each block's
    product taken in the input's precision, so no full-size copy is made."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    mean = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
    scatter = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, len(x), chunk):
        block = x[start : start + chunk] - mean
        scatter += block.T @ block
    eigenvalues = np.clip(np.linalg.eigvalsh(scatter)[::-1], 0.0, None)
    total = eigenvalues.sum()
    return eigenvalues / total if total > 0 else eigenvalues


def variance_csv(ratio: np.ndarray) -> str:
    """``components,share,cumulative``: for k = 1..len(ratio), the k-th component's share of
    the variance and the share the first k keep together (8 significant digits)."""
    cumulative = np.cumsum(ratio)
    rows = [
        [k, f"{share:.8g}", f"{total:.8g}"]
        for k, (share, total) in enumerate(zip(ratio, cumulative, strict=True), start=1)
    ]
    return csv_text(["components", "share", "cumulative"], rows)


def project(source: Path, out: Path, variance_path: Path, settings: Pca) -> None:
    """Fit PCA on ``source``'s training split, write the projections of every split and
    ``source``'s chain with the PCA appended to ``out``, and the training split's whole
    variance spectrum to ``variance_path``."""
    from sklearn.pipeline import Pipeline

    splits = {s: load_arrays(source / f"{s}.npz", ("X", "y")) for s in SPLITS}
    chain_path = source / CHAIN_FILE
    if not chain_path.exists():
        raise FileNotFoundError(f"{chain_path}: no such file (did the previous stage run?)")
    chain = load_model(chain_path)
    pca = fit_pca(splits["train"]["X"], settings)
    with atomic_dir(out) as tmp:
        for split, arrays in splits.items():
            projected = pca.transform(arrays["X"])
            save_arrays(tmp / f"{split}.npz", {"X": projected, "y": arrays["y"]})
        save_arrays(
            tmp / "components.npz",
            {
                "components": pca.components_.astype(np.float32),
                "mean": pca.mean_.astype(np.float32),
                "explained_variance_ratio": pca.explained_variance_ratio_,
            },
        )
        save_model(Pipeline([*chain.steps, ("pca", pca)]), tmp / CHAIN_FILE)
    write_text(variance_path, variance_csv(explained_variance_ratio(splits["train"]["X"])))
    log.info(
        "%d components keep %.1f%% of the variance; test reconstruction MSE %.6f",
        settings.n,
        100 * float(pca.explained_variance_ratio_.sum()),
        reconstruction_mse(pca, splits["test"]["X"]),
    )
