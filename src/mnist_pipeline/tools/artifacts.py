"""The ``artifacts:`` section of dvc.yaml, one entry per model of params.yaml, generated.

DVC 3.67 interpolates ``${...}`` inside an artifact's name and fields, but has no ``foreach``
for artifacts (``dvc.parsing.ArtifactDefinition``: one entry, one artifact), so a list that
follows params.yaml's models cannot be declared once. This writes it between two marker
comments: the model names and paths literally, the dataset, estimator and feature stage as
``${...}`` of params.yaml, so that ``dvc exp run -S dataset=...`` labels them right.
``make artifacts`` rewrites it; a test fails, naming that command, when it is stale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mnist_pipeline.plumbing.params import Model

START = "# artifacts:start (written by `make artifacts` from params.yaml's models; do not edit)"
END = "# artifacts:end"
COMMAND = "make artifacts"


def artifacts_section(models: Mapping[str, Model]) -> str:
    """The marked ``artifacts:`` section for ``models``: each a ``model`` at
    stages/package/<name>, with a description and the labels dataset, estimator, features
    (and ``detector`` for a one-vs-rest model)."""
    lines = [START, "artifacts:"]
    for name, model in models.items():
        key = f"models.{name}"
        task = "every class" if model.target is None else f"detector of class ${{{key}.target}}"
        lines += [
            f"  {name}:",
            f"    path: stages/package/{name}",
            "    type: model",
            f'    desc: "{name}: ${{{key}.estimator}} on ${{{key}.features}} features of '
            f'${{dataset}} ({task}), a scikit-learn Pipeline from uint8 images (skops)"',
            "    labels:",
            "      - ${dataset}",
            f"      - ${{{key}.estimator}}",
            f"      - ${{{key}.features}}",
        ]
        if model.target is not None:
            lines.append("      - detector")
    lines.append(END)
    return "\n".join(lines) + "\n"


def splice(dvc_yaml: str, section: str) -> str:
    """``dvc_yaml`` with its marked section replaced by ``section`` (appended if none)."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END) + r"\n?", re.DOTALL)
    if pattern.search(dvc_yaml):
        return pattern.sub(lambda _: section, dvc_yaml)
    return dvc_yaml.rstrip("\n") + "\n\n" + section
