"""Packaging one trained model with the feature chain it reads (stage ``package@<model>``): one
skops file holding a scikit-learn ``Pipeline`` from uint8 images of the dataset's shape to
classes, and its model card, generated from what the pipeline knows.

The chain is the model's feature stage's own fitted one (``features.CHAIN_FILE``) and the
estimator is train's ``model.pkl``: the very objects that made evaluate's predictions, so the
package predicts what evaluate predicted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mnist_pipeline.features import CHAIN_FILE
from mnist_pipeline.plumbing.files import atomic_dir, write_json, write_text
from mnist_pipeline.plumbing.model_files import load_model, save_model, skops_io
from mnist_pipeline.plumbing.params import Dataset, Model

MODEL_FILE = "model.skops"
CARD_JSON = "card.json"
CARD_MD = "card.md"
log = logging.getLogger("package")


def answer_names(target: int | None, classes: tuple[str, ...]) -> list[str]:
    """What the model answers, label ``i`` first: the dataset's class names, or for a detector
    of ``target`` "not <name>" and "<name>"."""
    if target is None:
        return list(classes)
    return [f"not {classes[target]}", classes[target]]


def confidence_kind(pipeline: Any) -> str:
    """``predict_proba`` where the model has probabilities, else ``decision_function``."""
    if hasattr(pipeline, "predict_proba"):
        return "predict_proba"
    return "decision_function"


CODE_PATHS = ("src", "params.yaml", "dvc.yaml", "pyproject.toml", "data")
"""What a model is made from, for the card's commit: the code, params, pipeline, pins and data."""


def git_commit(cwd: Path = Path()) -> str:
    """The last commit that changed ``CODE_PATHS`` in ``cwd``'s repository, and "with
    uncommitted changes" if the workspace has some there ("unknown" outside a repository).
    Not HEAD: a commit of results alone (dvc.lock, metrics/) or docs changes nothing a model is
    made from, so a cold run at it writes the same card, and the same bytes, as the run before."""

    paths = [f":/{path}" for path in CODE_PATHS]  # from the top, wherever cwd is

    def git(*args: str) -> subprocess.CompletedProcess:
        command = ["git", *args, "--", *paths]
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)

    try:
        last, changed = git("log", "-1", "--format=%H"), git("status", "--porcelain", "-uno")
    except OSError:
        return "unknown"
    if last.returncode != 0 or not last.stdout.strip():
        return "unknown"
    dirty = " with uncommitted changes" if changed.stdout.strip() else ""
    return last.stdout.strip() + dirty


