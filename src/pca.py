"""Stage pca (and pca_deskewed, with ``--section``): the rows projected onto the first ``n``
principal components of the training split, by the covariance's eigendecomposition (exact and
deterministic: no seed), and the whole spectrum (variance.csv) for choosing ``n``."""

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy loads

# isort: split

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from mnist_pipeline.data import SPLITS
from mnist_pipeline.features import CHAIN_FILE, Float32PCA
from mnist_pipeline.params import PCA_STAGES, ParamsError, load_params
from mnist_pipeline.plumbing import files
from mnist_pipeline.plumbing.model_files import load_model, save_model

log = logging.getLogger("pca")


def explained_variance_ratio(x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Every principal axis's share of the variance of the rows ``x``, largest first (a full
    PCA's ``explained_variance_ratio_``), summed in float64 by blocks: no full-size copy."""
    mean = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
    scatter = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, len(x), chunk):
        block = x[start : start + chunk] - mean
        scatter += block.T @ block
    eigenvalues = np.clip(np.linalg.eigvalsh(scatter)[::-1], 0.0, None)
    total = eigenvalues.sum()
    return eigenvalues / total if total > 0 else eigenvalues


def variance_csv(ratio: np.ndarray) -> str:
    """``components,share,cumulative`` for k = 1..len(ratio), to 8 significant digits."""
    rows = [
        [k, f"{share:.8g}", f"{total:.8g}"]
        for k, (share, total) in enumerate(zip(ratio, np.cumsum(ratio), strict=True), start=1)
    ]
    return files.csv_text(["components", "share", "cumulative"], rows)


def _project(args: argparse.Namespace) -> None:
    settings = getattr(load_params(args.params), args.section)
    splits = {s: files.load_arrays(args.source / f"{s}.npz", ("X", "y")) for s in SPLITS}
    chain = load_model(args.source / CHAIN_FILE)
    train = splits["train"]["X"]
    if settings.n > min(train.shape):
        raise ParamsError(
            f"{settings.key}.n: expected at most {min(train.shape)} (the number of features or "
            f"training rows), got {settings.n}"
        )
    pca = Float32PCA(settings.n, whiten=settings.whiten, svd_solver="covariance_eigh").fit(train)
    with files.atomic_dir(args.out) as tmp:
        for split, arrays in splits.items():
            files.save_arrays(tmp / f"{split}.npz", arrays | {"X": pca.transform(arrays["X"])})
        components = {
            "components": pca.components_.astype(np.float32),
            "mean": pca.mean_.astype(np.float32),
            "explained_variance_ratio": pca.explained_variance_ratio_,
        }
        files.save_arrays(tmp / "components.npz", components)
        save_model(Pipeline([*chain.steps, ("pca", pca)]), tmp / CHAIN_FILE)
    files.write_text(args.variance, variance_csv(explained_variance_ratio(train)))
    test = splits["test"]["X"]
    mse = np.mean((test.astype(np.float64) - pca.inverse_transform(pca.transform(test))) ** 2)
    kept = 100 * pca.explained_variance_ratio_.sum()
    log.info("%d components keep %.1f%% of the variance; test MSE %.6f", settings.n, kept, mse)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line of error."""
    parser = argparse.ArgumentParser(prog="pca", description=__doc__)
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (n, whiten)")
    parser.add_argument("--section", choices=PCA_STAGES, default="pca", help="its params")
    parser.add_argument("--in", dest="source", type=Path, required=True, help="normalize's folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the projections")
    parser.add_argument("--variance", type=Path, required=True, help="CSV: each component's share")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        _project(args)
    except (ValueError, FileNotFoundError, files.OutputError) as err:
        print(f"pca: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
