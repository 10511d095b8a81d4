"""Models and feature chains as skops files (scikit-learn's secure persistence: no code runs on
load), and a model's card. ``save_model`` writes the same bytes for the same object;
``load_model`` builds only the types it trusts and refuses a file that names any other."""

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

MODEL_FILE, CARD_JSON, CARD_MD = "model.skops", "card.json", "card.md"
# scikit-learn types that fitted models hold (arrays and numbers inside) and skops does not
# trust by default: an MLP's optimiser, a knn's search tree (KD-tree on few dimensions), a tree.
SKLEARN_TYPES = (
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.tree._tree.Tree",
)
# Ours: KBs of schema.json, arrays stored whole, 157 MB at most; 300 KB of zip can unpack to 300 MB
SCHEMA_CAP, ARCHIVE_CAP, _MEMBER = 10 << 20, 1 << 30, r"schema\.json|\d+\.(npy|npz)"


class ModelFileError(ValueError):
    """A model file that is not a skops file of ours, or names a type we do not trust."""


class _NoScan(importlib.abc.MetaPathFinder):
    """Refuses torch, dask and pytest while skops.io is imported: its scan of scikit-learn's
    types imports them (array_api_compat, test helpers: seconds), though no model holds them."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.partition(".")[0] in ("torch", "dask", "pytest"):
            raise ModuleNotFoundError(f"{name}: not imported for skops's scan", name=name)


def skops_io() -> ModuleType:
    """``skops.io``, imported without torch, dask and pytest (the CNN imports torch itself)."""
    if "skops.io" not in sys.modules:
        sys.meta_path.insert(0, finder := _NoScan())
        try:
            import skops.io  # noqa: F401
        finally:
            sys.meta_path.remove(finder)
    return sys.modules["skops.io"]


def canonical_skops(data: bytes) -> bytes:
    """The skops archive ``data`` made byte-stable: its object ids (memory addresses) numbered
    1, 2, ... as ``schema.json`` first names them (0 reads as none), its array files renamed
    to match, every entry with one timestamp and mode."""
    numbers: dict[int, int] = {}
    renamed: dict[str, str] = {}

    def walk(key: str, node: Any) -> Any:
        if key == "__id__" and isinstance(node, int):
            return numbers.setdefault(node, len(numbers) + 1)
        if key == "file" and isinstance(node, str):
            if (found := re.fullmatch(r"(\d+)\.(npy|npz)", node)) is None:
                raise ModelFileError(f"unexpected file {node!r} in a skops archive")
            number = numbers.setdefault(int(found[1]), len(numbers) + 1)
            return renamed.setdefault(node, f"{number}.{found[2]}")
        if isinstance(node, dict):
            return {k: walk(k, v) for k, v in node.items()}
        return [walk("", item) for item in node] if isinstance(node, list) else node

    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = walk("", json.loads(source.read("schema.json")))
        members = {"schema.json": json.dumps(schema, indent=2).encode()}
        members |= {new: source.read(old) for old, new in renamed.items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        for name, payload in members.items():
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            target.writestr(info, payload)
    return buffer.getvalue()


def skops_bytes(obj: Any) -> bytes:
    """``obj`` as a byte-stable skops file."""
    return canonical_skops(skops_io().dumps(obj))


def save_model(obj: Any, dest: Path) -> None:
    """Write ``obj`` to ``dest`` as a byte-stable skops file (write, then rename)."""
    with atomic_file(dest) as tmp:
        tmp.write_bytes(skops_bytes(obj))


def _is_trusted(type_name: str) -> bool:
    """Whether a model may hold ``type_name``: ``SKLEARN_TYPES``, a feature transformer, or the
    class of an estimator module (only that module imported: an svm imports no torch)."""
    from mnist_pipeline import features
    from mnist_pipeline.estimators import estimator_names, estimator_spec

    module, _, name = type_name.rpartition(".")
    if module == features.__name__:
        return any(cls.__qualname__ == name for cls in features.TRANSFORMERS)
    package, _, estimator = module.rpartition(".")
    if package != "mnist_pipeline.estimators" or estimator not in estimator_names():
        return type_name in SKLEARN_TYPES
    return estimator_spec(estimator).estimator_class.__qualname__ == name


def _archive_problem(data: bytes | None) -> str | None:
    """Why ``data`` is no skops archive of ours (its zip directory and schema), or ``None``."""
    if data is None or data.count(b"PK\1\2") > 1000:  # ZipFile builds an object per entry
        return f"over {ARCHIVE_CAP >> 30} GB or 1000 members"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = {info.filename: info for info in archive.infolist()}  # the last of a name is read
        if (size := infos["schema.json"].file_size) > SCHEMA_CAP:
            return f"schema.json unpacks to {size:,} bytes, over {SCHEMA_CAP >> 20} MB"
        # stored only: zipfile inflates a member whole before it checks the size stated for it
        if any(i.compress_type or not re.fullmatch(_MEMBER, n) for n, i in infos.items()):
            return "expected schema.json and numbered .npy/.npz files, stored as train writes"
        files: list[Any] = []  # skops reads an array file whole for each node naming it
        json.loads(archive.read("schema.json"), object_hook=lambda n: files.append(n.get("file")))
    read = sum(infos[name].file_size for name in files if name in infos)
    return f"its schema reads over {ARCHIVE_CAP >> 30} GB of arrays" if read > ARCHIVE_CAP else None


def load_model(path: Path | str) -> Any:
    """The object of the skops file ``path``, built only from trusted types; a one-line
    ``ModelFileError`` naming the file if it is no skops file of ours or names another type."""
    skops, path = skops_io(), Path(path)
    with open_regular(path) as fh:
        data = fh.read(size) if (size := path.stat().st_size) <= ARCHIVE_CAP else None
    try:  # refused and obj are set whenever why is not
        if (why := _archive_problem(data)) is None:
            untrusted = set(skops.get_untrusted_types(data=data))
            refused = ", ".join(sorted(n for n in untrusted if not _is_trusted(n)))
            obj = None if refused else skops.loads(data, trusted=list(untrusted))
    except Exception as err:  # a tampered schema can fail anywhere in skops: the file's fault
        why = " ".join(f"{type(err).__name__}: {err}".split()).partition(". ")[0][:120]
    if why:
        raise ModelFileError(f"{path}: not a skops model file of this project ({why})")
    if refused:
        raise ModelFileError(f"{path}: holds types this project does not trust: {refused}")
    return obj


def _sha256(path: Path) -> str:
    with open_regular(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _plain(value: Any) -> Any:
    """A parameter value as JSON holds it (tuples as lists, anything else by its repr)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, bool | int | float | str) else repr(value)


