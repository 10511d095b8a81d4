"""The estimator table: each name ``models.<m>.estimator`` may take is a module of this package
whose ``SPEC`` says what it builds, listed without importing it (checking params.yaml imports no
scikit-learn). dvc.yaml makes a model's stages depend on its module."""

import functools
import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class EstimatorParamError(ValueError):
    """An estimator name or parameter the pipeline refuses, named by its params.yaml key."""


@dataclass(frozen=True)
class EstimatorSpec:
    """What an estimator name builds: ``estimator`` (the class or its dotted path), ``aliases``
    (``k`` -> ``n_neighbors``), ``blas_threads`` (1 where a second thread costs more than it
    computes), and its ``check_*`` hooks, which raise ``EstimatorParamError``."""

    estimator: type | str
    aliases: Mapping[str, str] = field(default_factory=dict)
    blas_threads: int | None = None
    # fit(X, y, validation=, log=) calls log(step, loss=, val_acc=) after each step
    learns_in_steps: bool = False
    check_params: Callable[[Any, str], None] | None = None  # (estimator, key_prefix)
    # (estimator, params, n_rows, key_prefix, source)
    check_training_data: Callable[[Any, Mapping[str, Any], int, str, str], None] | None = None
    name: str = ""

    @property
    def estimator_class(self) -> type:
        """The class the name builds."""
        if isinstance(self.estimator, type):
            return self.estimator
        return pkgutil.resolve_name(self.estimator)

    def params_key(self, own: str, params: Mapping[str, Any]) -> str:
        """params.yaml's key for the estimator's parameter ``own``: its alias where written."""
        return next((a for a, n in self.aliases.items() if n == own and a in params), own)


@functools.cache
def estimator_names() -> tuple[str, ...]:
    """The estimator names params.yaml may use: the modules of this package."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name[0] != "_"))


def estimator_spec(name: str, *, key_prefix: str | None = None) -> EstimatorSpec:
    """The ``SPEC`` of the module ``name``; an unknown name lists the known ones."""
    if name not in (names := estimator_names()):
        where = f"{key_prefix}.estimator" if key_prefix else "estimator"
        raise EstimatorParamError(f"{where}: expected one of {', '.join(names)}, got {name!r}")
    return replace(importlib.import_module(f"{__name__}.{name}").SPEC, name=name)


def fit_error(
    err: Exception, spec: EstimatorSpec, params: Mapping[str, Any], key_prefix: str
) -> EstimatorParamError | None:
    """scikit-learn's refusal of a value in ``fit`` ("The 'C' parameter of SVC must be ...")
    named by its params.yaml key; None for any other error."""
    if (found := re.match(r"The '(\w+)' parameter of ", str(err))) is None:
        return None
    return EstimatorParamError(f"{key_prefix}.{spec.params_key(found[1], params)}: {err}")


def check_values(estimator: Any, key_prefix: str = "") -> None:
    """Refuse the first parameter that the annotations of the estimator's ``__init__`` refuse,
    strictly (pydantic): "<key_prefix>.<name>: ..."; scikit-learn's own checks are private API."""
    import pydantic

    from mnist_pipeline.params import one_line

    cls, strict = type(estimator), pydantic.ConfigDict(strict=True)
    try:
        check = pydantic.validate_call(config=strict)(cls.__init__)
        check(cls.__new__(cls), **estimator.get_params(deep=False))
    except pydantic.ValidationError as err:
        error = err.errors()[0]  # its loc: the parameter, then item indices and union branches
        loc = (error["loc"][0], *(part for part in error["loc"][1:] if type(part) is int))
        line = one_line(error | {"loc": loc})
        raise EstimatorParamError(f"{key_prefix}.{line}" if key_prefix else line) from None
