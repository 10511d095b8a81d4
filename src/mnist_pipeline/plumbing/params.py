"""Moved to ``mnist_pipeline.params``; this re-export goes once every importer uses that."""

from mnist_pipeline.params import *  # noqa: F403