def model_card(
    model: Any, dataset: Any, pipeline: Any, data: bytes, read: Sequence[Path]
) -> dict[str, Any]:
    """What the model (file bytes ``data``) is, what it was built from (its params, the sha256
    of each file it ``read``; no git commit: a comment in params.yaml changes no card), and how
    to load it."""
    (rows, cols), classes, target = dataset.image_shape, list(dataset.classes), model.target
    trusted = sorted(skops_io().get_untrusted_types(data=data))
    proba = hasattr(pipeline, "predict_proba")
    return {
        "model": model.name,
        "file": MODEL_FILE,
        "format": "skops",
        "sha256": hashlib.sha256(data).hexdigest(),
        "task": "every class" if target is None else f"is it a {classes[target]}",
        "answers": classes if target is None else [f"not {classes[target]}", classes[target]],
        "confidence": "predict_proba" if proba else "decision_function",
        "input": f"uint8 images of {rows}x{cols} pixels, light {dataset.image_noun} on black, "
        "as the dataset stores them (src/predict.py prepares any picture so)",
        "dataset": {k: getattr(dataset, k) for k in ("name", "title", "licence", "citation")}
        | {"classes": classes}
        | {"files": {r: {"name": f.name, "sha256": f.sha256} for r, f in dataset.files.items()}},
        "features": model.features,
        "estimator": model.estimator,
        "params": {k: _plain(v) for k, v in model.params.items()},
        "built_from": {
            "params": {model.key: model.model_dump(mode="json")},
            "files": {str(path): _sha256(path) for path in sorted(read)},
        },
        "scores": f"metrics/{model.name}/scores/test.json (written by evaluate@{model.name})",
        "steps": [
            {"step": name, "class": f"{type(step).__module__}.{type(step).__qualname__}"}
            | {"params": {k: _plain(v) for k, v in sorted(step.get_params(deep=False).items())}}
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
    data, load = card["dataset"], card["load"]
    files = "".join(
        f"| `{name}` | `{sha}` |\n" for name, sha in card["built_from"]["files"].items()
    )
    steps = "".join(
        f"| `{s['step']}` | `{s['class']}` | "
        + ", ".join(f"{k}={v!r}" for k, v in s["params"].items())
        + " |\n"
        for s in card["steps"]
    )
    return f"""# Model card: `{card["model"]}`

`{card["estimator"]}` on `{card["features"]}` features of {data["title"]}, {card["task"]}; answers \
{", ".join(card["answers"])}.

- Input: {card["input"]}.
- Scores: {card["scores"]}.
- File: `{card["file"]}` ({card["format"]}), sha256 `{card["sha256"]}`.
- Dataset: {data["title"]} ({data["licence"]}); {data["citation"]}

| built from | sha256 |
|---|---|
{files}
| step | class | parameters |
|---|---|---|
{steps}
Load: `{load["skops"]}`, or `{load["command"]}`.
"""
