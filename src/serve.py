"""Tool `serve`: the draw-a-digit page on 127.0.0.1, every packaged model answering as one draws.

See ``mnist_pipeline.tools.serve`` and docs/predict.md.
"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import argparse
import sys
from pathlib import Path

from mnist_pipeline.plumbing.model_files import ModelFileError
from mnist_pipeline.tools.predict import load_package, packaged_models
from mnist_pipeline.tools.serve import DigitServer, serve_in_thread


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C; return the exit code (2 if no model could be loaded)."""
    parser = argparse.ArgumentParser(
        description="Serve the draw-a-digit page on 127.0.0.1: draw with the mouse or a "
        "finger, and every packaged model answers as you draw; the page needs no network.",
    )
    parser.add_argument("--port", type=int, default=8021, help="0: any free port (default 8021)")
    parser.add_argument(
        "--model",
        action="append",
        help="a packaged model to serve (repeatable; default: every model of stages/package/)",
    )
    parser.add_argument("--repo", type=Path, default=Path(), help="the project folder")
    args = parser.parse_args(argv)
    try:
        names = args.model or packaged_models(args.repo)
        if not names:
            raise FileNotFoundError("stages/package: no packaged model (run `dvc repro`)")
        packages = [load_package(name, args.repo) for name in names]
        server = DigitServer(packages, port=args.port)
    except (FileNotFoundError, ModelFileError, ValueError, OSError) as err:
        print(f"serve: error: {err}", file=sys.stderr)
        return 2
    print(f"serve: {len(packages)} models on {server.url} (Ctrl-C stops)", flush=True)
    thread = serve_in_thread(server)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
