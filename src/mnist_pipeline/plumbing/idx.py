"""Moved to ``mnist_pipeline.data``: these names stay importable here until the modules of the
other slices (predict, benchmarks, two tests) import them from there; then this file goes."""

from mnist_pipeline.data import IdxError, read_idx

__all__ = ["IdxError", "read_idx"]
