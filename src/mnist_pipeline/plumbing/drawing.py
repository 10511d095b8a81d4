"""Moved to ``mnist_pipeline.charts``; kept until predict, sweep and conftest import it there."""

from mnist_pipeline.charts import STYLE, new_figure, png_bytes, save_png, style, styled

__all__ = ["STYLE", "new_figure", "png_bytes", "save_png", "style", "styled"]
