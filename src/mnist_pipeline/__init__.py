"""Shared modules of the mnist-pipeline stages: IDX codec, params loader, model registry."""
