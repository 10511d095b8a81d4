"""The parts that params files' schemas are declared with (``params.py``): a strict section,
rules that say in words what they expect, and pydantic's errors as one line each,
``<file>: <dotted key>: expected <what>, got <value>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from mnist_pipeline.plumbing.safe_yaml import ParamsError, read_yaml


def shown(value: Any) -> str:
    """``repr(value)``, cut to 80 characters: a hostile value may be a megabyte long."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:76]}..."


def refuse(message: str, key: str | None = None) -> PydanticCustomError:
    """The error of a rule: ``message`` about the value checked (or about its ``key``)."""
    return PydanticCustomError("params", "{message}", {"message": message, "key": key})


def expect(what: str, ok: Callable[[Any], Any]) -> BeforeValidator:
    """A rule for the value as written: ``ok(value)``, else "expected <what>, got <value>"."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise refuse(f"expected {what}, got {shown(value)}")
        return value

    return BeforeValidator(check)


def one_of(*choices: str) -> BeforeValidator:
    """A rule: one of ``choices``."""
    return expect(f"one of {', '.join(choices)}", lambda value: value in choices)


def listed(what: str, low: int, high: int) -> BeforeValidator:
    """A rule: a list of ``low`` to ``high`` items."""
    return expect(what, lambda value: isinstance(value, list) and low <= len(value) <= high)


def named(what: str) -> BeforeValidator:
    """A rule for a name that becomes part of a stage name (``train@knn``)."""
    pattern = re.compile(r"[a-z][a-z0-9_]*")
    return expect(f"{what} of lowercase letters, digits and _", lambda v: pattern.fullmatch(str(v)))


Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Number = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""Positive and finite: ``.nan``, which every comparison fails, is refused too."""
Text = Annotated[str, expect("a non-empty string", lambda v: isinstance(v, str) and v.strip())]
Lax = Field(strict=False)
"""For a tuple, which YAML writes as a list."""


class Section(BaseModel):
    """A mapping of a params file: only declared keys, strict types (``"3"`` is not an
    integer), read-only."""

    model_config = ConfigDict(strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _declared_keys_only(cls, data: Any) -> Any:
        known = [field.alias or name for name, field in cls.model_fields.items()]
        if isinstance(data, dict) and cls.model_config.get("extra") != "allow":
            for key in data:
                if key not in known:
                    raise refuse(f"unknown key (expected one of: {', '.join(known)})", key)
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
        """Its dotted key (``models.knn``; ``pca`` for a top-level section), for errors."""
        return f"{self.parent}.{self._name}".lstrip(".")


def name_entries(entries: dict[str, Entry]) -> dict[str, Entry]:
    """Give each entry its name (an after-validator of a mapping of entries)."""
    for name, entry in entries.items():
        entry._name = name
    return entries


_EXPECTED = {
    "int_type": "an integer",
    "greater_than_equal": "an integer >= {ge}",
    "float_type": "a number",
    "greater_than": "a number > {gt}",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "tuple_type": "a list",
}


def _describe(error: ErrorDetails) -> str:
    """One pydantic error as ``<dotted key>: <what>``."""
    ctx = error.get("ctx") or {}
    loc = [*error["loc"], *([] if ctx.get("key") is None else [ctx["key"]])]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc if p != "[key]")
    if error["type"] in ("params", "missing"):
        what = ctx.get("message", "missing")
    elif error["type"] in _EXPECTED:
        expected = _EXPECTED[error["type"]].format(**ctx).replace("number > 0.0", "positive number")
        what = f"expected {expected}, got {shown(error['input'])}"
    else:
        what = error["msg"]
    return f"{key[1:]}: {what}" if key else what


def load(schema: type[Section], path: Path) -> Any:
    """The params file at ``path``, read by ``safe_yaml`` and checked against ``schema``;
    ParamsError at the first mistake."""
    try:
        return schema.model_validate(read_yaml(path))
    except pydantic.ValidationError as err:
        raise ParamsError(f"{path}: {_describe(err.errors()[0])}") from None
