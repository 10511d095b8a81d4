"""Training: the loss history CSV, and training data that makes a fit impossible refused
before it starts."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_pipeline.registry import EstimatorParamError, build_estimator
from mnist_pipeline.training import check_training_data, training_history


@pytest.mark.parametrize(
    "losses",
    [[], [0.406269123, 0.19602849, 1.0, 0.0, 1e-07, 12345.6789012, 2.5e-5, 3.0000000000000004]],
)
def test_training_history_is_the_csv_pandas_wrote(losses):
    import pandas as pd

    class Fitted:
        loss_curve_ = losses

    expected = pd.DataFrame(
        {"epoch": range(1, len(losses) + 1), "loss": [round(float(x), 6) for x in losses]}
    ).to_csv(index=False, lineterminator="\n")
    assert training_history(Fitted()) == expected
    assert training_history(object()) == "epoch,loss\n"


def test_training_history_follows_the_estimators_first_epoch_and_digits():
    class Fitted:
        loss_curve_ = (0.693147180559945, 0.5)
        loss_curve_start = 0
        loss_curve_digits = 15

    assert training_history(Fitted()) == "epoch,loss\n0,0.693147180559945\n1,0.5\n"


def test_labels_of_one_class_are_refused():
    estimator = build_estimator("sgd", {}, key_prefix="models.sgd_5")
    with pytest.raises(EstimatorParamError) as err:
        check_training_data(
            "sgd",
            estimator,
            {},
            np.zeros(5, np.uint8),
            key_prefix="models.sgd_5",
            source="train.npz",
        )
    assert str(err.value) == (
        "train.npz: expected training labels of at least 2 classes for models.sgd_5, "
        "got only class 0"
    )
