"""The one loader of ``params.yaml``: every key checked once, before any stage does work.

A misspelled key, a wrong type, an unknown method or estimator: each is a ``ParamsError``
whose message starts with the file and the dotted key, then says what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mnist_pipeline.plumbing.registry import estimator_names

DATASET_FILES = ("train_images", "train_labels", "test_images", "test_labels")
DATASET_KEYS = (
    "title",
    "licence",
    "citation",
    "mirrors",
    "files",
    "image_shape",
    "transpose",
    "classes",
    "class_noun",
    "image_noun",
    "references",
)
"""The keys of a ``datasets.<name>`` description, every one required."""
REFERENCE_KEYS = ("source", "test", "cv")
NORMALIZE_METHODS = ("scale", "offset", "l2", "standardize")
RAW_STAGE = "raw"
NORMALIZE_STAGES = ("normalize", "normalize_deskewed")
PCA_STAGES = ("pca", "pca_deskewed")
FEATURE_STAGES = (
    RAW_STAGE,
    *(stage for pair in zip(NORMALIZE_STAGES, PCA_STAGES, strict=True) for stage in pair),
)
"""The feature stages with a params section of their own name, in pipeline order (raw pixels,
then each normalize stage and the PCA of it)."""
IMAGES_STAGE = "images"
"""Whole images, N x rows x columns, for the convolutional network: split by ``split``, no
params section of its own."""
MODEL_FEATURES = (*FEATURE_STAGES, IMAGES_STAGE)
"""The stages whose output a model may read."""
MAX_CLASSES = 256
"""Labels are unsigned bytes (IDX type 0x08)."""
MODEL_KEYS = ("features", "estimator", "target", "cv")
"""The keys of a ``models`` entry the pipeline reads; every other key is the estimator's."""
_SHA256 = re.compile(r"[0-9a-f]{64}")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading numbers as YAML 1.2 does (DVC's ruamel.yaml): ``2e-05``,
    which ``dvc exp run -S key=0.00002`` writes, is a float, not the string YAML 1.1 makes it."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                  |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


class ParamsError(ValueError):
    """A parameter is missing, misspelled or of the wrong type or value."""


@dataclass(frozen=True)
class DatasetFile:
    """One of a dataset's four IDX files as its mirrors serve it."""

    name: str
    sha256: str
    size: int
    """Bytes of the file as downloaded: no mirror may send more."""


@dataclass(frozen=True)
class References:
    """The accuracies published for a dataset, shown beside ours (none: empty mappings)."""

    source: str
    """Whose numbers they are, for legends ("the notebook's")."""
    test: dict[str, float] = field(default_factory=dict)
    """Test accuracy per model of params.yaml."""
    cv: dict[str, float] = field(default_factory=dict)
    """Cross-validated accuracy per model with ``cv``."""


@dataclass(frozen=True)
class Dataset:
    """One description under ``datasets``: where its files come from, what its images and
    classes are, and what was published about it."""

    name: str
    """Its key under ``datasets`` (``mnist``), the value the ``dataset`` switch takes."""
    title: str
    licence: str
    citation: str
    mirrors: tuple[str, ...]
    files: dict[str, DatasetFile]
    image_shape: tuple[int, int]
    """Rows x columns of every image as stored: an IDX header declaring another is refused."""
    transpose: bool
    """The files store each image transposed (EMNIST): decode turns them upright."""
    classes: tuple[str, ...]
    """Label ``i``'s name, for every label the files may hold."""
    class_noun: str
    """What one class is called in titles ("10 digits", "each class")."""
    image_noun: str
    """What one image is called in titles ("misclassified test digits")."""
    references: References

    @property
    def key(self) -> str:
        """The dotted params key of this description, which errors name."""
        return f"datasets.{self.name}"


@dataclass(frozen=True)
class Download:
    """The ``download`` section: how long a mirror may take."""

    timeout: float
    """Seconds without a byte before a mirror is given up."""
    retries: int
    min_rate: float
    """Bytes per second: a file of ``size`` bytes must arrive within
    ``timeout + size / min_rate`` seconds."""


@dataclass(frozen=True)
class Raw:
    """The ``raw`` section: unscaled pixels for the gradient-descent model."""

    validation: int
    """The last training images held out as the val split; 0: all of them train the model."""


@dataclass(frozen=True)
class Normalize:
    """A ``normalize`` or ``normalize_deskewed`` section: how pixels become features."""

    method: str
    deskew: bool


@dataclass(frozen=True)
class Pca:
    """A ``pca`` or ``pca_deskewed`` section."""

    section: str
    """The params section these settings come from (``pca`` or ``pca_deskewed``), which errors
    name."""
    n: int
    whiten: bool


@dataclass(frozen=True)
class Figures:
    """The ``figures`` section: what the pictures show."""

    misclassified: int
    samples_per_digit: int
    dpi: int


@dataclass(frozen=True)
class Model:
    """One entry of ``models``: its features, estimator, target, folds and parameters."""

    name: str
    features: str
    estimator: str
    target: int | None
    params: dict[str, Any] = field(default_factory=dict)
    """The estimator's own parameters: every key of the entry but ``MODEL_KEYS``."""
    cv: int | None = None
    """Folds of the cross-validation ``evaluate`` runs on the training split (None: none)."""

    @property
    def key(self) -> str:
        """The model's params key, ``models.<name>``, for error messages."""
        return f"models.{self.name}"


@dataclass(frozen=True)
class Params:
    """Every section of params.yaml, checked."""

    dataset: Dataset
    """The description ``dataset`` selects."""
    datasets: dict[str, Dataset]
    download: Download
    validation: int
    raw: Raw
    normalize: Normalize
    pca: Pca
    normalize_deskewed: Normalize
    pca_deskewed: Pca
    models: dict[str, Model]
    figures: Figures

    @property
    def notebooks(self) -> dict[str, float]:
        """The selected dataset's published test accuracy per model."""
        return self.dataset.references.test

    @property
    def notebook_cv(self) -> dict[str, float]:
        """The selected dataset's published cross-validated accuracy per model with ``cv``."""
        return self.dataset.references.cv

    def normalize_section(self, stage: str) -> Normalize:
        """The settings of ``normalize`` or ``normalize_deskewed``."""
        if stage not in NORMALIZE_STAGES:
            raise ParamsError(
                f"{stage}: not a normalize section (expected one of: {', '.join(NORMALIZE_STAGES)})"
            )
        return getattr(self, stage)

    def pca_section(self, stage: str) -> Pca:
        """The settings of ``pca`` or ``pca_deskewed``."""
        if stage not in PCA_STAGES:
            raise ParamsError(
                f"{stage}: not a PCA section (expected one of: {', '.join(PCA_STAGES)})"
            )
        return getattr(self, stage)

    def model(self, name: str) -> Model:
        """The model ``name``; ``ParamsError`` naming the known ones if there is none."""
        if name not in self.models:
            raise ParamsError(
                f"models.{name}: no such model (expected one of: {', '.join(self.models)})"
            )
        return self.models[name]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


class _Reader:
    """Typed access to a nested mapping that names the file and dotted key in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, got: Any) -> None:
        raise ParamsError(f"{self.source}: {key}: expected {expected}, got {got!r}")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...] | None = None) -> dict:
        if not isinstance(value, Mapping):
            self.fail(key, "a mapping", value)
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    raise ParamsError(
                        f"{self.source}: {_join(key, name)}: unknown key "
                        f"(expected one of: {', '.join(allowed)})"
                    )
            for name in allowed:
                if name not in value:
                    raise ParamsError(f"{self.source}: {_join(key, name)}: missing")
        return dict(value)

    def integer(self, value: Any, key: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "an integer", value)
        if minimum is not None and value < minimum:
            self.fail(key, f"an integer >= {minimum}", value)
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail(key, "a positive number", value)
        return float(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, "true or false", value)
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "a non-empty string", value)
        return value

    def choice(self, value: Any, key: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            self.fail(key, f"one of {', '.join(choices)}", value)
        return value


def load_params(path: Path | str) -> Params:
    """Read and validate the whole params file."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a SafeLoader
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return parse_params(raw, str(path))


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate ``raw`` (params.yaml as plain data, read from ``source``) into ``Params``."""
    r = _Reader(source)
    top = r.mapping(
        raw,
        "",
        (
            "dataset",
            "datasets",
            "download",
            "split",
            *FEATURE_STAGES,
            "models",
            "figures",
        ),
    )

    models_raw = r.mapping(top["models"], "models")
    if not models_raw:
        r.fail("models", "at least one model", models_raw)
    models = {name: _parse_model(r, name, entry) for name, entry in models_raw.items()}

    described = r.mapping(top["datasets"], "datasets")
    if not described:
        r.fail("datasets", "at least one dataset description", described)
    selected = top["dataset"]
    if not isinstance(selected, str) or selected not in described:
        r.fail(
            "dataset",
            f"the name of a description under datasets ({', '.join(described)})",
            selected,
        )
    datasets = {
        name: _parse_dataset(r, name, entry, models if name == selected else None)
        for name, entry in described.items()
    }
    dataset = datasets[selected]
    for model in models.values():
        if model.target is not None and not 0 <= model.target < len(dataset.classes):
            r.fail(
                f"{model.key}.target",
                f"a class index 0-{len(dataset.classes) - 1} of {dataset.key}.classes "
                "(or no target for a model of every class)",
                model.target,
            )

    download = r.mapping(top["download"], "download", ("timeout", "retries", "min_rate"))
    split = r.mapping(top["split"], "split", ("validation",))
    figures = r.mapping(top["figures"], "figures", ("misclassified", "samples_per_digit", "dpi"))

    return Params(
        dataset=dataset,
        datasets=datasets,
        download=Download(
            timeout=r.number(download["timeout"], "download.timeout"),
            retries=r.integer(download["retries"], "download.retries", minimum=0),
            min_rate=r.number(download["min_rate"], "download.min_rate"),
        ),
        validation=r.integer(split["validation"], "split.validation", minimum=1),
        raw=_parse_raw(r, RAW_STAGE, top[RAW_STAGE]),
        **{stage: _parse_normalize(r, stage, top[stage]) for stage in NORMALIZE_STAGES},
        **{stage: _parse_pca(r, stage, top[stage]) for stage in PCA_STAGES},
        models=models,
        figures=Figures(
            misclassified=r.integer(figures["misclassified"], "figures.misclassified", minimum=0),
            samples_per_digit=r.integer(
                figures["samples_per_digit"], "figures.samples_per_digit", minimum=1
            ),
            dpi=r.integer(figures["dpi"], "figures.dpi", minimum=10),
        ),
    )


def _parse_dataset(r: _Reader, name: str, raw: Any, models: dict[str, Model] | None) -> Dataset:
    """One description under ``datasets``, every key checked. The selected description's
    references must name models of ``models`` (``cv`` ones, models with ``cv``); another's
    (``models`` None) may name models this params.yaml no longer has."""
    prefix = f"datasets.{name}"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
        r.fail(prefix, "a dataset name of lowercase letters, digits and _", name)
    entry = r.mapping(raw, prefix, DATASET_KEYS)
    mirrors = entry["mirrors"]
    if not isinstance(mirrors, list) or not mirrors:
        r.fail(f"{prefix}.mirrors", "a non-empty list of directories or URLs", mirrors)
    for i, mirror in enumerate(mirrors):
        if not isinstance(mirror, str) or not mirror:
            r.fail(f"{prefix}.mirrors[{i}]", "a directory, file:// or http(s):// URL", mirror)
    files_raw = r.mapping(entry["files"], f"{prefix}.files", DATASET_FILES)
    files = {}
    for role in DATASET_FILES:
        key = f"{prefix}.files.{role}"
        file = r.mapping(files_raw[role], key, ("name", "sha256", "size"))
        file_name, digest = file["name"], file["sha256"]
        if not isinstance(file_name, str) or not file_name or "/" in file_name:
            r.fail(f"{key}.name", "a plain file name", file_name)
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            r.fail(f"{key}.sha256", "64 lowercase hex digits", digest)
        files[role] = DatasetFile(file_name, digest, r.integer(file["size"], f"{key}.size", 1))
    image_shape = entry["image_shape"]
    if (
        not isinstance(image_shape, list)
        or len(image_shape) != 2
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in image_shape)
    ):
        r.fail(f"{prefix}.image_shape", "[rows, columns], two positive integers", image_shape)
    classes = entry["classes"]
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
        r.fail(f"{prefix}.classes", f"a list of 2 to {MAX_CLASSES} class names", classes)
    for i, label in enumerate(classes):
        if not isinstance(label, str) or not label.strip() or re.search(r'[,"\n\r]', label):
            r.fail(f"{prefix}.classes[{i}]", "a non-empty name without commas or quotes", label)
    if len(set(classes)) != len(classes):
        twice = next(c for c in classes if classes.count(c) > 1)
        r.fail(f"{prefix}.classes", "distinct names", f"{twice} twice")
    return Dataset(
        name=name,
        title=r.text(entry["title"], f"{prefix}.title"),
        licence=r.text(entry["licence"], f"{prefix}.licence"),
        citation=r.text(entry["citation"], f"{prefix}.citation"),
        mirrors=tuple(mirrors),
        files=files,
        image_shape=(image_shape[0], image_shape[1]),
        transpose=r.boolean(entry["transpose"], f"{prefix}.transpose"),
        classes=tuple(classes),
        class_noun=r.text(entry["class_noun"], f"{prefix}.class_noun"),
        image_noun=r.text(entry["image_noun"], f"{prefix}.image_noun"),
        references=_parse_references(r, f"{prefix}.references", entry["references"], models),
    )


def _parse_references(
    r: _Reader, key: str, raw: Any, models: dict[str, Model] | None
) -> References:
    """A description's published accuracies: ``test`` per model, ``cv`` per model with cv;
    with ``models`` None, numbers are checked but not the names."""
    entry = r.mapping(raw, key, REFERENCE_KEYS)
    test = r.mapping(entry["test"] or {}, f"{key}.test")
    for name, value in test.items():
        if models is not None and name not in models:
            raise ParamsError(
                f"{r.source}: {key}.test.{name}: not a model (expected one of: {', '.join(models)})"
            )
        r.number(value, f"{key}.test.{name}")
    cv = r.mapping(entry["cv"] or {}, f"{key}.cv")
    for name, value in cv.items():
        if models is not None and (name not in models or models[name].cv is None):
            with_cv = [n for n, m in models.items() if m.cv is not None]
            raise ParamsError(
                f"{r.source}: {key}.cv.{name}: not a model with cv "
                f"(expected one of: {', '.join(with_cv)})"
            )
        r.number(value, f"{key}.cv.{name}")
    return References(
        source=r.text(entry["source"], f"{key}.source"),
        test={name: float(value) for name, value in test.items()},
        cv={name: float(value) for name, value in cv.items()},
    )


def _parse_raw(r: _Reader, key: str, raw: Any) -> Raw:
    section = r.mapping(raw, key, ("validation",))
    return Raw(validation=r.integer(section["validation"], f"{key}.validation", minimum=0))


def _parse_normalize(r: _Reader, key: str, raw: Any) -> Normalize:
    section = r.mapping(raw, key, ("method", "deskew"))
    return Normalize(
        method=r.choice(section["method"], f"{key}.method", NORMALIZE_METHODS),
        deskew=r.boolean(section["deskew"], f"{key}.deskew"),
    )


def _parse_pca(r: _Reader, key: str, raw: Any) -> Pca:
    section = r.mapping(raw, key, ("n", "whiten"))
    return Pca(
        section=key,
        n=r.integer(section["n"], f"{key}.n", minimum=1),
        whiten=r.boolean(section["whiten"], f"{key}.whiten"),
    )


def _parse_model(r: _Reader, name: str, entry: Any) -> Model:
    key = f"models.{name}"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
        r.fail(key, "a model name of lowercase letters, digits and _", name)
    entry = r.mapping(entry, key)
    for required in ("features", "estimator"):
        if required not in entry:
            raise ParamsError(f"{r.source}: {key}.{required}: missing")
    features = r.choice(entry["features"], f"{key}.features", MODEL_FEATURES)
    estimator = r.choice(entry["estimator"], f"{key}.estimator", estimator_names())
    target = entry.get("target")
    if target is not None:
        r.integer(target, f"{key}.target", minimum=0)
    cv = entry.get("cv")
    if cv is not None:
        r.integer(cv, f"{key}.cv", minimum=2)
    params = {k: v for k, v in entry.items() if k not in MODEL_KEYS}
    return Model(name, features, estimator, target, params, cv)
