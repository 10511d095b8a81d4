"""The experiment's params, declared: params.yaml (the knobs) and the dataset catalogue beside
it (datasets.yaml), read by ``safe_yaml`` and checked here before any stage does work.

A mistake is one ``ParamsError`` line naming the file, the dotted key and what was expected:
``params.yaml: models.sgd_5.cv: expected an integer >= 2, got 1``.

Adding a key is one line in its section's class below: ``name: type``, with ``Field(ge=...)``
for a bound, ``one_of(...)`` for a choice or ``expect(...)`` for any other rule (``schema``); a
default makes it optional. A new section is a class and one line in ``Params``, and its name in
the ``params`` of the stages in dvc.yaml that read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

from mnist_pipeline.plumbing.catalogue import CATALOGUE, Catalogue, Dataset
from mnist_pipeline.plumbing.registry import estimator_names
from mnist_pipeline.plumbing.safe_yaml import ParamsError
from mnist_pipeline.plumbing.schema import (
    Count,
    Entry,
    Number,
    PositiveInt,
    Section,
    expect,
    load,
    name_entries,
    named,
    one_of,
    shown,
)

__all__ = ["Dataset", "ParamsError", "load_params"]
NORMALIZE_METHODS = ("scale", "offset", "l2", "standardize")
NORMALIZE_STAGES = ("normalize", "normalize_deskewed")
PCA_STAGES = ("pca", "pca_deskewed")
FEATURE_STAGES = ("raw", "normalize", "pca", "normalize_deskewed", "pca_deskewed")
"""The feature stages with a params section of their own name."""
IMAGES_STAGE = "images"
"""Whole images, N x rows x columns, for the convolutional network: split by ``split``, no
params section of its own."""
MODEL_FEATURES = (*FEATURE_STAGES, IMAGES_STAGE)
"""The stages whose output a model may read."""


class Download(Section):
    """A mirror is given up after ``timeout`` s without a byte, or ``timeout + size /
    min_rate`` s in all (a drip of a byte a second never trips ``timeout``)."""

    timeout: Number
    retries: Count
    min_rate: Number


TrainSize = Annotated[
    int | str,
    expect("all or an integer >= 1", lambda v: v == "all" or (type(v) is int and v >= 1)),
]


class Split(Section):
    """The training images held out (the last ``validation`` of them) and those the models
    fit: the first ``train`` of the rest (file order), or ``all``, for learning curves."""

    validation: PositiveInt
    train: TrainSize

    @property
    def train_size(self) -> int | None:
        """``train`` as a number of images; None for ``all``."""
        return None if self.train == "all" else int(self.train)


class Raw(Section):
    """Unscaled pixels: ``validation`` as in ``split``, and 0 holds none out."""

    validation: Count


class Normalize(Section):
    """``normalize`` or ``normalize_deskewed``: how pixels become features."""

    method: Annotated[str, one_of(*NORMALIZE_METHODS)]
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


def _estimator(value: Any) -> Any:
    return one_of(*estimator_names()).func(value)


class Model(Entry):
    """One entry of ``models``; every key but these four is a parameter of the estimator."""

    model_config = ConfigDict(extra="allow")
    parent = "models"
    features: Annotated[str, one_of(*MODEL_FEATURES)]
    estimator: Annotated[str, BeforeValidator(_estimator)]
    target: Count | None = None
    """A class index: the model is a one-vs-rest detector of that class."""
    cv: Annotated[int, Field(ge=2)] | None = None
    """Folds of the cross-validation evaluate runs on the training split."""

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
    models: Annotated[
        dict[Annotated[str, named("a model name")], Model],
        AfterValidator(name_entries),
        expect("at least one model", bool),
    ]
    figures: Figures
    _datasets: dict[str, Dataset] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _name_pca_sections(self) -> Params:
        name_entries({stage: getattr(self, stage) for stage in PCA_STAGES})
        return self

    @property
    def dataset(self) -> Dataset:
        """The description ``dataset`` selects."""
        return self._datasets[self.selected]

    @property
    def datasets(self) -> dict[str, Dataset]:
        """Every description of the catalogue."""
        return self._datasets

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


def load_params(path: Path | str, catalogue: Path | str | None = None) -> Params:
    """Read and check params.yaml at ``path`` and the catalogue (datasets.yaml beside it),
    each on its own and then against the other."""
    path = Path(path)
    catalogue = path.with_name(CATALOGUE) if catalogue is None else Path(catalogue)
    params = load(Params, path)
    params._datasets = described = load(Catalogue, catalogue).datasets
    if params.selected not in described:
        names = f"{catalogue.name} ({', '.join(described)})"
        got = shown(params.selected)
        raise ParamsError(
            f"{path}: dataset: expected the name of a description in {names}, got {got}"
        )
    dataset, models = params.dataset, params.models
    index = f"a class index 0-{len(dataset.classes) - 1} of {dataset.key}.classes"
    for model in models.values():
        if model.target is not None and model.target >= len(dataset.classes):
            expected = f"{index} (or no target for a model of every class)"
            raise ParamsError(
                f"{path}: {model.key}.target: expected {expected}, got {model.target}"
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
