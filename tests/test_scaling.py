from __future__ import annotations

import numpy as np
from bench.scaling import (
    MNIST,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    Scaling,
    SizeRun,
    from_json,
    growth_exponents,
    markdown_table,
    shifted,
    to_json,
    training_set,
)

from mnist_pipeline.plumbing.idx import read_idx


def run(n: int, walls: dict[str, float], total: float) -> SizeRun:
    return SizeRun(
        n=n,
        wall=total,
        stages={name: {"wall": wall, "peak_rss_mb": 100.0} for name, wall in walls.items()},
        load_before=[0.0],
        load_after=[0.0],
    )


def test_shift_moves_pixels_and_fills_with_zeros():
    image = np.arange(1, 10, dtype=np.uint8).reshape(1, 3, 3)
    np.testing.assert_array_equal(shifted(image, 1, -1)[0], [[0, 0, 0], [2, 3, 0], [5, 6, 0]])


def test_fifty_thousand_training_images_are_mnists_own_file():
    images, labels = read_idx(MNIST / TRAIN_IMAGES), read_idx(MNIST / TRAIN_LABELS)
    resized, resized_labels = training_set(images, labels, 50_000)
    np.testing.assert_array_equal(resized, images)
    np.testing.assert_array_equal(resized_labels, labels)


def test_larger_sets_append_shifted_copies_before_the_validation_images():
    images, labels = read_idx(MNIST / TRAIN_IMAGES), read_idx(MNIST / TRAIN_LABELS)
    resized, resized_labels = training_set(images, labels, 120_000)
    assert resized.shape == (130_000, 28, 28)
    np.testing.assert_array_equal(resized[50_000:100_000], shifted(images[:50_000], 0, 1))
    np.testing.assert_array_equal(resized_labels[100_000:120_000], labels[:20_000])
    np.testing.assert_array_equal(resized[-10_000:], images[-10_000:])


def test_smaller_sets_take_the_first_training_images():
    images, labels = read_idx(MNIST / TRAIN_IMAGES), read_idx(MNIST / TRAIN_LABELS)
    resized, _ = training_set(images, labels, 6_250)
    np.testing.assert_array_equal(resized[:6_250], images[:6_250])
    assert len(resized) == 16_250


def test_growth_exponent_is_the_log_log_slope():
    runs = [run(n, {"linear": n / 1000, "quadratic": (n / 1000) ** 2}, 1.0) for n in (100, 400)]
    assert growth_exponents(runs) == {"linear": 1.0, "quadratic": 2.0}


def test_table_has_a_row_per_stage_slowest_first_and_the_total():
    runs = [run(n, {"a": n / 1000, "b": (n / 1000) ** 2}, n / 10) for n in (1000, 4000)]
    table = markdown_table(Scaling.of(runs))
    assert table.splitlines() == [
        "| stage | 1,000 s | 4,000 s | 4,000 RSS MB | exponent | 1,000->4,000 |",
        "|---|---:|---:|---:|---:|---:|",
        "| b | 1.0 | 16.0 | 100 | 2.00 | 2.00 |",
        "| a | 1.0 | 4.0 | 100 | 1.00 | 1.00 |",
        "| cold `dvc repro` | **100.0** | **400.0** | | | |",
    ]


def test_tail_exponent_uses_the_two_largest_sizes_only():
    walls = {100: 1.0, 200: 1.0, 400: 4.0}
    scaling = Scaling.of([run(n, {"a": wall}, 1.0) for n, wall in walls.items()])
    assert scaling.tail_exponents == {"a": 2.0}
    assert scaling.exponents["a"] < 2.0


def test_results_read_back_as_written():
    runs = [run(n, {"a": n / 1000}, 1.0) for n in (1000, 2000)]
    scaling = Scaling.of(runs)
    assert from_json(to_json(scaling)) == scaling
