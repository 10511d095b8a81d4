"""Tool `artifacts`: write (or check) dvc.yaml's `artifacts:` section from params.yaml's models.

See ``mnist_pipeline.tools.artifacts``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.tools.artifacts import COMMAND, artifacts_section, splice


def main(argv: list[str] | None = None) -> int:
    """Rewrite the section, or with ``--check`` exit 1 if it is stale; return the exit code."""
    parser = argparse.ArgumentParser(
        description="Write dvc.yaml's artifacts: section (one packaged model per model of "
        "params.yaml, for `dvc artifacts get`) between its marker comments.",
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--dvc-yaml", type=Path, default=Path("dvc.yaml"))
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if the section is stale"
    )
    args = parser.parse_args(argv)
    try:
        models = load_params(args.params).models
        current = args.dvc_yaml.read_text(encoding="utf-8")
    except (ParamsError, OSError) as err:
        print(f"artifacts: error: {err}", file=sys.stderr)
        return 1
    wanted = splice(current, artifacts_section(models))
    if args.check:
        if wanted != current:
            print(
                f"artifacts: error: {args.dvc_yaml}: artifacts: does not list the models of "
                f"{args.params}; run `{COMMAND}`",
                file=sys.stderr,
            )
            return 1
        return 0
    if wanted != current:
        write_text(args.dvc_yaml, wanted)
        print(f"artifacts: {args.dvc_yaml}: {len(models)} artifacts written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
