"""``mlp``: scikit-learn's ``MLPClassifier``, reporting each epoch as it ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier

from mnist_pipeline.estimators import EstimatorSpec


class EpochLoggingMLPClassifier(MLPClassifier):
    """``MLPClassifier`` whose ``fit`` calls ``log(epoch, loss=..., val_acc=...)`` after each
    epoch, with the same weights (``partial_fit`` per epoch restarts the shuffling's random
    state): scikit-learn 1.9 calls ``_update_no_improvement_count`` at each epoch's end."""

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        log: Callable[..., None] | None = None,
    ) -> EpochLoggingMLPClassifier:
        """``MLPClassifier.fit``; ``validation`` (rows, labels) is scored after each epoch."""
        self._epoch_log, self._epoch_validation = log, validation
        self.val_accuracy_: list[float] = []
        try:
            return super().fit(x, y)
        finally:
            del self._epoch_log, self._epoch_validation

    def _update_no_improvement_count(self, *args: Any) -> None:
        super()._update_no_improvement_count(*args)
        log = getattr(self, "_epoch_log", None)
        validation = getattr(self, "_epoch_validation", None)
        metrics = {"loss": self.loss_curve_[-1]}
        if validation is not None:
            accuracy = float(np.mean(self.predict(validation[0]) == validation[1]))
            self.val_accuracy_.append(accuracy)
            metrics["val_acc"] = accuracy
        if log is not None:
            log(len(self.loss_curve_), **metrics)


SPEC = EstimatorSpec(EpochLoggingMLPClassifier, blas_threads=1, learns_in_steps=True)
