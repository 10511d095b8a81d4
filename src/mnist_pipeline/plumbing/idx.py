"""Moved to ``mnist_pipeline.data``: these names stay importable here until the modules of the
other slices (predict, benchmarks, two tests) import them from there; then this file goes."""

from mnist_pipeline.data import MNIST_FILE_NAMES, IdxError, read_idx, write_idx_dataset

__all__ = ["MNIST_FILE_NAMES", "IdxError", "read_idx", "write_idx_dataset"]
