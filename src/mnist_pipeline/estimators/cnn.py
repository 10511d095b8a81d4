"""``cnn``: a small convolutional network in PyTorch, as a scikit-learn classifier.

Each block of ``channels`` is a 3x3 (``kernel_size``) convolution, a 2x2 max-pool, batch
normalisation and ReLU (pooling first: a quarter of the normalising work); then
a hidden layer of ``hidden`` units with dropout, and one output per class. Training is SGD with
Nesterov momentum under a one-cycle learning-rate schedule (up to ``learning_rate`` over the
first ``warmup`` of the steps, then down to nearly zero) and cross-entropy with
``label_smoothing``, on mini-batches whose images are shifted by up to ``shift`` pixels each way
(zeros come in), and, where ``rotate`` or ``scale`` is not 0, turned by up to ``rotate`` degrees
and resized by up to ``scale`` (a fraction) each way. With a validation split, ``fit`` keeps the
weights of the epoch with the best val accuracy.

Deterministic: every random draw comes from ``seed``; PyTorch runs its deterministic algorithms
on ``threads`` threads (``mnist_pipeline`` pins the CPU kernels). ``device: auto`` is the GPU
when PyTorch sees one, else the CPU.

The fitted weights are NumPy arrays in ``weights_``: the estimator pickles or serialises
(skops) without any PyTorch object, and rebuilds the network from them to predict. PyTorch is
imported only when a network is built, not with this module.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mnist_pipeline.estimators import EstimatorSpec, check_rules, integer, number, one_of

if TYPE_CHECKING:
    import torch

PREDICT_BATCH = 1000
"""Images per forward pass when predicting (memory, not results: every image is on its own)."""


def load_torch() -> Any:
    """PyTorch, imported with its OpenMP threads sleeping while they wait for work
    (``OMP_WAIT_POLICY=PASSIVE`` unless set; read when PyTorch loads its OpenMP): spinning, two
    threads on two busy cores took 3.5 times the CPU time of one thread per image, sleeping
    1.1 times (the same results either way)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    return torch


