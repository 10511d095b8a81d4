"""Fitted models and feature chains as skops files (no code runs when one is loaded, the same
object gives the same bytes), and a model's card, what train writes beside its model.skops.

skops (scikit-learn's secure persistence) stores an object as a zip of ``schema.json`` (each
object's type and attributes) and one ``.npy`` per array, and on load builds only the types
it trusts. ``load_model`` trusts scikit-learn's own types and the classes of this package
that a model is made of (``is_trusted``), and refuses a file that names any other type.

A plain ``skops.io.dumps`` differs between two runs: each zip entry carries the time it was
written, and the ids that link shared objects and name the array files are memory addresses.
``save_model`` rewrites the archive with those ids numbered in order of appearance and one
fixed timestamp, so the file depends on the object alone.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import io
import json
import re
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from mnist_pipeline.plumbing.files import atomic_file, open_regular

SCHEMA = "schema.json"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_ARRAY_FILE = re.compile(r"(\d+)\.(npy|npz)")
SKLEARN_TYPES = (
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
)
"""scikit-learn types that skops does not trust by default but a fitted model holds: the
MLP's optimizer state (plain arrays and numbers)."""


SCAN_SKIPS = ("torch", "dask")
"""Array libraries that scikit-learn's bundled array_api_compat wraps. On import, skops.io walks
every scikit-learn module to list the types it trusts, and that walk imports these when they
are installed (about 0.5 GB and seconds) though no model here is made of them."""


class ModelFileError(ValueError):
    """A model file that is not a skops file of ours, or names a type we do not trust."""


class _Skipped(importlib.abc.MetaPathFinder):
    """Refuses to import ``SCAN_SKIPS`` not yet imported, while skops.io is imported."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.partition(".")[0] in SCAN_SKIPS:
            raise ModuleNotFoundError(f"{name}: not imported for skops's scan", name=name)


def skops_io() -> ModuleType:
    """``skops.io``, imported without its scan of scikit-learn importing ``SCAN_SKIPS`` (the
    scan skips a module that fails to import). An estimator that needs torch imports it later,
    as usual."""
    if "skops.io" not in sys.modules:
        skipped = _Skipped()
        sys.meta_path.insert(0, skipped)
        try:
            import skops.io  # noqa: F401
        finally:
            sys.meta_path.remove(skipped)
    return sys.modules["skops.io"]


def canonical_skops(data: bytes) -> bytes:
    """The skops archive ``data`` with its object ids renumbered 1, 2, ... in the order
    ``schema.json`` first names them (skops reads an id of 0 as none), its array files
    renamed to match, and every entry stored with the same timestamp and permissions."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read(SCHEMA))
        numbers: dict[int, int] = {}

        def number(old: int) -> int:
            return numbers.setdefault(old, len(numbers) + 1)

        renamed: dict[str, str] = {}

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                out = {}
                for key, value in node.items():
                    if key == "__id__" and isinstance(value, int):
                        value = number(value)
                    elif key == "file" and isinstance(value, str):
                        match = _ARRAY_FILE.fullmatch(value)
                        if match is None:
                            raise ModelFileError(f"unexpected file {value!r} in a skops archive")
                        new = f"{number(int(match[1]))}.{match[2]}"
                        renamed.setdefault(value, new)
                        value = new
                    out[key] = walk(value)
                return out
            if isinstance(node, list):
                return [walk(item) for item in node]
            return node

        schema = walk(schema)
        members = {SCHEMA: json.dumps(schema, indent=2).encode()}
        for old, new in renamed.items():
            members[new] = source.read(old)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        for name, payload in members.items():
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            target.writestr(info, payload)
    return buffer.getvalue()


def save_model(obj: Any, dest: Path) -> None:
    """Write ``obj`` to ``dest`` as a byte-stable skops file (write, then rename)."""
    with atomic_file(dest) as tmp:
        tmp.write_bytes(canonical_skops(skops_io().dumps(obj)))


def is_trusted(type_name: str) -> bool:
    """Whether a model file may hold ``type_name`` beyond skops's defaults: one of
    ``SKLEARN_TYPES``, a feature transformer, or the estimator class of an estimator module
    of the registry. Only that one module is imported (skops imports it to build the object
    anyway): a file of the svm never imports another estimator's libraries."""
    import importlib

    from mnist_pipeline import features
    from mnist_pipeline.estimators import estimator_names

    if type_name in SKLEARN_TYPES:
        return True
    module, _, name = type_name.rpartition(".")
    if module == features.__name__:
        return any(cls.__qualname__ == name for cls in features.TRANSFORMERS)
    estimator_modules = {f"mnist_pipeline.estimators.{n}" for n in estimator_names()}
    if module not in estimator_modules:
        return False
    return importlib.import_module(module).SPEC.estimator_class.__qualname__ == name