def _plain(value: Any) -> Any:
    """A parameter value as JSON can hold it (tuples as lists, anything else by its repr)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return repr(value)


def step_params(pipeline: Any) -> list[dict[str, Any]]:
    """Each step of ``pipeline``: its name, class and every parameter."""
    return [
        {
            "step": name,
            "class": f"{type(step).__module__}.{type(step).__qualname__}",
            "params": {k: _plain(v) for k, v in sorted(step.get_params(deep=False).items())},
        }
        for name, step in pipeline.steps
    ]


def model_card(
    model: Model,
    dataset: Dataset,
    pipeline: Any,
    scores: Mapping[str, float],
    model_sha256: str,
    trusted: list[str],
    commit: str,
) -> dict[str, Any]:
    """The model card's content: what the model is, what it was trained and tested on, with
    which parameters, how well it did, and how to load it."""
    rows, cols = dataset.image_shape
    load = (
        "from mnist_pipeline.plumbing.model_files import load_model\n"
        f'pipeline = load_model("{MODEL_FILE}")\n'
        f"pipeline.predict(images)  # uint8 array, n x {rows} x {cols}, light on black"
    )
    return {
        "model": model.name,
        "file": MODEL_FILE,
        "format": "skops",
        "sha256": model_sha256,
        "task": "every class" if model.target is None else f"is it a {dataset.classes[model.target]}",
        "answers": answer_names(model.target, dataset.classes),
        "confidence": confidence_kind(pipeline),
        "input": f"uint8 images of {rows}x{cols} pixels, light {dataset.image_noun} on black, "
        "as the dataset stores them (src/predict.py prepares any picture so)",
        "dataset": {
            "name": dataset.name,
            "title": dataset.title,
            "licence": dataset.licence,
            "citation": dataset.citation,
            "classes": list(dataset.classes),
            "files": {
                role: {"name": f.name, "sha256": f.sha256} for role, f in dataset.files.items()
            },
        },
        "features": model.features,
        "estimator": model.estimator,
        "params": {k: _plain(v) for k, v in model.params.items()},
        "steps": step_params(pipeline),
        "test": dict(scores),
        "git_commit": commit,
        "load": {
            "python": load,
            "skops": f'skops.io.load("{MODEL_FILE}", trusted={trusted!r})',
            "command": "python src/predict.py --model <this folder> picture.png",
        },
    }


def card_markdown(card: Mapping[str, Any]) -> str:
    """The model card as Markdown, for a person."""
    test = card["test"]
    accuracy = f"{100 * test['acc']:.2f}% (95% interval {100 * test['acc_lo']:.2f}-"
    accuracy += f"{100 * test['acc_hi']:.2f}%)"
    data = card["dataset"]
    lines = [
        f"# Model card: `{card['model']}`",
        "",
        f"`{card['estimator']}` on `{card['features']}` features of {data['title']}, "
        f"{card['task']}; answers {', '.join(card['answers'])}.",
        "",
        f"- Test accuracy: {accuracy} on the dataset's test split.",
        f"- Input: {card['input']}.",
        f"- Confidence: `{card['confidence']}`.",
        f"- File: `{card['file']}` ({card['format']}), sha256 `{card['sha256']}`.",
        f"- Git commit (the last to change code, params or data): `{card['git_commit']}`.",
        f"- Dataset: {data['title']} ({data['licence']}); {data['citation']}",
        "",
        "| data file | sha256 |",
        "|---|---|",
        *(f"| `{f['name']}` | `{f['sha256']}` |" for f in data["files"].values()),
        "",
        "## Steps and parameters",
        "",
        "| step | class | parameters |",
        "|---|---|---|",
        *(
            f"| `{s['step']}` | `{s['class']}` | "
            + ", ".join(f"{k}={v!r}" for k, v in s["params"].items())
            + " |"
            for s in card["steps"]
        ),
        "",
        "## Test scores",
        "",
        *(f"- {k}: {v}" for k, v in sorted(test.items())),
        "",
        "## How to load",
        "",
        "```python",
        card["load"]["python"],
        "```",
        "",
        f"With skops alone: `{card['load']['skops']}`.",
        f"From the command line: `{card['load']['command']}`.",
        "",
    ]
    return "\n".join(lines)


def package(
    model: Model,
    dataset: Dataset,
    features: Path,
    model_dir: Path,
    scores_path: Path,
    out: Path,
) -> None:
    """Write ``out``/model.skops (the chain of ``features`` then ``model_dir``/model.pkl, one
    ``Pipeline``), card.json and card.md."""
    from sklearn.pipeline import Pipeline

    chain_path = features / CHAIN_FILE
    if not chain_path.exists():
        raise FileNotFoundError(f"{chain_path}: no such file (did the feature stage run?)")
    if not scores_path.exists():
        raise FileNotFoundError(f"{scores_path}: no such file (did evaluate run?)")
    chain = load_model(chain_path)
    with (model_dir / "model.pkl").open("rb") as fh:
        estimator = pickle.load(fh)  # our own train stage's output, never a downloaded file
    pipeline = Pipeline([*chain.steps, ("model", estimator)])
    scores = json.loads(scores_path.read_text(encoding="utf-8"))
    with atomic_dir(out) as tmp:
        save_model(pipeline, tmp / MODEL_FILE)
        data = (tmp / MODEL_FILE).read_bytes()
        trusted = sorted(skops_io().get_untrusted_types(data=data))
        card = model_card(
            model,
            dataset,
            pipeline,
            scores,
            hashlib.sha256(data).hexdigest(),
            trusted,
            git_commit(),
        )
        write_json(tmp / CARD_JSON, card)
        write_text(tmp / CARD_MD, card_markdown(card))
    log.info(
        "%s: %s (%s, %.1f MB), test accuracy %.4f",
        model.name,
        out / MODEL_FILE,
        " -> ".join(name for name, _ in pipeline.steps),
        len(data) / 1e6,
        scores["acc"],
    )

