"""Stage `pca`: project the normalized features onto their first `pca.n` principal components."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from mnist_pipeline.files import atomic_dir, load_arrays, save_arrays, write_json
from mnist_pipeline.params import PCA_STAGES, ParamsError, Pca, load_params
from mnist_pipeline.stage import run_stage

SPLITS = ("train", "val", "test")
log = logging.getLogger("pca")


def fit_pca(train: np.ndarray, settings: Pca):
    """Fit PCA on the training split only (never on val or test).

    The solver is pinned to the eigendecomposition of the covariance matrix: exact and
    deterministic, so PCA needs no random seed (scikit-learn's "auto" picks it for MNIST's
    50,000 x 784 anyway, but a randomized solver for small slices)."""
    from sklearn.decomposition import PCA

    limit = min(train.shape)
    if settings.n > limit:
        raise ParamsError(
            f"{settings.section}.n: expected at most {limit} (the number of features or "
            f"training rows), got {settings.n}"
        )
    return PCA(n_components=settings.n, whiten=settings.whiten,
               svd_solver="covariance_eigh").fit(train)


def reconstruction_mse(pca, x: np.ndarray) -> float:
    """Mean squared error per pixel between the features and their projection back."""
    restored = pca.inverse_transform(pca.transform(x))
    return float(np.mean((x.astype(np.float64) - restored) ** 2))


def run(source: Path, out: Path, metrics_path: Path, settings: Pca) -> None:
    splits = {s: load_arrays(source / f"{s}.npz", ("X", "y")) for s in SPLITS}
    pca = fit_pca(splits["train"]["X"], settings)
    with atomic_dir(out) as tmp:
        for split, arrays in splits.items():
            projected = pca.transform(arrays["X"]).astype(np.float32)
            save_arrays(tmp / f"{split}.npz", {"X": projected, "y": arrays["y"]})
        save_arrays(tmp / "components.npz", {
            "components": pca.components_.astype(np.float32),
            "mean": pca.mean_.astype(np.float32),
            "explained_variance_ratio": pca.explained_variance_ratio_,
        })
    kept = float(pca.explained_variance_ratio_.sum())
    metrics = {
        "n_components": settings.n,
        "explained_variance_ratio": round(kept, 6),
        "test_reconstruction_mse": round(reconstruction_mse(pca, splits["test"]["X"]), 6),
    }
    write_json(metrics_path, metrics)
    log.info("%d components keep %.1f%% of the variance; test reconstruction MSE %.6f",
             settings.n, 100 * kept, metrics["test_reconstruction_mse"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fit PCA (n components, whiten) on the training split and project "
        "train/val/test onto it; writes train.npz, val.npz, test.npz, components.npz and a "
        "metrics JSON (variance kept, reconstruction error).",
    )
    parser.add_argument("--params", type=Path, required=True,
                        help="params.yaml (the section's n and whiten)")
    parser.add_argument("--section", choices=PCA_STAGES, default="pca",
                        help="the params section to follow, named after the stage that runs "
                        "this script (default: pca)")
    parser.add_argument("--in", dest="source", type=Path, required=True,
                        help="the normalize stage's folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the projections")
    parser.add_argument("--metrics", type=Path, required=True, help="JSON metrics file to write")
    args = parser.parse_args(argv)
    return run_stage(
        "pca",
        lambda: run(args.source, args.out, args.metrics,
                    load_params(args.params).pca_section(args.section)),
        (ParamsError, FileNotFoundError, ValueError),
    )


if __name__ == "__main__":
    sys.exit(main())
