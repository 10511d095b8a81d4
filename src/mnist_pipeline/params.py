"""The schema of params.yaml and of the dataset catalogue beside it (datasets.yaml), in
pydantic: a mistyped key, a wrong type or a value out of range is one ``ParamsError`` line
naming the file and the dotted key (``params.yaml: models.sgd_5.cv: ...``). A new key is one
line in its section's class; a default makes it optional.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from ruamel.yaml import YAML, YAMLError

from mnist_pipeline.estimators import estimator_names

CATALOGUE = "datasets.yaml"
NORMALIZE_METHODS = ("scale", "offset", "l2", "standardize")
NORMALIZE_STAGES = ("normalize", "normalize_deskewed")
PCA_STAGES = ("pca", "pca_deskewed")
FEATURE_STAGES = ("raw", "normalize", "pca", "normalize_deskewed", "pca_deskewed")
IMAGES_STAGE = "images"  # whole images, for the CNN: split by `split`, no section of its own
MODEL_FEATURES = (*FEATURE_STAGES, IMAGES_STAGE)
MAX_CLASSES = 256  # labels are unsigned bytes (IDX type 0x08)


class ParamsError(ValueError):
    """A params file that cannot be read, or a key in it missing, unknown or of a wrong value."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:76]}..."


def _refuse(message: str, key: str | None = None) -> PydanticCustomError:
    return PydanticCustomError("params", "{message}", {"message": message, "key": key})


