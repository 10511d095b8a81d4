"""Tool `artifacts`: write (or check) dvc.yaml's section between two marker comments, generated
from params.yaml's models (DVC has no `foreach` there): `artifacts:` (each stages/train/<name>,
for `dvc artifacts get`) and the top-level `metrics:` of the models that learn in steps."""

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from mnist_pipeline.estimators import estimator_spec
from mnist_pipeline.params import Model, load_params
from mnist_pipeline.plumbing.files import write_text

START = "# artifacts:start (written by `make artifacts` from params.yaml's models; do not edit)"
END = "# artifacts:end"


def artifacts_section(models: Mapping[str, Model]) -> str:
    """The marked section for ``models``; labels stay ``${...}`` of params.yaml, so that
    `dvc exp run -S dataset=...` labels them right."""
    live = [n for n, model in models.items() if estimator_spec(model.estimator).learns_in_steps]
    lines = [START, "metrics:", *(f"  - metrics/{n}/live/metrics.json" for n in live), "artifacts:"]
    for name, model in models.items():
        key = f"models.{name}"
        task = "every class" if model.target is None else f"detector of class ${{{key}.target}}"
        lines += [
            f"  {name}:",
            f"    path: stages/train/{name}",
            "    type: model",
            f'    desc: "{name}: ${{{key}.estimator}} on ${{{key}.features}} features of '
            f'${{dataset}} ({task}), a scikit-learn Pipeline from uint8 images (skops)"',
            "    labels:",
            "      - ${dataset}",
            f"      - ${{{key}.estimator}}",
            f"      - ${{{key}.features}}",
            *["      - detector"] * (model.target is not None),
        ]
    return "\n".join([*lines, END]) + "\n"


def splice(dvc_yaml: str, section: str) -> str:
    """``dvc_yaml`` with its marked section replaced by ``section`` (appended if none)."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END) + r"\n?", re.DOTALL)
    spliced, found = pattern.subn(lambda _: section, dvc_yaml)
    return spliced if found else dvc_yaml.rstrip("\n") + "\n\n" + section


def main(argv: list[str] | None = None) -> int:
    """Rewrite the section, or with ``--check`` exit 1 if it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--dvc-yaml", type=Path, default=Path("dvc.yaml"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the section is stale")
    args = parser.parse_args(argv)
    try:
        models = load_params(args.params).models
        current = args.dvc_yaml.read_text(encoding="utf-8")
        if (wanted := splice(current, artifacts_section(models))) != current and args.check:
            raise ValueError(
                f"{args.dvc_yaml}: artifacts: does not list the models of {args.params}; "
                "run `make artifacts`"
            )
    except (ValueError, OSError) as err:  # ParamsError is a ValueError
        print(f"artifacts: error: {err}", file=sys.stderr)
        return 1
    if wanted != current:
        write_text(args.dvc_yaml, wanted)
        print(f"artifacts: {args.dvc_yaml}: {len(models)} artifacts written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
