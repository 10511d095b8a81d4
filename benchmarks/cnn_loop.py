"""The CNN's training loop against a plain PyTorch loop training the same network on the same
images for the same epochs (issue 32: at most 1.15x), alternated in one process after a warm-up.
Both score val once per epoch; ours also shifts each batch. Needs stages/images/ (dvc repro).

    python benchmarks/cnn_loop.py --images 25000 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
import mnist_pipeline  # noqa: E402, F401  first: it pins NumPy's CPU kernels

# isort: split
import numpy as np  # noqa: E402

from mnist_pipeline.estimators.cnn import ConvNetClassifier, _outputs, _settings, _torch  # noqa: E402


def ours(x: np.ndarray, y: np.ndarray, val: tuple, epochs: int) -> float:
    started = time.perf_counter()
    ConvNetClassifier(epochs=epochs).fit(x, y, validation=val)
    return time.perf_counter() - started


def plain(x: np.ndarray, y: np.ndarray, val: tuple, epochs: int) -> float:
    """The loop of PyTorch's examples: one tensor, a permutation per epoch, no augmentation."""
    torch, spec = _torch(), ConvNetClassifier(epochs=epochs)
    spec.image_shape_, spec.classes_ = x.shape[1:], np.unique(y)
    started = time.perf_counter()
    with _settings(spec.threads, "cpu"):
        torch.manual_seed(0)
        network = spec._network("cpu")
        optimizer = torch.optim.SGD(network.parameters(), lr=spec.learning_rate, momentum=0.9,
                                    nesterov=True, weight_decay=spec.weight_decay)  # fmt: skip
        steps = -(-len(x) // spec.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=spec.learning_rate, total_steps=epochs * steps, pct_start=spec.warmup
        )
        criterion = torch.nn.CrossEntropyLoss(label_smoothing=spec.label_smoothing)
        images = torch.from_numpy(x.astype(np.float32) / 255).unsqueeze(1)
        images = images.contiguous(memory_format=torch.channels_last)
        targets = torch.from_numpy(y.astype(np.int64))
        val_images = val[0].astype(np.float32) / 255
        for _ in range(epochs):
            network.train()
            order = torch.randperm(len(x))
            for step in range(steps):
                batch = order[step * spec.batch_size : (step + 1) * spec.batch_size]
                loss = criterion(network(images[batch]), targets[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
            np.mean(_outputs(network, val_images, "cpu").argmax(axis=1) == val[1])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=25_000, help="training images (25,000)")
    parser.add_argument("--val", type=int, default=5_000, help="val images scored per epoch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each, alternated")
    args = parser.parse_args()
    train = np.load(REPO / "stages/images/train.npz")
    held = np.load(REPO / "stages/images/val.npz")
    x, y = train["X"][: args.images], train["y"][: args.images]
    val = (held["X"][: args.val], held["y"][: args.val])
    ratios = []
    for warm_up in (ours, plain):  # PyTorch's first fit in a process builds its kernels
        warm_up(x[:1000], y[:1000], val, 1)
    for number in range(args.rounds):
        first, second = (ours, plain) if number % 2 == 0 else (plain, ours)
        seconds = {f.__name__: f(x, y, val, args.epochs) for f in (first, second)}
        ratios.append(seconds["ours"] / seconds["plain"])
        print(f"ours {seconds['ours']:.2f} s, plain {seconds['plain']:.2f} s: {ratios[-1]:.3f}x")
    print(f"median ours / plain over {args.rounds} rounds: {statistics.median(ratios):.3f}x "
          "(issue 32: at most 1.15)")  # fmt: skip


if __name__ == "__main__":
    main()
