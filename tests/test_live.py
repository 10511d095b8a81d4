"""Live metrics and progress of models that learn in steps: dvclive's summary and history.csv
after every step, lines in a log, a bar on a terminal; the MLP and the gradient-descent model
report every step of the very fit they did before."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from mnist_pipeline.estimators.gradient_descent import GradientDescentLogisticRegression
from mnist_pipeline.estimators.mlp import EpochLoggingMLPClassifier
from mnist_pipeline.plumbing import progress as progress_module
from mnist_pipeline.plumbing.live import StepLog, history_text, write_empty_summary
from mnist_pipeline.plumbing.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_history_has_a_val_column_only_where_a_step_was_validated():
    assert history_text([(1, 0.5, None), (2, 0.25, None)]) == "epoch,loss\n1,0.5\n2,0.25\n"
    assert history_text([(1, 0.1234567, 0.9)]) == "epoch,loss,val_acc\n1,0.123457,0.9\n"
    assert history_text([]) == "epoch,loss\n"


def test_each_step_rewrites_the_summary_and_the_history_at_once(tmp_path):
    live, history = tmp_path / "live", tmp_path / "history.csv"
    with StepLog("m", live, history, 3) as log:
        log(1, loss=0.5, val_acc=0.75)
        assert json.loads((live / "metrics.json").read_text()) == {
            "loss": 0.5,
            "val_acc": 0.75,
            "step": 1,
        }
        assert history.read_text() == "epoch,loss,val_acc\n1,0.5,0.75\n"
        log(2, loss=0.25, val_acc=0.8)
    assert json.loads((live / "metrics.json").read_text())["step"] == 2
    assert history.read_text().splitlines()[-1] == "2,0.25,0.8"
    assert sorted(p.name for p in live.iterdir()) == ["metrics.json"]


def test_dvclive_writes_no_dvc_yaml_and_no_timestamps(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with StepLog("m", tmp_path / "live", tmp_path / "history.csv", 1) as log:
        log(1, loss=0.5)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "history.csv",
        "metrics.json",
    ]
    assert "time" not in (tmp_path / "live/metrics.json").read_text()


def test_model_that_does_not_learn_in_steps_gets_dvclives_empty_summary(tmp_path):
    write_empty_summary(tmp_path / "live")
    assert (tmp_path / "live/metrics.json").read_text() == "{}\n"


def test_a_log_gets_a_line_per_step_for_few_steps_and_ten_for_many(caplog):
    log = logging.getLogger("train")
    with caplog.at_level(logging.INFO, logger="train"):
        with Progress(log, "m: epoch", 3) as progress:
            for done in (1, 2, 3):
                progress.advance(done, f"loss {done}")
        few = [r.getMessage() for r in caplog.records]
        caplog.clear()
        with Progress(log, "m: iteration", 201) as progress:
            for done in range(1, 202):
                progress.advance(done)
        many = [r.getMessage() for r in caplog.records]
    assert [line.split(" (")[0] for line in few] == [
        "m: epoch 1/3: loss 1",
        "m: epoch 2/3: loss 2",
        "m: epoch 3/3: loss 3",
    ]
    assert len(many) == 10 and many[-1].startswith("m: iteration 201/201")


def test_a_terminal_gets_a_bar_and_no_log_lines(monkeypatch, caplog):
    terminal = Terminal()
    monkeypatch.setattr(progress_module.sys, "stderr", terminal)
    with (
        caplog.at_level(logging.INFO, logger="train"),
        Progress(logging.getLogger("train"), "m: epoch", 4) as progress,
    ):
        progress.advance(2, "loss 0.5")
        drawn = terminal.getvalue()
    assert caplog.records == []
    assert "train: m: epoch" in drawn and "2/4" in drawn and "loss 0.5" in drawn


@pytest.fixture(scope="module")
def rows(mnist_slice) -> dict[str, np.ndarray]:
    x = mnist_slice["train_images"].reshape(1200, -1).astype(np.float32) / 255
    y = mnist_slice["train_labels"]
    return {"x": x[:1000], "y": y[:1000], "val_x": x[1000:], "val_y": y[1000:]}


def test_mlp_reporting_each_epoch_fits_the_very_weights_of_scikit_learns(rows):
    params = {"hidden_layer_sizes": (20,), "max_iter": 3, "random_state": 0, "batch_size": 64}
    logged = []
    with pytest.warns(UserWarning):
        ours = EpochLoggingMLPClassifier(**params).fit(
            rows["x"],
            rows["y"],
            validation=(rows["val_x"], rows["val_y"]),
            log=lambda epoch, **m: logged.append((epoch, m)),
        )
        theirs = MLPClassifier(**params).fit(rows["x"], rows["y"])
    for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
        assert a.tobytes() == b.tobytes()
    assert [epoch for epoch, _ in logged] == [1, 2, 3]
    assert [m["loss"] for _, m in logged] == theirs.loss_curve_
    assert logged[-1][1]["val_acc"] == np.mean(theirs.predict(rows["val_x"]) == rows["val_y"])
    assert ours.val_accuracy_ == [m["val_acc"] for _, m in logged]


def test_gradient_descent_reports_every_loss_from_iteration_zero(rows):
    y = rows["y"] == 4
    logged = []
    model = GradientDescentLogisticRegression(max_iter=5).fit(
        rows["x"], y, log=lambda step, **m: logged.append((step, m["loss"]))
    )
    assert logged == list(enumerate(model.loss_curve_))
    assert model.val_accuracy_ == []