def resolve_device(device: str) -> str:
    """``auto``: ``cuda`` when PyTorch sees a GPU, else ``cpu``; any other value as given."""
    torch = load_torch()

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def build_network(
    shape: tuple[int, int],
    n_classes: int,
    channels: tuple[int, ...],
    kernel_size: int,
    hidden: int,
    dropout: float,
) -> torch.nn.Module:
    """The network for images of ``shape`` (rows, columns), one input channel."""
    nn = load_torch().nn

    layers: list[nn.Module] = []
    previous, rows, columns = 1, *shape
    for width in channels:
        layers += [
            nn.Conv2d(previous, width, kernel_size, padding=kernel_size // 2, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        previous, rows, columns = width, rows // 2, columns // 2
    layers += [
        nn.Flatten(),
        nn.Linear(previous * rows * columns, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, n_classes),
    ]
    return nn.Sequential(*layers)


def shifted(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each image moved by its ``(rows, columns)`` of ``shifts`` (positive: down, right),
    zeros filling what comes in."""
    n, rows, columns = images.shape
    reach = int(np.abs(shifts).max(initial=0))
    padded = np.pad(images, ((0, 0), (reach, reach), (reach, reach)))
    r = reach - shifts[:, 0, None] + np.arange(rows)
    c = reach - shifts[:, 1, None] + np.arange(columns)
    return padded[np.arange(n)[:, None, None], r[:, :, None], c[:, None, :]]


def turned(inputs: torch.Tensor, degrees: np.ndarray, scales: np.ndarray) -> torch.Tensor:
    """Each image of ``inputs`` (N x 1 x rows x columns) turned by its ``degrees`` (anticlockwise)
    and resized by its ``scales`` (1: as is) about its centre, bilinear, zeros filling in."""
    torch = load_torch()

    radians = np.deg2rad(degrees)
    cos, sin = np.cos(radians) / scales, np.sin(radians) / scales
    zero = np.zeros_like(cos)
    theta = np.stack([np.stack([cos, -sin, zero], 1), np.stack([sin, cos, zero], 1)], 1)
    theta = torch.from_numpy(theta.astype(np.float32)).to(inputs.device)
    grid = torch.nn.functional.affine_grid(theta, list(inputs.shape), align_corners=False)
    return torch.nn.functional.grid_sample(inputs, grid, align_corners=False)


def as_input(images: np.ndarray, device: str) -> torch.Tensor:
    """Float images N x rows x columns as the network's input: N x 1 x rows x columns on
    ``device``, channels last (oneDNN's convolutions then reorder nothing: 20% faster)."""
    torch = load_torch()

    tensor = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
    return tensor.to(device, memory_format=torch.channels_last)


@contextlib.contextmanager
def torch_settings(threads: int, device: str) -> Iterator[None]:
    """Within the block: ``threads`` CPU threads and deterministic algorithms only (cuBLAS's
    fixed workspace on a GPU), without filling new tensors with NaN first (a check for reads
    of uninitialised memory that took a fifth of the training time); the previous settings
    after."""
    torch = load_torch()

    if device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    deterministic = torch.utils.deterministic
    previous = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        deterministic.fill_uninitialized_memory,
        torch.backends.cudnn.benchmark,
    )
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])
        deterministic.fill_uninitialized_memory = previous[2]
        torch.backends.cudnn.benchmark = previous[3]


RULES = {
    "channels": ("a list of channel counts", lambda v: isinstance(v, list | tuple)),
    "kernel_size": integer(1),
    "hidden": integer(1),
    "dropout": number(0, 1),
    "epochs": integer(1),
    "batch_size": integer(1),
    "learning_rate": number(0, low_in=False),
    "warmup": number(0, 1, low_in=False),
    "momentum": number(0, 1),
    "weight_decay": number(0),
    "shift": integer(0),
    "rotate": number(0, 180),
    "scale": number(0, 1),
    "label_smoothing": number(0, 1),
    "seed": integer(0),
    "threads": integer(1),
    "device": one_of("auto", "cpu", "cuda"),
}


class ConvNetClassifier(ClassifierMixin, BaseEstimator):
    """A small convolutional network for single-channel images (module docstring).

    ``fit`` takes uint8 (0-255) or float (0-1) images, N x rows x columns. After ``fit``:
    ``classes_``, ``image_shape_``, ``weights_`` (name -> NumPy array, the network's
    ``state_dict`` of the chosen epoch), ``best_epoch_`` (1-based), ``loss_curve_`` (the mean
    training loss of each epoch) and ``val_accuracy_`` (each epoch's, empty without a
    validation split).
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (32, 64, 64),
        kernel_size: int = 3,
        hidden: int = 128,
        dropout: float = 0.1,
        epochs: int = 6,
        batch_size: int = 256,
        learning_rate: float = 0.2,
        warmup: float = 0.2,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        shift: int = 2,
        rotate: float = 0.0,
        scale: float = 0.0,
        label_smoothing: float = 0.1,
        seed: int = 0,
        threads: int = 2,
        device: str = "auto",
    ) -> None:
        self.channels = channels
        self.kernel_size = kernel_size
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup = warmup
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.shift = shift
        self.rotate = rotate
        self.scale = scale
        self.label_smoothing = label_smoothing
        self.seed = seed
        self.threads = threads
        self.device = device

    def _images(self, x: np.ndarray, *, reset: bool) -> np.ndarray:
        """``x`` checked (N x rows x columns) and scaled to float32 0-1."""
        x = validate_data(self, x, reset=reset, allow_nd=True, dtype=None, ensure_2d=False)
        if x.ndim != 3:
            raise ValueError(f"expected images of shape N x rows x columns, got {x.shape}")
        if reset:
            self.image_shape_ = x.shape[1:]
        elif x.shape[1:] != self.image_shape_:
            raise ValueError(f"expected images of {self.image_shape_}, got {x.shape[1:]}")
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255)
        return x.astype(np.float32)

    def _network(self) -> torch.nn.Module:
        return build_network(
            self.image_shape_,
            len(self.classes_),
            tuple(self.channels),
            self.kernel_size,
            self.hidden,
            self.dropout,
        )

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        log: Callable[..., None] | None = None,
    ) -> ConvNetClassifier:
        """Train for ``epochs`` epochs. ``validation`` (images, labels), if given and not
        empty, picks the epoch whose weights are kept; ``log``, if given, is called after each
        epoch as ``log(epoch, loss=..., val_acc=...)`` (``val_acc`` only with a validation
        split) and during it as ``log.batch(done, total)`` if it has that method."""
        check_rules(self, RULES)
        torch = load_torch()

        images = self._images(x, reset=True)
        y = np.asarray(y)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        val_images = val_labels = None
        if validation is not None and len(validation[1]):
            val_images = self._images(validation[0], reset=False)
            val_labels = np.searchsorted(self.classes_, validation[1])
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.seed)
        steps_per_epoch = -(-len(images) // self.batch_size)
        with torch_settings(self.threads, device):
            torch.manual_seed(self.seed)
            network = self._network().to(device, memory_format=torch.channels_last)
            optimizer = torch.optim.SGD(
                network.parameters(),
                lr=self.learning_rate,
                momentum=self.momentum,
                nesterov=self.momentum > 0,
                weight_decay=self.weight_decay,
            )
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=self.learning_rate,
                total_steps=self.epochs * steps_per_epoch,
                pct_start=self.warmup,
            )
            targets = torch.from_numpy(labels.astype(np.int64))
            self.loss_curve_, self.val_accuracy_ = [], []
            best = -1.0
            for epoch in range(1, self.epochs + 1):
                network.train()
                order = rng.permutation(len(images))
                moves = rng.integers(-self.shift, self.shift + 1, size=(len(images), 2))
                if self.rotate or self.scale:
                    degrees = rng.uniform(-self.rotate, self.rotate, size=len(images))
                    scales = 1 + rng.uniform(-self.scale, self.scale, size=len(images))
                total_loss = 0.0
                for step in range(steps_per_epoch):
                    batch = order[step * self.batch_size : (step + 1) * self.batch_size]
                    inputs = as_input(shifted(images[batch], moves[batch]), device)
                    if self.rotate or self.scale:
                        inputs = turned(inputs, degrees[batch], scales[batch])
                    loss = torch.nn.functional.cross_entropy(
                        network(inputs),
                        targets[batch].to(device),
                        label_smoothing=self.label_smoothing,
                    )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    total_loss += float(loss.detach()) * len(batch)
                    if log is not None and hasattr(log, "batch"):
                        log.batch(step + 1, steps_per_epoch)
                self.loss_curve_.append(total_loss / len(images))
                metrics = {"loss": self.loss_curve_[-1]}
                if val_images is None:
                    keep = epoch == self.epochs
                else:
                    accuracy = float(
                        np.mean(self._predict_index(network, val_images, device) == val_labels)
                    )
                    self.val_accuracy_.append(accuracy)
                    metrics["val_acc"] = accuracy
                    keep = accuracy >= best
                    best = max(best, accuracy)
                if keep:
                    self.best_epoch_ = epoch
                    self.weights_ = {
                        name: tensor.detach().cpu().numpy().copy()
                        for name, tensor in network.state_dict().items()
                    }
                if log is not None:
                    log(epoch, **metrics)
        self.n_iter_ = self.epochs
        return self

    @staticmethod
    def _predict_index(network: torch.nn.Module, images: np.ndarray, device: str) -> np.ndarray:
        """The index of the largest output for each image, in eval mode."""
        return np.argmax(ConvNetClassifier._outputs(network, images, device), axis=1)

    @staticmethod
    def _outputs(network: torch.nn.Module, images: np.ndarray, device: str) -> np.ndarray:
        torch = load_torch()

        network.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, len(images), PREDICT_BATCH):
                batch = as_input(images[start : start + PREDICT_BATCH], device)
                outputs.append(network(batch).float().cpu().numpy())
        if not outputs:
            return np.empty((0, 0), dtype=np.float32)
        return np.concatenate(outputs)

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """The network's outputs (logits) for images ``x``, from ``weights_``."""
        torch = load_torch()

        check_is_fitted(self)
        images = self._images(x, reset=False)
        device = resolve_device(self.device)
        with torch_settings(self.threads, device):
            network = self._network()
            network.load_state_dict(
                {name: torch.from_numpy(array) for name, array in self.weights_.items()}
            )
            network = network.to(device, memory_format=torch.channels_last)
            return self._outputs(network, images, device)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class of the largest output for each image."""
        return self.classes_[np.argmax(self._scores(x), axis=1)]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The softmax of the outputs: one row per image, one column per class."""
        scores = self._scores(x).astype(np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


SPEC = EstimatorSpec(
    ConvNetClassifier,
    learns_in_steps=True,
    check_params=lambda estimator, key: check_rules(estimator, RULES, key),
)
