"""Live metrics of a model that learns in steps (epochs, iterations), written while it trains.

After every step: dvclive's summary ``<live>/metrics.json`` (the step, its training loss and,
where there is a validation split, its val accuracy: what `dvc exp show` and DVC's VS Code
extension show during `dvc exp run`), the train stage's ``history.csv`` rewritten with one more
row (its per-step plot), and progress on stderr. dvclive writes no dvc.yaml and no plots of its
own (dvc.yaml declares these files) and no timestamps: the same run gives the same bytes.
A model that does not learn in steps gets dvclive's summary of nothing logged, ``{}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_pipeline.plumbing.files import write_json, write_text
from mnist_pipeline.plumbing.progress import Progress

SUMMARY = "metrics.json"
"""dvclive's summary file in its folder."""


def history_text(rows: Sequence[tuple[int, float, float | None]], loss_digits: int = 6) -> str:
    """history.csv: ``epoch,loss`` and, where any row has one, ``val_acc``; the losses rounded
    to ``loss_digits`` decimals, as pandas's ``to_csv`` wrote them (the header alone for no
    rows)."""
    with_val = any(val is not None for _, _, val in rows)
    header = "epoch,loss,val_acc" if with_val else "epoch,loss"
    lines = [
        f"{step},{round(float(loss), loss_digits)!r}"
        + (f",{round(float(val), 6)!r}" if with_val else "")
        for step, loss, val in rows
    ]
    return "\n".join([header, *lines]) + "\n"


def write_empty_summary(live_dir: Path) -> None:
    """The summary of a model that does not learn in steps: ``{}``, as dvclive writes it."""
    live_dir.mkdir(parents=True, exist_ok=True)
    write_json(live_dir / SUMMARY, {})


class StepLog:
    """What a model learning in steps calls after each step, ``log(step, loss=..., val_acc=...)``,
    and within a step, ``log.batch(done, total)``.

    ``total`` is the number of steps, ``first`` the number of the first (1 for epochs counted
    after they end, 0 for a loss before the first update)."""

    def __init__(
        self,
        name: str,
        live_dir: Path,
        history_csv: Path,
        total: int,
        *,
        first: int = 1,
        unit: str = "epoch",
        loss_digits: int = 6,
    ) -> None:
        from dvclive import Live

        logging.getLogger("dvclive").setLevel(logging.WARNING)
        self.name, self.history_csv, self.loss_digits = name, history_csv, loss_digits
        self.first, self.total = first, total
        self.rows: list[tuple[int, float, float | None]] = []
        self.live = Live(
            str(live_dir),
            resume=False,
            report=None,
            save_dvc_exp=False,
            dvcyaml=None,
            monitor_system=False,
        )
        self.progress = Progress(logging.getLogger("train"), f"{name}: {unit}", total, unit=unit)

    def __call__(self, step: int, loss: float, val_acc: float | None = None, **_: Any) -> None:
        """Step ``step`` ended with training loss ``loss`` (and ``val_acc``): the summary,
        history.csv and the progress line, written now."""
        loss = round(float(loss), self.loss_digits)
        self.rows.append((step, loss, val_acc))
        self.live.step = step
        self.live.log_metric("loss", loss, plot=False)
        note = f"loss {loss:.4f}"
        if val_acc is not None:
            self.live.log_metric("val_acc", round(float(val_acc), 6), plot=False)
            note += f", val acc {val_acc:.4f}"
        self.live.next_step()
        write_text(self.history_csv, history_text(self.rows, self.loss_digits))
        self.progress.advance(step - self.first + 1, note)

    def batch(self, done: int, total: int) -> None:
        """``done`` of the ``total`` mini-batches of the current step are done (moves the bar
        on a terminal; a log gets its line per step)."""
        if self.progress.bar is not None:
            self.progress.advance(len(self.rows) + done / total)

    def close(self) -> None:
        """Write the last summary (dvclive's end) and remove the bar."""
        self.progress.close()
        self.live.end()

    def __enter__(self) -> StepLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