def _rule(what: str, ok: Callable[[Any], Any]) -> BeforeValidator:
    """The value as written passes ``ok``, else "expected <what>, got <value>"."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise _refuse(f"expected {what}, got {_shown(value)}")
        return value

    return BeforeValidator(check)


def _one_of(*choices: str) -> BeforeValidator:
    return _rule(f"one of {', '.join(choices)}", lambda value: value in choices)


def _listed(what: str, low: int, high: int) -> BeforeValidator:
    return _rule(what, lambda value: isinstance(value, list) and low <= len(value) <= high)


Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Number = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # .nan fails every comparison
Text = Annotated[str, _rule("a non-empty string", lambda v: isinstance(v, str) and v.strip())]
Lax = Field(strict=False)  # for a tuple, which YAML writes as a list
Name = Annotated[
    str,  # part of a stage name (train@knn)
    _rule(
        "a name of lowercase letters, digits and _",
        lambda v: re.fullmatch(r"[a-z][a-z0-9_]*", str(v)),
    ),
]


class Section(BaseModel):
    """A mapping: declared keys only, strict types (``"3"`` is not an integer), read-only."""

    model_config = ConfigDict(strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _declared_keys_only(cls, data: Any) -> Any:
        known = [field.alias or name for name, field in cls.model_fields.items()]
        if isinstance(data, dict) and cls.model_config.get("extra") != "allow":
            for key in data:
                if key not in known:
                    raise _refuse(f"unknown key (expected one of: {', '.join(known)})", key)
        return data


class Entry(Section):
    """A section named by its key in the mapping that holds it (``models.knn``)."""

    parent: ClassVar[str] = ""
    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """Its key (``knn``)."""
        return self._name

    @property
    def key(self) -> str:
        """Its dotted key, for errors: ``models.knn``, or ``pca`` for a top-level section."""
        return f"{self.parent}.{self._name}".lstrip(".")


# datasets.yaml


class DatasetFile(Section):
    """One IDX file; a mirror sending more than ``size`` bytes fails."""

    name: Annotated[str, _rule("a plain file name", lambda v: v and "/" not in str(v))]
    sha256: Annotated[str, _rule("64 lowercase hex digits", re.compile("[0-9a-f]{64}").fullmatch)]
    size: PositiveInt


class Files(Section):
    """The four files of a dataset, by role."""

    train_images: DatasetFile
    train_labels: DatasetFile
    test_images: DatasetFile
    test_labels: DatasetFile

    def __getitem__(self, role: str) -> DatasetFile:
        return getattr(self, role)

    def items(self) -> list[tuple[str, DatasetFile]]:
        """``(role, file)`` of the four, in declared order."""
        return [(role, self[role]) for role in type(self).model_fields]

    def values(self) -> list[DatasetFile]:
        """The four, in declared order."""
        return [file for _, file in self.items()]


class References(Section):
    """Published accuracies shown beside ours: ``test`` per model, ``cv`` per model with cv."""

    source: Text
    test: dict[str, Number]
    cv: dict[str, Number]


def _distinct(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if names.count(name) > 1:
            raise _refuse(f"expected distinct names, got {name!r} twice")
    return names


Side = Annotated[
    int, _rule("[rows, columns], two positive integers", lambda v: type(v) is int and v > 0)
]
ClassName = Annotated[
    str,  # a column or cell of the CSV files
    _rule(
        "a non-empty name without commas or quotes",
        lambda v: str(v).strip() and not re.search(r'[,"\n\r]', str(v)),
    ),
]


class Dataset(Entry):
    """A description of the catalogue: its files, images, classes and references."""

    parent = "datasets"
    title: Text
    licence: Text
    citation: Text
    mirrors: Annotated[
        tuple[Annotated[str, _rule("a directory, file:// or http(s):// URL", bool)], ...],
        Lax,
        _listed("a non-empty list of directories or URLs", 1, 99),
    ]
    files: Files
    image_shape: Annotated[
        tuple[Side, Side], Lax, _listed("[rows, columns], two positive integers", 2, 2)
    ]
    transpose: bool  # the files store each image transposed (EMNIST): decode turns them upright
    classes: Annotated[
        tuple[ClassName, ...],
        Lax,
        pydantic.AfterValidator(_distinct),
        _listed(f"a list of 2 to {MAX_CLASSES} class names", 2, MAX_CLASSES),
    ]
    class_noun: Text
    image_noun: Text
    references: References


class Catalogue(Section):
    """datasets.yaml: each dataset the ``dataset`` switch of params.yaml may select."""

    datasets: Annotated[dict[Name, Dataset], _rule("at least one dataset description", bool)]


# params.yaml


class Download(Section):
    """A mirror is given up after ``timeout`` s without a byte, or ``timeout + size /
    min_rate`` s in all."""

    timeout: Number
    retries: Count
    min_rate: Number


class Split(Section):
    """The last ``validation`` training images are held out; models fit the first ``train``
    of the rest, or ``all`` (learning curves)."""

    validation: PositiveInt
    train: Annotated[
        int | str,
        _rule("all or an integer >= 1", lambda v: v == "all" or (type(v) is int and v >= 1)),
    ]

    @property
    def train_size(self) -> int | None:
        """``train`` as a number of images; None for ``all``."""
        return None if self.train == "all" else int(self.train)


class Raw(Section):
    """Unscaled pixels: ``validation`` as in ``split``, and 0 holds none out."""

    validation: Count


class Normalize(Section):
    """``normalize`` or ``normalize_deskewed``: how pixels become features."""

    method: Annotated[str, _one_of(*NORMALIZE_METHODS)]
    deskew: bool


class Pca(Entry):
    """``pca`` or ``pca_deskewed`` (its ``name``)."""

    n: PositiveInt
    whiten: bool


class Figures(Section):
    """What the pictures show."""

    misclassified: Count
    samples_per_digit: PositiveInt
    dpi: Annotated[int, Field(ge=10)]


class Model(Entry):
    """One entry of ``models``; every key but these four is a parameter of the estimator."""

    model_config = ConfigDict(extra="allow")
    parent = "models"
    features: Annotated[str, _one_of(*MODEL_FEATURES)]
    estimator: Annotated[str, BeforeValidator(lambda v: _one_of(*estimator_names()).func(v))]
    target: Count | None = None  # a class index: the model is a one-vs-rest detector of it
    cv: Annotated[int, Field(ge=2)] | None = None  # folds of evaluate's cross-validation

    @property
    def params(self) -> dict[str, Any]:
        """The estimator's parameters, in file order."""
        return dict(self.model_extra or {})


