"""The dataset catalogue, declared: datasets.yaml, every dataset the ``dataset`` switch of
params.yaml may select, checked as ``params.py`` checks params.yaml.

Each description has every key; ``datasets.<name>.<key>`` names a mistake. Adding a key is one
line in its class below (see ``params.py``).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from mnist_pipeline.plumbing.schema import (
    Entry,
    Lax,
    Number,
    PositiveInt,
    Section,
    Text,
    expect,
    listed,
    name_entries,
    named,
    refuse,
)

CATALOGUE = "datasets.yaml"
"""The catalogue's file name, beside params.yaml."""
MAX_CLASSES = 256
"""Labels are unsigned bytes (IDX type 0x08)."""


class DatasetFile(Section):
    """One IDX file; a mirror sending more than ``size`` bytes fails."""

    name: Annotated[str, expect("a plain file name", lambda v: v and "/" not in str(v))]
    sha256: Annotated[
        str, expect("64 lowercase hex digits", lambda v: re.fullmatch("[0-9a-f]{64}", str(v)))
    ]
    size: PositiveInt


class Files(Section):
    """The four files of a dataset, by role."""

    train_images: DatasetFile
    train_labels: DatasetFile
    test_images: DatasetFile
    test_labels: DatasetFile

    def __getitem__(self, role: str) -> DatasetFile:
        return getattr(self, role)

    def values(self) -> list[DatasetFile]:
        """The four, in declared order."""
        return [self[role] for role in type(self).model_fields]

    def items(self) -> list[tuple[str, DatasetFile]]:
        """``(role, file)`` of the four, in declared order."""
        return [(role, self[role]) for role in type(self).model_fields]


class References(Section):
    """Published accuracies shown beside ours: ``test`` per model, ``cv`` per model with cv."""

    source: Text
    test: dict[str, Number]
    cv: dict[str, Number]


def _distinct(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if names.count(name) > 1:
            raise refuse(f"expected distinct names, got {name!r} twice")
    return names


Mirror = Annotated[str, expect("a directory, file:// or http(s):// URL", bool)]
Side = Annotated[
    int, expect("[rows, columns], two positive integers", lambda v: type(v) is int and v > 0)
]
ClassName = Annotated[
    str,
    expect(
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
        tuple[Mirror, ...], Lax, listed("a non-empty list of directories or URLs", 1, 99)
    ]
    files: Files
    image_shape: Annotated[
        tuple[Side, Side], Lax, listed("[rows, columns], two positive integers", 2, 2)
    ]
    transpose: bool
    """The files store each image transposed (EMNIST): decode turns them upright."""
    classes: Annotated[
        tuple[ClassName, ...],
        Lax,
        AfterValidator(_distinct),
        listed(f"a list of 2 to {MAX_CLASSES} class names", 2, MAX_CLASSES),
    ]
    class_noun: Text
    image_noun: Text
    references: References


class Catalogue(Section):
    """datasets.yaml: each dataset the ``dataset`` switch may select."""

    datasets: Annotated[
        dict[Annotated[str, named("a dataset name")], Dataset],
        AfterValidator(name_entries),
        expect("at least one dataset description", bool),
    ]
