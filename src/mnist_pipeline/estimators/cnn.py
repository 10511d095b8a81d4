"""``cnn``: a small convolutional network in PyTorch as a scikit-learn classifier, deterministic
from ``seed`` on ``threads`` threads; its weights are NumPy arrays (it pickles without PyTorch)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mnist_pipeline.estimators import EstimatorSpec, check_values

if TYPE_CHECKING:
    import torch

PREDICT_BATCH = 256  # images per forward pass: same results; 1,000 outran the CPU caches


def _torch() -> Any:
    """PyTorch, its OpenMP threads sleeping while they wait: spinning, two threads on two busy
    cores took 3.5 times the CPU time (same results). Imported only when a network is built."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    return torch


def shifted(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each image moved by its ``(rows, columns)`` of ``shifts`` (down, right), zeros coming in."""
    n, rows, columns = images.shape
    reach = int(np.abs(shifts).max(initial=0))
    padded = np.pad(images, ((0, 0), (reach, reach), (reach, reach)))
    r = reach - shifts[:, 0, None] + np.arange(rows)
    c = reach - shifts[:, 1, None] + np.arange(columns)
    return padded[np.arange(n)[:, None, None], r[:, :, None], c[:, None, :]]


def turned(inputs: torch.Tensor, degrees: np.ndarray, scales: np.ndarray) -> torch.Tensor:
    """Each image of ``inputs`` (N x 1 x rows x columns) turned by its ``degrees`` (anticlockwise)
    and resized by its ``scales`` about its centre, bilinear, zeros filling in."""
    torch = _torch()
    radians = np.deg2rad(degrees)
    cos, sin = np.cos(radians) / scales, np.sin(radians) / scales
    zero = np.zeros_like(cos)
    theta = np.stack([np.stack([cos, -sin, zero], 1), np.stack([sin, cos, zero], 1)], 1)
    theta = torch.from_numpy(theta.astype(np.float32)).to(inputs.device)
    grid = torch.nn.functional.affine_grid(theta, list(inputs.shape), align_corners=False)
    return torch.nn.functional.grid_sample(inputs, grid, align_corners=False)


def _as_input(images: np.ndarray, device: str) -> torch.Tensor:
    """N x rows x columns floats as N x 1 x rows x columns on ``device``, channels last
    (oneDNN's convolutions then reorder nothing: 20% faster)."""
    tensor = _torch().from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
    return tensor.to(device, memory_format=_torch().channels_last)


def _outputs(network: torch.nn.Module, images: np.ndarray, device: str) -> np.ndarray:
    """The network's outputs for ``images`` in eval mode, in batches of ``PREDICT_BATCH``."""
    network.eval()
    with _torch().no_grad():
        outputs = [
            network(_as_input(images[start : start + PREDICT_BATCH], device)).float().cpu().numpy()
            for start in range(0, len(images), PREDICT_BATCH)
        ]
    return np.concatenate(outputs) if outputs else np.empty((0, 0), dtype=np.float32)


@contextlib.contextmanager
def _settings(threads: int, device: str) -> Iterator[None]:
    """Within the block: ``threads`` threads, deterministic algorithms only, no NaN-filling of new
    tensors (it took a fifth of the training time); the previous settings after."""
    torch = _torch()
    if device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's determinism
    deterministic = torch.utils.deterministic
    previous = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    previous += deterministic.fill_uninitialized_memory, torch.backends.cudnn.benchmark

    def apply(threads: int, algorithms: bool, fill: bool, benchmark: bool) -> None:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(algorithms)
        deterministic.fill_uninitialized_memory = fill
        torch.backends.cudnn.benchmark = benchmark

    apply(threads, True, False, False)
    try:
        yield
    finally:
        apply(*previous)


@dataclasses.dataclass(eq=False, repr=False)  # sklearn's repr, identity equality
class ConvNetClassifier(ClassifierMixin, BaseEstimator):
    """A small convolutional network for uint8 (0-255) or float (0-1) images, N x rows x columns;
    fitted: ``weights_`` (the chosen epoch's ``state_dict`` as NumPy arrays), ``best_epoch_``,
    ``loss_curve_`` (mean training loss per epoch), ``val_accuracy_`` (per epoch, or empty)."""

    channels: Annotated[tuple[PositiveInt, ...], Field(strict=False)] = (32, 64, 64)  # YAML: list
    kernel_size: PositiveInt = 3
    hidden: PositiveInt = 128
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    epochs: PositiveInt = 6
    batch_size: PositiveInt = 256
    learning_rate: PositiveFloat = 0.2
    warmup: Annotated[float, Field(gt=0, lt=1)] = 0.2
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    weight_decay: NonNegativeFloat = 5e-4
    shift: NonNegativeInt = 2
    rotate: Annotated[float, Field(ge=0, lt=180)] = 0.0
    scale: Annotated[float, Field(ge=0, lt=1)] = 0.0
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.1
    seed: NonNegativeInt = 0
    threads: PositiveInt = 2
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def _images(self, x: np.ndarray, *, reset: bool) -> np.ndarray:
        """``x`` checked (N x rows x columns) and scaled to float32 0-1."""
        x = validate_data(self, x, reset=reset, allow_nd=True, dtype=None, ensure_2d=False)
        if x.ndim != 3:
            raise ValueError(f"expected images of shape N x rows x columns, got {x.shape}")
        if reset:
            self.image_shape_ = x.shape[1:]
        elif x.shape[1:] != self.image_shape_:
            raise ValueError(f"expected images of {self.image_shape_}, got {x.shape[1:]}")
        return x.astype(np.float32) / np.float32(255 if x.dtype == np.uint8 else 1)

    def _network(self, device: str) -> torch.nn.Module:
        """The network: each block conv, 2x2 max-pool (first: a quarter of the normalising work),
        batch norm, ReLU; then the hidden layer with dropout; ``device``, channels last."""
        nn = _torch().nn
        layers: list[nn.Module] = []
        previous, (rows, columns), k = 1, self.image_shape_, self.kernel_size
        for width in self.channels:
            conv = nn.Conv2d(previous, width, k, padding=k // 2, bias=False)
            layers += [conv, nn.MaxPool2d(2), nn.BatchNorm2d(width), nn.ReLU()]
            previous, rows, columns = width, rows // 2, columns // 2
        layers += [nn.Flatten(), nn.Linear(previous * rows * columns, self.hidden), nn.ReLU()]
        layers += [nn.Dropout(self.dropout), nn.Linear(self.hidden, len(self.classes_))]
        return nn.Sequential(*layers).to(device, memory_format=_torch().channels_last)

    def _device(self) -> str:
        """``auto``: ``cuda`` when PyTorch sees a GPU, else ``cpu``."""
        auto = "cuda" if _torch().cuda.is_available() else "cpu"
        return auto if self.device == "auto" else self.device

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        log: Callable[..., None] | None = None,
    ) -> ConvNetClassifier:
        """Train; ``validation`` (images, labels), if not empty, picks the epoch kept. ``log``
        gets ``log(epoch, loss=..., val_acc=...)`` per epoch, ``log.batch(done, total)`` if any."""
        check_values(self)
        torch = _torch()
        images = self._images(x, reset=True)
        y = np.asarray(y)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        val_images = val_labels = None
        if validation is not None and len(validation[1]):
            val_images = self._images(validation[0], reset=False)
            val_labels = np.searchsorted(self.classes_, validation[1])
        device, n = self._device(), len(images)
        rng = np.random.default_rng(self.seed)
        steps_per_epoch = -(-n // self.batch_size)
        total_steps, augment = self.epochs * steps_per_epoch, self.rotate or self.scale
        with _settings(self.threads, device):
            torch.manual_seed(self.seed)
            network = self._network(device)
            optimizer = torch.optim.SGD(
                network.parameters(),
                lr=self.learning_rate,
                momentum=self.momentum,
                nesterov=self.momentum > 0,
                weight_decay=self.weight_decay,
            )
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.learning_rate, total_steps=total_steps, pct_start=self.warmup
            )
            criterion = torch.nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
            targets = torch.from_numpy(labels.astype(np.int64))
            self.loss_curve_, self.val_accuracy_ = [], []
            for epoch in range(1, self.epochs + 1):
                network.train()
                order = rng.permutation(n)
                moves = rng.integers(-self.shift, self.shift + 1, size=(n, 2))
                if augment:
                    degrees = rng.uniform(-self.rotate, self.rotate, size=n)
                    scales = 1 + rng.uniform(-self.scale, self.scale, size=n)
                total_loss = 0.0
                for step in range(steps_per_epoch):
                    batch = order[step * self.batch_size : (step + 1) * self.batch_size]
                    inputs = _as_input(shifted(images[batch], moves[batch]), device)
                    if augment:
                        inputs = turned(inputs, degrees[batch], scales[batch])
                    loss = criterion(network(inputs), targets[batch].to(device))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    total_loss += float(loss.detach()) * len(batch)
                    if hasattr(log, "batch"):
                        log.batch(step + 1, steps_per_epoch)
                self.loss_curve_.append(total_loss / n)
                metrics = {"loss": self.loss_curve_[-1]}
                keep = epoch == self.epochs  # without val: the last epoch
                if val_images is not None:  # with val: the best, the later one on a tie
                    predicted = _outputs(network, val_images, device).argmax(axis=1)
                    self.val_accuracy_.append(float(np.mean(predicted == val_labels)))
                    metrics["val_acc"] = self.val_accuracy_[-1]
                    keep = self.val_accuracy_[-1] == max(self.val_accuracy_)
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

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """The network's outputs (logits) for images ``x``, from ``weights_``."""
        check_is_fitted(self)
        images = self._images(x, reset=False)
        device = self._device()
        with _settings(self.threads, device):
            network = self._network(device)
            network.load_state_dict({k: _torch().from_numpy(a) for k, a in self.weights_.items()})
            return _outputs(network, images, device)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class of the largest output for each image."""
        return self.classes_[np.argmax(self._scores(x), axis=1)]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The softmax of the outputs: one row per image, one column per class."""
        return softmax(self._scores(x).astype(np.float64), axis=1)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


SPEC = EstimatorSpec(ConvNetClassifier, learns_in_steps=True)
