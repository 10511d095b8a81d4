"""The convolutional network's speed (models.cnn), measured against a plain PyTorch loop and
the reference kernels of the same run.

1. the reference kernels (``bench.kernels``: gemm, python_loop, svc_fit), before and after;
2. ``ConvNetClassifier.fit`` as train@cnn runs it (the params of models.cnn, the first
   ``--images`` training images, the val split choosing the epoch), then its ``predict`` on
   the 10,000 test images: seconds and images per second;
3. a plain PyTorch loop training the same network on the same images for the same epochs:
   the same optimiser, schedule and shifted mini-batches, no val split, no weights kept;
   the pipeline's fit over it is the wrapper's cost (target: at most 1.15x);
4. with ``--repro``: a cold ``dvc repro`` in a fresh copy of the project, with the cnn and
   without it (its entry and the files dvc.yaml names for it removed).

The images are read from data/mnist (nothing is written into the working tree but ``--out``).
Writes ``<out>.json`` and ``<out>.md``. Usage:
``.venv/bin/python benchmarks/cnn.py --repro --out benchmarks/runs/<date>-cnn``.
"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy and PyTorch

# isort: split

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from bench.kernels import calibrate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def load_images(count: int) -> dict[str, np.ndarray]:
    """The first ``count`` training images, the val split (the last 10,000) and the test set."""
    from mnist_pipeline.plumbing.idx import MNIST_FILE_NAMES, read_idx

    data = {role: read_idx(REPO / "data/mnist" / name) for role, name in MNIST_FILE_NAMES.items()}
    cut = len(data["train_labels"]) - 10_000
    return {
        "x": data["train_images"][: min(count, cut)],
        "y": data["train_labels"][: min(count, cut)],
        "val_x": data["train_images"][cut:],
        "val_y": data["train_labels"][cut:],
        "test_x": data["test_images"],
        "test_y": data["test_labels"],
    }


def plain_loop(params: dict, images: dict[str, np.ndarray]) -> float:
    """Seconds of the plain PyTorch loop (module docstring, 3.)."""
    from mnist_pipeline.estimators.cnn import (
        as_input,
        build_network,
        load_torch,
        shifted,
        torch_settings,
    )

    torch = load_torch()

    x = images["x"].astype(np.float32) / np.float32(255)
    y = torch.from_numpy(images["y"].astype(np.int64))
    batch, epochs, shift = params["batch_size"], params["epochs"], params["shift"]
    steps = -(-len(x) // batch)
    rng = np.random.default_rng(params["seed"])
    started = time.perf_counter()
    with torch_settings(params["threads"], "cpu"):
        torch.manual_seed(params["seed"])
        network = build_network(
            (28, 28),
            10,
            tuple(params["channels"]),
            params["kernel_size"],
            params["hidden"],
            params["dropout"],
        ).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(
            network.parameters(),
            lr=params["learning_rate"],
            momentum=params["momentum"],
            nesterov=True,
            weight_decay=params["weight_decay"],
        )
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=params["learning_rate"],
            total_steps=epochs * steps,
            pct_start=params["warmup"],
        )
        network.train()
        for _ in range(epochs):
            order = rng.permutation(len(x))
            moves = rng.integers(-shift, shift + 1, size=(len(x), 2))
            for step in range(steps):
                rows = order[step * batch : (step + 1) * batch]
                loss = torch.nn.functional.cross_entropy(
                    network(as_input(shifted(x[rows], moves[rows]), "cpu")), y[rows]
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
    return time.perf_counter() - started


def pipeline_fit(params: dict, images: dict[str, np.ndarray]) -> dict[str, float]:
    """Seconds of the estimator's fit and predict, and its test accuracy."""
    from mnist_pipeline.estimators.cnn import ConvNetClassifier

    estimator = ConvNetClassifier(**{**params, "channels": tuple(params["channels"])})
    started = time.perf_counter()
    estimator.fit(images["x"], images["y"], validation=(images["val_x"], images["val_y"]))
    fit = time.perf_counter() - started
    started = time.perf_counter()
    predicted = estimator.predict(images["test_x"])
    predict = time.perf_counter() - started
    return {
        "fit": fit,
        "predict": predict,
        "test_acc": float(np.mean(predicted == images["test_y"])),
    }


