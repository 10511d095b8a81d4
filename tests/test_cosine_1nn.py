"""The cosine 1-NN predicts what scikit-learn's cosine 1-NN predicts, in bounded memory."""

import tracemalloc

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from mnist_pipeline.estimators.cosine_1nn import CosineNearestNeighbor, unit_rows


@pytest.fixture(scope="module")
def pixels(mnist_slice) -> dict[str, np.ndarray]:
    """Scaled pixels (the normalize stage's default) of the real-MNIST slice."""
    return {
        "x_train": mnist_slice["train_images"].reshape(1200, -1).astype(np.float32) / 255,
        "y_train": mnist_slice["train_labels"],
        "x_test": mnist_slice["test_images"].reshape(300, -1).astype(np.float32) / 255,
    }


@pytest.mark.parametrize(
    ("components", "block_rows"), [(None, 1), (None, 7), (None, 512), (20, 64)]
)
def test_predicts_what_sklearn_cosine_knn_predicts_on_pixels_and_pca_features(
    pixels, components, block_rows
):
    x_train, x_test = pixels["x_train"], pixels["x_test"]
    if components:
        pca = PCA(n_components=components, random_state=0).fit(x_train)
        x_train, x_test = (pca.transform(x).astype(np.float32) for x in (x_train, x_test))
    ours = CosineNearestNeighbor(block_rows=block_rows).fit(x_train, pixels["y_train"])
    reference = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
    expected = reference.fit(x_train, pixels["y_train"]).predict(x_test)
    np.testing.assert_array_equal(ours.predict(x_test), expected)


@pytest.mark.parametrize("block_rows", [7, 50, 512])
def test_nearest_row_and_class_scores_are_the_best_cosine_similarities_whatever_the_block(
    pixels, block_rows
):
    ours = CosineNearestNeighbor(block_rows=block_rows).fit(pixels["x_train"], pixels["y_train"])
    scores = ours.decision_function(pixels["x_test"])
    similarity = unit_rows(pixels["x_test"]) @ unit_rows(pixels["x_train"]).T
    np.testing.assert_array_equal(ours.nearest(pixels["x_test"]), similarity.argmax(axis=1))
    best_of_3 = similarity[:, pixels["y_train"] == 3].max(axis=1)
    np.testing.assert_allclose(scores[:, 3], best_of_3, rtol=1e-6)
    predicted = ours.predict(pixels["x_test"])
    np.testing.assert_array_equal(ours.classes_[scores.argmax(axis=1)], predicted)


def test_labels_keep_their_values_and_dtype():
    x = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    y = np.array([7, 3, 9], dtype=np.uint8)
    model = CosineNearestNeighbor().fit(x, y)
    predicted = model.predict(np.array([[0, 2], [5, 0.1], [2, 2.1]], dtype=np.float32))
    np.testing.assert_array_equal(predicted, [3, 7, 9])
    assert predicted.dtype == np.uint8
    np.testing.assert_array_equal(model.classes_, [3, 7, 9])


def test_ties_go_to_the_first_training_row_and_zero_rows_are_harmless():
    x = np.array([[1, 0], [2, 0], [0, 1]], dtype=np.float32)  # rows 0 and 1: same direction
    model = CosineNearestNeighbor().fit(x, np.array([4, 5, 6]))
    np.testing.assert_array_equal(model.nearest(np.array([[3, 0]], np.float32)), [0])
    np.testing.assert_array_equal(model.predict(np.zeros((1, 2), np.float32)), [4])


def test_memory_is_bounded_by_the_block_not_the_whole_similarity_matrix():
    rng = np.random.default_rng(0)
    x_train = rng.random((1000, 8), dtype=np.float32)
    x_test = rng.random((4000, 8), dtype=np.float32)
    model = CosineNearestNeighbor(block_rows=16).fit(x_train, rng.integers(0, 10, 1000))
    whole_matrix = 4000 * 1000 * 4  # 16 MB of float32
    tracemalloc.start()
    model.predict(x_test)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < whole_matrix / 20  # block buffer 64 kB, the unit test rows 128 kB


@parametrize_with_checks([CosineNearestNeighbor(block_rows=7)])
def test_passes_scikit_learns_estimator_checks(estimator, check):
    check(estimator)