def load_model(path: Path | str) -> Any:
    """The object of the skops file ``path``, built only from trusted types; a
    ``ModelFileError`` naming the file if it is no skops file or names another type."""
    skops = skops_io()
    path = Path(path)
    with open_regular(path) as fh:
        data = fh.read()
    try:
        untrusted = skops.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: not a skops model file ({err})") from None
    refused = sorted(name for name in set(untrusted) if not is_trusted(name))
    if refused:
        raise ModelFileError(
            f"{path}: holds types this project does not trust: {', '.join(refused)}"
        )
    return skops.loads(data, trusted=list(untrusted))


MODEL_FILE = "model.skops"
CARD_JSON = "card.json"
CARD_MD = "card.md"


def _plain(value: Any) -> Any:
    """A parameter value as JSON holds it (tuples as lists, anything else by its repr)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return repr(value)


def sha256_file(path: Path) -> str:
    """The sha256 of the regular file ``path``, read in chunks."""
    with open_regular(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def model_card(
    model: Any, dataset: Any, pipeline: Any, data: bytes, read: Sequence[Path]
) -> dict[str, Any]:
    """What the model is, what it was built from (its params, the sha256 of each file it
    ``read``; no git commit, so a comment in params.yaml changes no card) and how to load it.
    ``data``: the model file's bytes. Its scores are evaluate's (metrics/<model>/scores)."""
    rows, cols = dataset.image_shape
    target = model.target
    answers = list(dataset.classes)
    if target is not None:
        answers = [f"not {dataset.classes[target]}", dataset.classes[target]]
    trusted = sorted(skops_io().get_untrusted_types(data=data))
    params = {k: _plain(v) for k, v in model.params.items()}
    return {
        "model": model.name,
        "file": MODEL_FILE,
        "format": "skops",
        "sha256": hashlib.sha256(data).hexdigest(),
        "task": "every class" if target is None else f"is it a {dataset.classes[target]}",
        "answers": answers,
        "confidence": "predict_proba"
        if hasattr(pipeline, "predict_proba")
        else "decision_function",
        "input": f"uint8 images of {rows}x{cols} pixels, light {dataset.image_noun} on black, "
        "as the dataset stores them (src/predict.py prepares any picture so)",
        "dataset": {
            "name": dataset.name,
            "title": dataset.title,
            "licence": dataset.licence,
            "citation": dataset.citation,
            "classes": list(dataset.classes),
            "files": {r: {"name": f.name, "sha256": f.sha256} for r, f in dataset.files.items()},
        },
        "features": model.features,
        "estimator": model.estimator,
        "params": params,
        "built_from": {
            "params": {model.key: model.model_dump(mode="json")},
            "files": {str(path): sha256_file(path) for path in sorted(read)},
        },
        "scores": f"metrics/{model.name}/scores/test.json (written by evaluate@{model.name})",
        "steps": [
            {
                "step": name,
                "class": f"{type(step).__module__}.{type(step).__qualname__}",
                "params": {k: _plain(v) for k, v in sorted(step.get_params(deep=False).items())},
            }
            for name, step in pipeline.steps
        ],
        "load": {
            "python": "from mnist_pipeline.plumbing.model_files import load_model\n"
            f'pipeline = load_model("{MODEL_FILE}")\n'
            f"pipeline.predict(images)  # uint8 array, n x {rows} x {cols}, light on black",
            "skops": f'skops.io.load("{MODEL_FILE}", trusted={trusted!r})',
            "command": "python src/predict.py --model <this folder> picture.png",
        },
    }


def card_markdown(card: Mapping[str, Any]) -> str:
    """The model card as Markdown, for a person."""
    data = card["dataset"]
    lines = [
        f"# Model card: `{card['model']}`",
        "",
        f"`{card['estimator']}` on `{card['features']}` features of {data['title']}, "
        f"{card['task']}; answers {', '.join(card['answers'])}.",
        "",
        f"- Input: {card['input']}.",
        f"- Scores: {card['scores']}.",
        f"- File: `{card['file']}` ({card['format']}), sha256 `{card['sha256']}`.",
        f"- Dataset: {data['title']} ({data['licence']}); {data['citation']}",
        "",
        "| built from | sha256 |",
        "|---|---|",
        *(f"| `{name}` | `{sha}` |" for name, sha in card["built_from"]["files"].items()),
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
        f"Load: `{card['load']['skops']}`, or `{card['load']['command']}`.",
        "",
    ]
    return "\n".join(lines)