def cold_repro(with_cnn: bool) -> float:
    """Seconds of a cold ``dvc repro`` in a fresh copy, with or without the cnn."""
    from repo_copy import copy_repo, tool_env

    with tempfile.TemporaryDirectory(prefix="bench-cnn-") as tmp:
        copy = copy_repo(REPO, Path(tmp) / "copy", leave_out=("metrics", "plots"))
        (copy / "dvc.lock").unlink(missing_ok=True)
        if not with_cnn:
            params = yaml.safe_load((copy / "params.yaml").read_text())
            del params["models"]["cnn"]
            (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            lines = (copy / "dvc.yaml").read_text().splitlines(keepends=True)
            kept = [line for line in lines if "metrics/cnn/" not in line]
            (copy / "dvc.yaml").write_text("".join(kept))
        env = tool_env(extra={"DVC_SITE_CACHE_DIR": str(Path(tmp) / "site")})
        started = time.perf_counter()
        subprocess.run(["dvc", "repro"], cwd=copy, env=env, check=True, capture_output=True)
        return time.perf_counter() - started


def kernel_means(before: list, after: list) -> dict[str, float]:
    """Each reference kernel's mean seconds over the rounds before and after."""
    return {
        b.kernel: float(np.mean(b.seconds + a.seconds)) for b, a in zip(before, after, strict=True)
    }


def markdown(result: dict) -> str:
    rows = [
        ("pipeline fit (train@cnn's estimator)", result["fit"]),
        ("plain PyTorch loop, same network and batches", result["plain_loop"]),
        ("predict, 10,000 test images", result["predict"]),
    ]
    rows += [(f"cold `dvc repro`, {k.replace('_', ' ')}", v) for k, v in result["repro"].items()]
    kernels = result["kernels"]
    lines = [
        f"# CNN benchmark: {result['images']:,} training images, {result['epochs']} epochs",
        "",
        f"load average at the start: {result['load']:.1f} (2 cores)",
        "",
        "| measurement | seconds | " + " | ".join(f"x {k}" for k in kernels) + " |",
        "|---|---:|" + "---:|" * len(kernels),
    ]
    for name, seconds in rows:
        ratios = " | ".join(f"{seconds / k:.1f}" for k in kernels.values())
        lines.append(f"| {name} | {seconds:.1f} | {ratios} |")
    lines += [
        "",
        f"- pipeline fit / plain loop: **{result['fit'] / result['plain_loop']:.2f}x** "
        "(target <= 1.15)",
        f"- training: {result['train_images_per_s']:.0f} images/s; "
        f"prediction: {result['predict_images_per_s']:.0f} images/s",
        f"- test accuracy of this fit: {result['test_acc']:.4f}",
        "- reference kernels (mean s): " + ", ".join(f"{k} {v:.3f}" for k, v in kernels.items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=50_000, help="training images (50,000)")
    parser.add_argument("--epochs", type=int, help="epochs (default: models.cnn.epochs)")
    parser.add_argument("--repro", action="store_true", help="also time cold dvc repro twice")
    parser.add_argument("--out", type=Path, required=True, help="<out>.json and <out>.md")
    args = parser.parse_args(argv)
    params = yaml.safe_load((REPO / "params.yaml").read_text())["models"]["cnn"]
    params = {k: v for k, v in params.items() if k not in ("features", "estimator")}
    params["device"] = "cpu"
    if args.epochs:
        params["epochs"] = args.epochs
    images = load_images(args.images)
    load = os.getloadavg()[0]
    before = calibrate(rounds=1)
    fitted = pipeline_fit(params, images)
    print(f"pipeline: {fitted}", file=sys.stderr, flush=True)
    plain = plain_loop(params, images)
    print(f"plain loop: {plain:.1f} s", file=sys.stderr, flush=True)
    repro = {}
    if args.repro:
        repro = {"with_the_cnn": cold_repro(True), "without_the_cnn": cold_repro(False)}
    after = calibrate(rounds=1)
    seen = len(images["x"]) * params["epochs"]
    result = {
        "images": len(images["x"]),
        "epochs": params["epochs"],
        "load": load,
        **fitted,
        "plain_loop": plain,
        "ratio_to_plain_loop": fitted["fit"] / plain,
        "train_images_per_s": seen / fitted["fit"],
        "predict_images_per_s": len(images["test_x"]) / fitted["predict"],
        "repro": repro,
        "kernels": kernel_means(before, after),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
