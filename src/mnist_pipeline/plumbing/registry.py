"""The estimator table: each name ``models.<m>.estimator`` may take in params.yaml is a module of
``mnist_pipeline.estimators``, whose ``SPEC`` says what that name builds.

``estimator_names`` lists the modules without importing them, so that the params loader checks
names without importing scikit-learn; a module is imported only when its estimator is wanted.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any


class EstimatorParamError(ValueError):
    """An estimator name or parameter the pipeline refuses, named by its params.yaml key."""


@dataclass(frozen=True)
class EstimatorSpec:
    """What an estimator name of params.yaml builds, declared by its module as ``SPEC``."""

    estimator: type | Callable[[], type]
    """The class it builds, or a function that returns the class (a module that defines its
    class on first use, so that importing it imports no scikit-learn: ``cosine_1nn``)."""
    description: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Short names accepted in params.yaml for scikit-learn's own (``k`` -> ``n_neighbors``)."""
    threaded_predict: bool = False
    """``predict`` handles each row on its own in compiled code that releases the GIL (libsvm),
    so ``threads.predict_rows`` may split the rows over one thread per core: the same
    predictions."""
    blas_threads: int | None = None
    """Threads BLAS may use while the model is fitted or scored (None: BLAS's default, one per
    core). 1 for estimators that multiply many small or skinny matrices (mini-batches of 64
    rows, 10 classes): there a second thread costs more in synchronisation than it computes,
    and the fitted numbers then do not depend on the machine's number of cores."""
    learns_in_steps: bool = False
    """``fit(X, y, validation=(X_val, y_val) or None, log=None)`` learns in steps (epochs,
    iterations) and calls ``log(step, loss=..., val_acc=...)`` after each (``val_acc`` where
    there is a validation split): the train stage's live metrics and progress."""
    check_params: Callable[[Any, str], None] | None = None
    """``check_params(estimator, key_prefix)`` raises ``EstimatorParamError`` for a value
    scikit-learn accepts when built but refuses only in ``fit`` or ``predict``."""
    check_training_data: Callable[[Any, Mapping[str, Any], int, str, str], None] | None = None
    """``check_training_data(estimator, params, n_rows, key_prefix, source)`` raises
    ``EstimatorParamError`` for a parameter that ``n_rows`` training rows make impossible."""
    load_fitted: Callable[[IO[bytes]], Any] | None = None
    """``load_fitted(file)`` reads train's pickled model as an object that predicts the same
    without importing scikit-learn (``evaluate``); None: ``pickle.load``."""
    name: str = ""
    """The estimator name params.yaml uses (set by ``estimator_spec``)."""

    @property
    def estimator_class(self) -> type:
        """The class the name builds."""
        return self.estimator if isinstance(self.estimator, type) else self.estimator()

    def params_key(self, own: str, params: Mapping[str, Any]) -> str:
        """The key params.yaml used for the estimator's parameter ``own``: its alias if the
        alias was written, else ``own``."""
        for alias, name in self.aliases.items():
            if name == own and alias in params:
                return alias
        return own


@functools.cache
def estimator_names() -> tuple[str, ...]:
    """The estimator names params.yaml may use, in alphabetical order: the modules of
    ``mnist_pipeline.estimators``, found without importing any of them."""
    from mnist_pipeline import estimators

    return tuple(
        sorted(
            module.name
            for module in pkgutil.iter_modules(estimators.__path__)
            if not module.name.startswith("_")
        )
    )


def estimator_spec(name: str, *, key_prefix: str | None = None) -> EstimatorSpec:
    """The ``SPEC`` of the module ``mnist_pipeline.estimators.<name>``, with its ``name``. An
    unknown name is an ``EstimatorParamError`` listing the known ones
    (``<key_prefix>.estimator: ...`` if given). Stages look a model's spec up once and pass it
    on."""
    names = estimator_names()
    if name not in names:
        where = f"{key_prefix}.estimator" if key_prefix else "estimator"
        raise EstimatorParamError(f"{where}: expected one of {', '.join(names)}, got {name!r}")
    return replace(importlib.import_module(f"mnist_pipeline.estimators.{name}").SPEC, name=name)


def build_estimator(spec: EstimatorSpec, params: Mapping[str, Any], *, key_prefix: str) -> Any:
    """Build and validate an unfitted estimator of ``spec`` before any training starts.

    ``key_prefix`` (``models.svm``) names where the parameters came from, so a refusal reads
    ``models.svm.C: ...`` rather than scikit-learn's message alone. YAML lists become tuples
    (layer sizes).
    """
    cls = spec.estimator_class
    for alias, own in spec.aliases.items():
        if alias in params and own in params:
            raise EstimatorParamError(
                f"{key_prefix}.{alias}: expected one of {alias} and {own} "
                "(the same parameter), got both"
            )
    translated = {
        spec.aliases.get(key, key): tuple(value) if isinstance(value, list) else value
        for key, value in params.items()
    }
    accepted = cls().get_params()
    unknown = sorted(spec.params_key(k, params) for k in translated if k not in accepted)
    if unknown:
        allowed = sorted(set(accepted) | set(spec.aliases))
        raise EstimatorParamError(
            f"{key_prefix}.{unknown[0]}: not a parameter of {cls.__name__} "
            f"(estimator '{spec.name}'); expected one of: {', '.join(allowed)}"
        )
    estimator = cls(**translated)
    try:
        # scikit-learn checks parameter values only in fit(); check them now, before the data
        # is loaded and hours are spent.
        estimator._validate_params()
    except (ValueError, TypeError) as err:  # scikit-learn's InvalidParameterError is both
        bad = next((k for k in translated if f"'{k}'" in str(err)), None)
        where = f"{key_prefix}.{spec.params_key(bad, params)}" if bad else key_prefix
        raise EstimatorParamError(f"{where}: {err}") from None
    if spec.check_params is not None:
        spec.check_params(estimator, key_prefix)
    return estimator
