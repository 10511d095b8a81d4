"""The pydantic schema of params.yaml and datasets.yaml: a mistyped key, a wrong type or a value
out of range is one ``ParamsError`` line naming the file and the dotted key (``models.knn.k``)."""

import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr
from pydantic_core import ErrorDetails, PydanticCustomError
from ruamel.yaml import YAML, YAMLError

from mnist_pipeline.estimators import estimator_names

CATALOGUE = "datasets.yaml"
NORMALIZE_STAGES = ("normalize", "normalize_deskewed")
PCA_STAGES = ("pca", "pca_deskewed")


class ParamsError(ValueError):
    """A params file that cannot be read, or a key in it missing, unknown or of a wrong value."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:76]}..."


def rule(what: str, ok: Callable[[Any], Any]) -> AfterValidator:
    """The value, once of its type, passes ``ok``, else "expected <what>, got <value>"."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise PydanticCustomError("params", f"expected {what}, got {_shown(value)}")
        return value

    return AfterValidator(check)


def _distinct(names: tuple[str, ...]) -> tuple[str, ...]:
    if twice := [name for name in names if names.count(name) > 1]:
        raise PydanticCustomError("params", f"expected distinct names, got {twice[0]!r} twice")
    return names


Count, PositiveInt = pydantic.NonNegativeInt, pydantic.PositiveInt
Number = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # .nan fails every comparison
Text = Annotated[str, rule("a non-empty string", str.strip)]
Lax = Field(strict=False)  # a tuple, which YAML writes as a list; its items stay strict
Name = Annotated[  # part of a stage name (train@knn)
    str, rule("a name of lowercase letters, digits and _", re.compile("[a-z][a-z0-9_]*").fullmatch)
]
ClassName = Annotated[  # a column or cell of the CSV files
    str,
    rule(
        "a non-empty name without commas or quotes",
        lambda v: v.strip() and not re.search(r'[,"\n\r]', v),
    ),
]


