"""The CNN's speed (models.cnn, issue 22): its fit as train@cnn runs it (the images stage's
splits, val choosing the epoch) and its predict of the test split, against a plain PyTorch
loop over the same network, optimiser, schedule and shifted batches, with no val and no weights
kept (target: fit / loop <= 1.15), beside the reference kernels. Needs ``make repro``'s
stages/images; a cold repro's train@cnn is in run.py's stage table. Writes runs/<date>-cnn.*"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy and PyTorch

# isort: split

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from bench.kernels import BENCHMARKS, ratio, reference_seconds
from bench.report import RUNS, log, machine, publish, table

from mnist_pipeline.estimators import cnn
from mnist_pipeline.plumbing.params import load_params

REPO = BENCHMARKS.parent


def plain_loop(p: dict, x: np.ndarray, labels: np.ndarray) -> float:
    """Seconds of a plain PyTorch loop over the batches the estimator's fit draws."""
    torch, rng = cnn.load_torch(), np.random.default_rng(p["seed"])
    x, y = x.astype(np.float32) / np.float32(255), torch.from_numpy(labels.astype(np.int64))
    batch, steps = p["batch_size"], -(-len(x) // p["batch_size"])
    started = time.perf_counter()
    with cnn.torch_settings(p["threads"], "cpu"):
        torch.manual_seed(p["seed"])
        shape = tuple(p["channels"]), p["kernel_size"], p["hidden"], p["dropout"]
        network = cnn.build_network((28, 28), 10, *shape).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(network.parameters(), lr=p["learning_rate"],
                                    momentum=p["momentum"], nesterov=True,
                                    weight_decay=p["weight_decay"])  # fmt: skip
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, p["learning_rate"], total_steps=p["epochs"] * steps, pct_start=p["warmup"]
        )
        network.train()
        for _ in range(p["epochs"]):
            order = rng.permutation(len(x))
            moves = rng.integers(-p["shift"], p["shift"] + 1, size=(len(x), 2))
            for step in range(steps):
                rows = order[step * batch : (step + 1) * batch]
                inputs = cnn.as_input(cnn.shifted(x[rows], moves[rows]), "cpu")
                loss = torch.nn.functional.cross_entropy(network(inputs), y[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=50_000, help="training images (50,000)")
    parser.add_argument("--epochs", type=int, help="epochs (default: models.cnn.epochs)")
    parser.add_argument("--out", type=Path, default=RUNS)
    args = parser.parse_args(argv)
    p = {**load_params(REPO / "params.yaml").model("cnn").params, "device": "cpu"}
    p["epochs"] = args.epochs or p["epochs"]
    data = {s: np.load(REPO / "stages/images" / f"{s}.npz") for s in ("train", "val", "test")}
    x, y = data["train"]["X"][: args.images], data["train"]["y"][: args.images]
    about, start = machine(), reference_seconds(rounds=1)
    log("the pipeline's fit")
    estimator = cnn.ConvNetClassifier(**{**p, "channels": tuple(p["channels"])})
    started = time.perf_counter()
    estimator.fit(x, y, validation=(data["val"]["X"], data["val"]["y"]))
    s = {"fit": time.perf_counter() - started}
    started = time.perf_counter()
    accuracy = float(np.mean(estimator.predict(data["test"]["X"]) == data["test"]["y"]))
    s["predict"] = time.perf_counter() - started
    log("the plain loop")
    s["plain_loop"] = plain_loop(p, x, y)
    end = reference_seconds(rounds=1)
    units = {k: min(start[k] + end[k]) for k in start}
    names = {
        "fit": "pipeline fit (train@cnn's estimator)",
        "plain_loop": "plain PyTorch loop, the same network and batches",
        "predict": f"predict, {len(data['test']['y']):,} test images",
    }
    rows = [[names[k], f"{s[k]:.1f}", *(f"{s[k] / u:.1f}" for u in units.values())] for k in names]
    lines = [
        *table(["measurement", "s", *(f"/ `{k}`" for k in units)], rows),
        "",
        f"- pipeline fit / plain loop: **{ratio(s['fit'], s['plain_loop'])}** (target 1.15); "
        f"the fit scores val after each epoch, {p['epochs']} predicts of "
        f"{len(data['val']['y']):,} images that the plain loop does not make",
        f"- training {len(x) * p['epochs'] / s['fit']:.0f} images/s, prediction "
        f"{len(data['test']['y']) / s['predict']:.0f} images/s; test accuracy {accuracy:.4f}",
    ]
    title = f"CNN: {len(x):,} training images, {p['epochs']} epochs"
    record = {"references": [start, end], "accuracy": accuracy, "epochs": p["epochs"], **s}
    publish("cnn", title, about, lines, record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
