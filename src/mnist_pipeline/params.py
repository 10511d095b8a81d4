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

from mnist_pipeline.registry import estimator_names

DATASET_FILES = ("train_images", "train_labels", "test_images", "test_labels")
NORMALIZE_METHODS = ("scale", "offset", "l2", "standardize")
RAW_STAGE = "raw"
NORMALIZE_STAGES = ("normalize", "normalize_deskewed")
PCA_STAGES = ("pca", "pca_deskewed")
FEATURE_STAGES = (
    RAW_STAGE,
    *(stage for pair in zip(NORMALIZE_STAGES, PCA_STAGES, strict=True) for stage in pair),
)
"""The stages whose output a model may read, in pipeline order (raw pixels, then each normalize
stage and the PCA of it); each has a params section of its own name."""
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
    name: str
    sha256: str
    size: int
    """Bytes of the file as downloaded: no mirror may send more."""


@dataclass(frozen=True)
class Dataset:
    mirrors: tuple[str, ...]
    files: dict[str, DatasetFile]
    image_shape: tuple[int, int]
    """Rows x columns of every image: an IDX header declaring another shape is refused."""


@dataclass(frozen=True)
class Download:
    timeout: float
    """Seconds without a byte before a mirror is given up."""
    retries: int
    min_rate: float
    """Bytes per second: a file of ``size`` bytes must arrive within
    ``timeout + size / min_rate`` seconds."""


@dataclass(frozen=True)
class Raw:
    validation: int
    """The last training images held out as the val split; 0: all of them train the model."""


@dataclass(frozen=True)
class Normalize:
    method: str
    deskew: bool


@dataclass(frozen=True)
class Pca:
    section: str
    """The params section these settings come from (``pca`` or ``pca_deskewed``), which errors
    name."""
    n: int
    whiten: bool


@dataclass(frozen=True)
class Figures:
    misclassified: int
    samples_per_digit: int
    dpi: int


@dataclass(frozen=True)
class Model:
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
        return f"models.{self.name}"


@dataclass(frozen=True)
class Params:
    dataset: Dataset
    download: Download
    validation: int
    raw: Raw
    normalize: Normalize
    pca: Pca
    normalize_deskewed: Normalize
    pca_deskewed: Pca
    models: dict[str, Model]
    notebooks: dict[str, float]
    notebook_cv: dict[str, float]
    """The cross-validated accuracy a notebook reported, for models with ``cv``."""
    figures: Figures

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
    r = _Reader(source)
    top = r.mapping(
        raw,
        "",
        (
            "dataset",
            "download",
            "split",
            *FEATURE_STAGES,
            "models",
            "notebooks",
            "notebook_cv",
            "figures",
        ),
    )

    dataset = r.mapping(top["dataset"], "dataset", ("mirrors", "image_shape", "files"))
    mirrors = dataset["mirrors"]
    if not isinstance(mirrors, list) or not mirrors:
        r.fail("dataset.mirrors", "a non-empty list of directories or URLs", mirrors)
    for i, mirror in enumerate(mirrors):
        if not isinstance(mirror, str) or not mirror:
            r.fail(f"dataset.mirrors[{i}]", "a directory, file:// or http(s):// URL", mirror)
    files_raw = r.mapping(dataset["files"], "dataset.files", DATASET_FILES)
    files = {}
    for role in DATASET_FILES:
        key = f"dataset.files.{role}"
        entry = r.mapping(files_raw[role], key, ("name", "sha256", "size"))
        name, digest = entry["name"], entry["sha256"]
        if not isinstance(name, str) or not name or "/" in name:
            r.fail(f"{key}.name", "a plain file name", name)
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            r.fail(f"{key}.sha256", "64 lowercase hex digits", digest)
        files[role] = DatasetFile(name, digest, r.integer(entry["size"], f"{key}.size", minimum=1))
    image_shape = dataset["image_shape"]
    if (
        not isinstance(image_shape, list)
        or len(image_shape) != 2
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in image_shape)
    ):
        r.fail("dataset.image_shape", "[rows, columns], two positive integers", image_shape)

    download = r.mapping(top["download"], "download", ("timeout", "retries", "min_rate"))
    split = r.mapping(top["split"], "split", ("validation",))

    models_raw = r.mapping(top["models"], "models")
    if not models_raw:
        r.fail("models", "at least one model", models_raw)
    models = {name: _parse_model(r, name, entry) for name, entry in models_raw.items()}

    notebooks = r.mapping(top["notebooks"], "notebooks")
    for name, value in notebooks.items():
        if name not in models:
            raise ParamsError(
                f"{source}: notebooks.{name}: not a model (expected one of: {', '.join(models)})"
            )
        r.number(value, f"notebooks.{name}")
    notebook_cv = r.mapping(top["notebook_cv"], "notebook_cv")
    for name, value in notebook_cv.items():
        if name not in models or models[name].cv is None:
            with_cv = [n for n, m in models.items() if m.cv is not None]
            raise ParamsError(
                f"{source}: notebook_cv.{name}: not a model with cv "
                f"(expected one of: {', '.join(with_cv)})"
            )
        r.number(value, f"notebook_cv.{name}")
    figures = r.mapping(top["figures"], "figures", ("misclassified", "samples_per_digit", "dpi"))

    return Params(
        dataset=Dataset(tuple(mirrors), files, (image_shape[0], image_shape[1])),
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
        notebooks={name: float(value) for name, value in notebooks.items()},
        notebook_cv={name: float(value) for name, value in notebook_cv.items()},
        figures=Figures(
            misclassified=r.integer(figures["misclassified"], "figures.misclassified", minimum=0),
            samples_per_digit=r.integer(
                figures["samples_per_digit"], "figures.samples_per_digit", minimum=1
            ),
            dpi=r.integer(figures["dpi"], "figures.dpi", minimum=10),
        ),
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
    features = r.choice(entry["features"], f"{key}.features", FEATURE_STAGES)
    estimator = r.choice(entry["estimator"], f"{key}.estimator", estimator_names())
    target = entry.get("target")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int) or not 0 <= target <= 9
    ):
        r.fail(f"{key}.target", "a digit 0-9 (or no target for a 10-class model)", target)
    cv = entry.get("cv")
    if cv is not None:
        r.integer(cv, f"{key}.cv", minimum=2)
    params = {k: v for k, v in entry.items() if k not in MODEL_KEYS}
    return Model(name, features, estimator, target, params, cv)