class Section(BaseModel):
    """A mapping: declared keys only, strict types (``"3"`` is not an integer), read-only."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class Entry(Section):
    """A section named by its key in the mapping that holds it (``models.knn``)."""

    _key: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """Its key (``knn``)."""
        return self._key.rpartition(".")[2]

    @property
    def key(self) -> str:
        """Its dotted key, for errors: ``models.knn``, or ``pca`` for a top-level section."""
        return self._key


class DatasetFile(Section):
    """One IDX file of a dataset; a mirror sending more than ``size`` bytes fails."""

    name: Annotated[str, rule("a plain file name", lambda v: v and "/" not in v)]
    sha256: Annotated[str, rule("64 lowercase hex digits", re.compile("[0-9a-f]{64}").fullmatch)]
    size: PositiveInt


class _References(Section):  # published accuracies shown beside ours, by model
    source: Text
    test: dict[str, Number]
    cv: dict[str, Number]


class Dataset(Entry):
    """A description of datasets.yaml: its files, images, classes and references."""

    title: Text
    licence: Text
    citation: Text
    mirrors: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Lax, Field(min_length=1)]
    files: Annotated[  # by role, in the file's order
        dict[Literal["train_images", "train_labels", "test_images", "test_labels"], DatasetFile],
        rule("train_images, train_labels, test_images and test_labels", lambda f: len(f) == 4),
    ]
    image_shape: Annotated[tuple[PositiveInt, PositiveInt], Lax]
    transpose: bool  # the files store each image transposed (EMNIST): decode turns them upright
    classes: Annotated[  # at most 256: labels are unsigned bytes (IDX type 0x08)
        tuple[ClassName, ...],
        Lax,
        rule("a list of 2 to 256 class names", lambda names: 2 <= len(names) <= 256),
        AfterValidator(_distinct),
    ]
    class_noun: Text
    image_noun: Text
    references: _References


class _Catalogue(Section):  # datasets.yaml: what the ``dataset`` switch of params.yaml selects
    datasets: Annotated[dict[Name, Dataset], Field(min_length=1)]


class Download(Section):
    """A mirror is dropped after ``timeout`` s silent or ``timeout + size / min_rate`` in all."""

    timeout: Number
    retries: Count
    min_rate: Number


class Split(Section):
    """The last ``validation`` training images are held out; models fit the first ``train``."""

    validation: PositiveInt
    train: Annotated[  # all: for learning curves
        Any, rule("all or an integer >= 1", lambda v: v == "all" or (type(v) is int and v >= 1))
    ]

    @property
    def train_size(self) -> int | None:
        """``train`` as a number of images; None for ``all``."""
        return None if self.train == "all" else self.train


class _Raw(Section):  # unscaled pixels: ``validation`` as in ``split``; 0 holds none out
    validation: Count


class Normalize(Section):
    """``normalize`` or ``normalize_deskewed``: how pixels become features."""

    method: Literal["scale", "offset", "l2", "standardize"]
    deskew: bool


class Pca(Entry):
    """``pca`` or ``pca_deskewed`` (its name)."""

    n: PositiveInt
    whiten: bool


class _Figures(Section):  # what the pictures show
    misclassified: Count
    samples_per_digit: PositiveInt
    dpi: Annotated[int, Field(ge=10)]


class Model(Entry):
    """One entry of ``models``; every key but these four is a parameter of the estimator."""

    model_config = ConfigDict(extra="allow")
    features: Literal["raw", "normalize", "pca", "normalize_deskewed", "pca_deskewed", "images"]
    estimator: Literal[estimator_names()]  # the modules of mnist_pipeline.estimators
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
    raw: _Raw
    normalize: Normalize
    pca: Pca
    normalize_deskewed: Normalize
    pca_deskewed: Pca
    models: Annotated[dict[Name, Model], Field(min_length=1)]
    figures: _Figures
    _datasets: dict[str, Dataset] = PrivateAttr(default_factory=dict)

    @property
    def datasets(self) -> dict[str, Dataset]:
        """Every description of the catalogue."""
        return self._datasets

    @property
    def dataset(self) -> Dataset:
        """The description ``dataset`` selects."""
        return self._datasets[self.selected]

    def model(self, name: str) -> Model:
        """The model ``name``; ParamsError naming the known ones if there is none."""
        if name in self.models:
            return self.models[name]
        known = ", ".join(self.models)
        raise ParamsError(f"models.{name}: no such model (expected one of: {known})")


def one_line(error: ErrorDetails, schema: Any = None) -> str:
    """A pydantic error as ``<dotted key>: <what>, got <value>``."""
    loc = [part for part in error["loc"] if part != "[key]"]  # a bad key is named by itself
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)[1:]
    if error["type"] == "missing":
        what = "missing"
    elif error["type"] == "extra_forbidden":
        for part in loc[:-1]:  # down to the section that holds the key, through fields and dicts
            fields = getattr(schema, "model_fields", None)  # else dict[Name, Model]: the Model
            schema = fields[part].annotation if fields else typing.get_args(schema)[-1]
        known = ", ".join(field.alias or name for name, field in schema.model_fields.items())
        what = f"unknown key (expected one of: {known})"
    elif error["type"] == "literal_error":
        choices = error["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
        what = f"expected one of {choices}, got {_shown(error['input'])}"
    elif error["type"] == "params":
        what = error["msg"]
    else:  # pydantic's own words: "Input should be greater than or equal to 2"
        what = f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_shown(error['input'])}"
    return f"{key}: {what}" if key else what


def _load(schema: type[Section], path: Path) -> Any:
    """The YAML file read as DVC does (YAML 1.2: ``2e-05`` is a float), checked; or ParamsError."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    except (OSError, UnicodeDecodeError, YAMLError) as err:
        raise ParamsError(f"{path}: cannot read: {' '.join(str(err).split())}") from None
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as err:  # an unknown key explains a missing one
        first = min(err.errors(), key=lambda error: error["type"] != "extra_forbidden")
        raise ParamsError(f"{path}: {one_line(first, schema)}") from None


def load_params(path: Path | str, catalogue: Path | str | None = None) -> Params:
    """params.yaml and the catalogue (datasets.yaml beside it), checked alone and together."""
    path = Path(path)
    catalogue = path.with_name(CATALOGUE) if catalogue is None else Path(catalogue)
    params = _load(Params, path)
    datasets = params._datasets = _load(_Catalogue, catalogue).datasets
    pcas = {stage: getattr(params, stage) for stage in PCA_STAGES}
    for prefix, entries in [("models.", params.models), ("datasets.", datasets), ("", pcas)]:
        for name, entry in entries.items():
            entry._key = prefix + name
    if params.selected not in datasets:
        raise ParamsError(
            f"{path}: dataset: expected the name of a description in {catalogue.name} "
            f"({', '.join(datasets)}), got {_shown(params.selected)}"
        )
    dataset, models = params.dataset, params.models
    for model in models.values():
        if model.target is not None and model.target > (last := len(dataset.classes) - 1):
            raise ParamsError(
                f"{path}: {model.key}.target: expected a class index 0-{last} of {dataset.key}"
                f".classes (or no target for a model of every class), got {model.target}"
            )
    with_cv = [name for name, model in models.items() if model.cv is not None]
    for part, known, what in [("test", [*models], "a model"), ("cv", with_cv, "a model with cv")]:
        if unknown := [name for name in getattr(dataset.references, part) if name not in known]:
            raise ParamsError(
                f"{catalogue}: {dataset.key}.references.{part}.{unknown[0]}: not {what} "
                f"(expected one of: {', '.join(known)})"
            )
    return params
