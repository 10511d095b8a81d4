"""Tool `predict`: which digit is in each picture, by the models the pipeline packaged.

See ``mnist_pipeline.tools.predict`` and docs/predict.md.
"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import argparse
import json
import sys
from pathlib import Path

from mnist_pipeline.plumbing.model_files import ModelFileError
from mnist_pipeline.tools import predict


def main(argv: list[str] | None = None) -> int:
    """Print each image's answer; return 1 if any file failed (the others are still
    answered), 2 for a bad command line or model."""
    parser = argparse.ArgumentParser(
        description="Classify digit pictures (PNG, JPEG, BMP, GIF: any size and colour, dark "
        "on light or light on dark), folders of them, IDX image files or .npy arrays of 28x28 "
        "uint8 images. Each picture is prepared as MNIST's were (grey, background black, ink "
        "scaled into 20x20, centred by its mass in 28x28). One line per image: the file, the "
        "class, the confidence (a probability, or a margin for a model without "
        "probabilities) and the runner-up class.",
    )
    parser.add_argument("images", nargs="+", type=Path, help="image files, folders, .npy, IDX")
    models = parser.add_mutually_exclusive_group()
    models.add_argument(
        "--model",
        help="a model name of stages/package/, or a package folder (e.g. what `dvc artifacts "
        "get` fetched); default: the leaderboard's best model of every class",
    )
    models.add_argument(
        "--all-models", action="store_true", help="every packaged model, one column each"
    )
    parser.add_argument("--json", action="store_true", help="JSON records instead of lines")
    parser.add_argument(
        "--show", type=Path, metavar="OUT.png", help="draw each original beside what the model saw"
    )
    parser.add_argument(
        "--repo", type=Path, default=Path(), help="the project folder (default: here)"
    )
    args = parser.parse_args(argv)

    try:
        if args.all_models:
            names = predict.packaged_models(args.repo)
            if not names:
                raise FileNotFoundError(f"{args.repo / predict.PACKAGES}: no packaged model")
        else:
            names = [args.model or predict.default_model(args.repo)]
        packages = [predict.load_package(name, args.repo) for name in names]
    except (FileNotFoundError, ModelFileError, ValueError) as err:
        print(f"predict: error: {err}", file=sys.stderr)
        return 2

    pictures, errors = predict.gather(args.images)
    for line in errors:
        print(f"predict: error: {line}", file=sys.stderr)
    if pictures:
        import numpy as np

        images = np.stack([p.image for p in pictures])
        results = {p.name: predict.answers(p, images) for p in packages}
        if args.json:
            print(json.dumps(predict.json_records(pictures, results), indent=2))
        else:
            print("\n".join(predict.text_lines(pictures, results)))
        if args.show:
            predict.show(pictures, results, args.show)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