class Params(Section):
    """params.yaml, with the catalogue's description that ``dataset`` selects."""

    selected: str = Field(alias="dataset")
    download: Download
    split: Split
    raw: Raw
    normalize: Normalize
    pca: Pca
    normalize_deskewed: Normalize
    pca_deskewed: Pca
    models: Annotated[dict[Name, Model], _rule("at least one model", bool)]
    figures: Figures
    _datasets: dict[str, Dataset] = PrivateAttr(default_factory=dict)

    @property
    def datasets(self) -> dict[str, Dataset]:
        """Every description of the catalogue."""
        return self._datasets

    @property
    def dataset(self) -> Dataset:
        """The description ``dataset`` selects."""
        return self._datasets[self.selected]

    def normalize_section(self, stage: str) -> Normalize:
        """The settings of ``normalize`` or ``normalize_deskewed``."""
        return self._section(stage, NORMALIZE_STAGES, "normalize")

    def pca_section(self, stage: str) -> Pca:
        """The settings of ``pca`` or ``pca_deskewed``."""
        return self._section(stage, PCA_STAGES, "PCA")

    def _section(self, stage: str, stages: tuple[str, ...], kind: str) -> Any:
        if stage not in stages:
            raise ParamsError(
                f"{stage}: not a {kind} section (expected one of: {', '.join(stages)})"
            )
        return getattr(self, stage)

    def model(self, name: str) -> Model:
        """The model ``name``; ParamsError naming the known ones if there is none."""
        if name not in self.models:
            raise ParamsError(
                f"models.{name}: no such model (expected one of: {', '.join(self.models)})"
            )
        return self.models[name]


def _one_line(error: ErrorDetails) -> str:
    """A pydantic error as ``<dotted key>: <what>, got <value>``."""
    ctx = error.get("ctx") or {}
    loc = [*error["loc"], *([] if ctx.get("key") is None else [ctx["key"]])]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc if p != "[key]")[1:]
    if error["type"] == "params":
        what = ctx["message"]
    elif error["type"] == "missing":
        what = "missing"
    else:  # pydantic's own words: "Input should be greater than or equal to 2"
        what = f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_shown(error['input'])}"
    return f"{key}: {what}" if key else what


def _load(schema: type[Section], path: Path) -> Any:
    """The YAML file ``path`` read as DVC reads it (ruamel.yaml, YAML 1.2: ``2e-05``, as ``dvc
    exp run -S`` writes it, is a float) and checked; ParamsError at the first mistake."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    except (OSError, UnicodeDecodeError, YAMLError) as err:
        raise ParamsError(f"{path}: cannot read: {' '.join(str(err).split())}") from None
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as err:
        raise ParamsError(f"{path}: {_one_line(err.errors()[0])}") from None


def load_params(path: Path | str, catalogue: Path | str | None = None) -> Params:
    """params.yaml at ``path`` and the catalogue (datasets.yaml beside it), each checked on its
    own and then against the other."""
    path = Path(path)
    catalogue = path.with_name(CATALOGUE) if catalogue is None else Path(catalogue)
    params = _load(Params, path)
    datasets = _load(Catalogue, catalogue).datasets
    for entries in (
        params.models,
        datasets,
        {stage: getattr(params, stage) for stage in PCA_STAGES},
    ):
        for name, entry in entries.items():
            entry._name = name
    params._datasets = datasets
    if params.selected not in datasets:
        raise ParamsError(
            f"{path}: dataset: expected the name of a description in {catalogue.name} "
            f"({', '.join(datasets)}), got {_shown(params.selected)}"
        )
    dataset, models = params.dataset, params.models
    for model in models.values():
        if model.target is not None and model.target >= len(dataset.classes):
            raise ParamsError(
                f"{path}: {model.key}.target: expected a class index 0-{len(dataset.classes) - 1}"
                f" of {dataset.key}.classes (or no target for a model of every class), "
                f"got {model.target}"
            )
    key = f"{catalogue}: {dataset.key}.references"
    for name in dataset.references.test:
        if name not in models:
            raise ParamsError(
                f"{key}.test.{name}: not a model (expected one of: {', '.join(models)})"
            )
    with_cv = [name for name, model in models.items() if model.cv is not None]
    for name in dataset.references.cv:
        if name not in with_cv:
            raise ParamsError(
                f"{key}.cv.{name}: not a model with cv (expected one of: {', '.join(with_cv)})"
            )
    return params
