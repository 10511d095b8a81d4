"""Pictures: figures, summary and the offline `dvc plots show` page (plots_template).

Pure functions against scikit-learn, PNG bytes that do not change, each script run as DVC
runs it on a small slice of MNIST, and `dvc plots show` / `dvc plots diff` rendered in a copy
of the repository into a page that loads nothing from the network.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, copy_repo, run_script, run_tool

from mnist_pipeline.drawing import png_bytes
from mnist_pipeline.evaluation import positive_scores
from mnist_pipeline.files import save_arrays
from mnist_pipeline.model_figures import (
    FiguresError,
    Threshold,
    captions,
    confusion_figure,
    gallery_figure,
    misclassified,
    operating_point,
    pr_curve_figure,
)
from mnist_pipeline.params import load_params
from mnist_pipeline.plots_page import PACKAGE, library_sources, page
from mnist_pipeline.projection import explained_variance_ratio, variance_csv
from mnist_pipeline.scoring import confusion, precision_recall, split_scores
from mnist_pipeline.summary_figures import (
    accuracy_figure,
    annotated_indices,
    components_for,
    digits_figure,
    loss_figure,
    read_history,
    samples_per_digit,
    variance_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG file."""
    assert data[:8] == PNG_SIGNATURE
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def png_size(data: bytes) -> tuple[int, int]:
    kind, header = png_chunks(data)[0]
    assert kind == b"IHDR"
    return struct.unpack(">II", header[:8])


# --- pure functions -------------------------------------------------------------------------


def test_misclassified_are_the_first_wrong_items_in_test_order():
    y_true = np.array([1, 2, 3, 4, 5, 6])
    y_pred = np.array([1, 0, 3, 0, 0, 6])
    assert misclassified(y_true, y_pred, 2).tolist() == [1, 3]
    assert misclassified(y_true, y_pred, 10).tolist() == [1, 3, 4]
    assert misclassified(y_true, y_pred, 0).tolist() == []
    assert misclassified(y_true, y_true, 5).tolist() == []
    with pytest.raises(FiguresError, match="6 labels but 5 predictions"):
        misclassified(y_true, y_pred[:5], 3)


def test_captions_read_actual_then_predicted_class():
    assert captions(np.array([4, 7]), np.array([9, 1]), [str(d) for d in range(10)]) == [
        "4 -> 9",
        "7 -> 1",
    ]
    # a detector of 5: a false positive, then a missed 5
    assert captions(np.array([3, 5]), np.array([1, 0]), ["not_5", "5"]) == ["3 -> 5", "5 -> not 5"]


def test_components_for_a_level_is_the_first_reaching_it():
    cumulative = np.array([0.5, 0.9, 0.99, 1.0])
    assert components_for(cumulative, 0.9) == 2
    assert components_for(cumulative, 0.91) == 3
    assert components_for(cumulative, 0.5) == 1


def test_samples_per_digit_takes_the_first_of_each_digit():
    labels = np.array([1, 0, 1, 2, 0, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9])
    picked = samples_per_digit(labels, 2)
    assert picked.shape == (10, 2)
    assert picked[0].tolist() == [1, 4] and picked[1].tolist() == [0, 2]
    assert (labels[picked] == np.arange(10)[:, None]).all()
    with pytest.raises(ValueError, match="only 2 training images of digit 0"):
        samples_per_digit(labels, 3)


def test_read_history(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n1,0.5\n2,0.25\n")
    assert read_history(path) == ([1, 2], [0.5, 0.25])
    path.write_text("epoch,loss\n")
    assert read_history(path) == ([], [])


def test_evaluate_records_the_decision_function_above_zero_or_the_probability_above_half():
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import SGDClassifier

    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    y = (x[:, 0] > 0).astype(int)
    _, kind, threshold = positive_scores(SGDClassifier(random_state=0).fit(x, y), x)
    assert (kind, threshold) == ("decision_function", 0.0)
    _, kind, threshold = positive_scores(DummyClassifier(strategy="most_frequent").fit(x, y), x)
    assert (kind, threshold) == ("predict_proba", 0.5)
    assert Threshold(0.0, "decision_function").rule == "decision_function > 0"
    assert Threshold(0.5, "predict_proba").rule == "predict_proba > 0.5"


def test_predict_follows_those_thresholds_in_scikit_learn():
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import SGDClassifier

    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 5))
    y = (x[:, 0] + 0.3 * rng.normal(size=300) > 0.4).astype(int)
    sgd = SGDClassifier(random_state=0).fit(x, y)
    np.testing.assert_array_equal(sgd.predict(x), (sgd.decision_function(x) > 0).astype(int))
    dummy = DummyClassifier(strategy="most_frequent").fit(x, y)
    np.testing.assert_array_equal(
        dummy.predict(x), (dummy.predict_proba(x)[:, 1] > 0.5).astype(int)
    )


def test_threshold_point_is_the_precision_and_recall_the_scores_report():
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.1).astype(np.uint8)
    score = 2.5 * y - 1.5 + rng.normal(size=2000)
    y_pred = (score > 0).astype(np.uint8)
    matrix = confusion(y, y_pred, 2)
    recall, precision = operating_point(matrix)
    reported = split_scores(matrix, "detector", "test", 0.5)
    assert (round(recall, 4), round(precision, 4)) == (reported["r"], reported["p"])

    curve_precision, curve_recall, _, _ = precision_recall(y, score)
    figure = pr_curve_figure(
        curve_precision,
        curve_recall,
        (recall, precision),
        Threshold(0.0, "decision_function"),
        float(y.mean()),
        "t",
    )
    marked = [line for line in figure.axes[0].lines if line.get_marker() == "o"]
    assert len(marked) == 1
    assert (marked[0].get_xdata()[0], marked[0].get_ydata()[0]) == (recall, precision)
    assert marked[0].get_label() == "default threshold: decision_function > 0"


def test_operating_point_without_positive_predictions_has_no_precision():
    y = np.array([0, 1, 0, 1])
    assert operating_point(confusion(y, np.zeros(4), 2)) == (0.0, None)
    assert operating_point(confusion(y, np.array([0, 1, 1, 1]), 2)) == (
        1.0,
        pytest.approx(2 / 3),
    )


# --- PNG bytes ------------------------------------------------------------------------------


def _figures(mnist_slice: dict[str, np.ndarray]) -> dict:
    rng = np.random.default_rng(4)
    matrix = rng.integers(0, 50, size=(10, 10)) + np.diag(np.full(10, 900))
    images = mnist_slice["test_images"][:13]
    y = (rng.random(300) < 0.1).astype(int)
    ratio = np.sort(rng.random(784))[::-1]
    ratio /= ratio.sum()
    return {
        "confusion": lambda: confusion_figure(matrix, [str(d) for d in range(10)], "title"),
        "gallery": lambda: gallery_figure(images, [f"{d} -> 0" for d in range(13)], "title"),
        "empty gallery": lambda: gallery_figure(images[:0], [], "title"),
        "precision_recall": lambda: pr_curve_figure(
            np.array([0.1, 0.5, 1.0]),
            np.array([1.0, 0.5, 0.0]),
            (0.5, 0.5),
            Threshold(0.5, "predict_proba"),
            float(y.mean()),
            "title",
        ),
        "digits": lambda: digits_figure(
            mnist_slice["train_images"][:20].reshape(10, 2, 28, 28), "title"
        ),
        "variance": lambda: variance_figure(ratio, 60),
        "accuracy": lambda: accuracy_figure(
            ["a", "b_5"], [0.97, 0.9], [False, True], [0.971, None]
        ),
        "loss": lambda: loss_figure({"mlp": ([1, 2, 3], [0.4, 0.2, 0.1])}),
        "no loss": lambda: loss_figure({}),
        "two losses": lambda: loss_figure(
            {
                "mlp": ([1, 2, 3], [0.4, 0.2, 0.1]),
                "gd_4": (list(range(201)), list(0.69 / np.sqrt(1 + np.arange(201.0)))),
            }
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "confusion",
        "gallery",
        "empty gallery",
        "precision_recall",
        "digits",
        "variance",
        "accuracy",
        "loss",
        "no loss",
        "two losses",
    ],
)
def test_png_is_the_same_bytes_every_time_whatever_the_rc_params(name, mnist_slice):
    import matplotlib

    draw = _figures(mnist_slice)[name]
    first = png_bytes(draw(), 100)
    assert png_bytes(draw(), 100) == first
    with matplotlib.rc_context(
        {
            "font.size": 20,
            "lines.linewidth": 6,
            "axes.grid": True,
            "image.cmap": "jet",
            "savefig.dpi": 300,
        }
    ):
        assert png_bytes(draw(), 100) == first
    kinds = {kind for kind, _ in png_chunks(first)}
    assert not kinds & {b"tEXt", b"iTXt", b"zTXt", b"tIME"}, "metadata would change the bytes"


def test_long_loss_curve_has_only_its_first_three_and_last_losses_written():
    assert annotated_indices(201) == [0, 1, 2, 200]
    assert annotated_indices(5) == [0, 1, 2, 3, 4]


def test_loss_figure_has_one_panel_per_model(mnist_slice):
    figure = _figures(mnist_slice)["two losses"]()
    assert [ax.get_title() for ax in figure.axes] == ["mlp", "gd_4"]
    assert png_size(png_bytes(figure, 100)) == (720, 360)


def test_png_size_is_fixed_by_inches_and_dpi(mnist_slice):
    figures = _figures(mnist_slice)
    assert png_size(png_bytes(figures["confusion"](), 100)) == (560, 480)
    assert png_size(png_bytes(figures["confusion"](), 50)) == (280, 240)
    assert png_size(png_bytes(figures["precision_recall"](), 100)) == (560, 460)


# --- the scripts, as DVC runs them ----------------------------------------------------------


@pytest.mark.parametrize("script", ["figures", "summary", "plots_template"])
def test_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: {script}")
    assert "--out" in result.stdout


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, mnist_slice) -> Path:
    """A folder shaped like the repository after `evaluate` on 300 test digits: knn with a
    wrong answer every 7th digit, sgd_5 scored by a noisy decision function."""
    root = tmp_path_factory.mktemp("evaluated")
    images, labels = mnist_slice["test_images"], mnist_slice["test_labels"]
    save_arrays(root / "stages/decode/test.npz", {"images": images, "labels": labels})
    knn_pred = labels.copy()
    knn_pred[::7] = (knn_pred[::7] + 1) % 10
    save_arrays(
        root / "stages/evaluate/knn/predictions.npz",
        {"val_pred": knn_pred[:10], "test_pred": knn_pred},
    )
    rng = np.random.default_rng(5)
    score = (2.0 * (labels == 5) - 1.2 + rng.normal(size=len(labels))).astype(np.float32)
    curve_precision, curve_recall, _, ap = precision_recall(labels == 5, score)
    save_arrays(
        root / "stages/evaluate/sgd_5/predictions.npz",
        {
            "val_pred": np.zeros(10, np.uint8),
            "val_score": score[:10],
            "test_pred": (score > 0).astype(np.uint8),
            "test_score": score,
            "score_kind": np.array("decision_function"),
            "threshold": np.array(0.0),
            "curve_precision": curve_precision,
            "curve_recall": curve_recall,
            "test_ap": np.array(ap),
        },
    )
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def run_figures(root: Path, out: Path | str, evaluations: Path | str = "stages/evaluate"):
    return run_script(
        "figures",
        "--params",
        "params.yaml",
        "--evaluations",
        evaluations,
        "--images",
        "stages/decode/test.npz",
        "--out",
        out,
        "--model",
        "knn",
        "--model",
        "sgd_5",
        cwd=root,
    )


@pytest.fixture(scope="module")
def drawn(evaluated) -> subprocess.CompletedProcess:
    """The figures stage's run on the knn and sgd_5 evaluations, into plots/figures."""
    return run_figures(evaluated, "plots/figures")


def test_figures_stage_draws_one_folder_of_pictures_per_model(evaluated, drawn):
    assert drawn.returncode == 0, drawn.stderr
    out = evaluated / "plots/figures"
    assert {p.name: sorted(q.name for q in p.iterdir()) for p in out.iterdir()} == {
        "knn": ["confusion.png", "misclassified.png"],
        "sgd_5": ["confusion.png", "misclassified.png", "precision_recall.png"],
    }


def test_figures_stage_draws_the_same_bytes_again(evaluated, drawn):
    again = run_figures(evaluated, "again")
    assert again.returncode == 0, again.stderr
    for png in (evaluated / "plots/figures").rglob("*.png"):
        data = png.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        assert data == (evaluated / "again" / png.parent.name / png.name).read_bytes(), png


def test_figures_stage_logs_how_many_digits_each_model_got_wrong(drawn):
    assert "knn: 43 of 300 test digits misclassified, 40 shown" in drawn.stderr  # every 7th


def test_figures_stage_refuses_predictions_of_another_split(evaluated, tmp_path):
    shutil.copytree(evaluated / "stages/evaluate", tmp_path / "evaluate")
    short = tmp_path / "evaluate/knn/predictions.npz"
    save_arrays(short, {"test_pred": np.zeros(10, np.uint8)})
    result = run_figures(evaluated, tmp_path / "out", tmp_path / "evaluate")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"figures: error: {short} holds 10 predictions, but the test split has 300 labels: "
        "they should be the same split"
    )
    assert not (tmp_path / "out").exists()


def test_summary_stage_draws_the_run_pictures(tmp_path, mnist_slice, repo_params):
    images, labels = mnist_slice["train_images"], mnist_slice["train_labels"]
    save_arrays(tmp_path / "decode/train.npz", {"images": images, "labels": labels})
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    (tmp_path / "variance.csv").write_text(variance_csv(explained_variance_ratio(x)))
    metrics = tmp_path / "metrics"
    for i, name in enumerate(repo_params["models"]):
        (metrics / name / "scores").mkdir(parents=True)
        (metrics / name / "scores" / "test.json").write_text(json.dumps({"acc": 0.9 + i / 100}))
        (metrics / name / "history.csv").write_text(
            "epoch,loss\n1,0.4\n2,0.2\n" if name == "mlp" else "epoch,loss\n"
        )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(repo_params, sort_keys=False))

    result = run_script(
        "summary",
        "--params",
        "params.yaml",
        "--images",
        "decode/train.npz",
        "--variance",
        "variance.csv",
        "--metrics",
        "metrics",
        "--out",
        "plots/summary",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "plots/summary"
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy.png",
        "digits.png",
        "loss.png",
        "pca_variance.png",
    ]
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in out.iterdir())
    assert f"{len(repo_params['models'])} models compared" in result.stderr

    (metrics / "svm" / "scores" / "test.json").unlink()
    missing = run_script(
        "summary",
        "--params",
        "params.yaml",
        "--images",
        "decode/train.npz",
        "--variance",
        "variance.csv",
        "--metrics",
        "metrics",
        "--out",
        "plots/other",
        cwd=tmp_path,
    )
    assert missing.returncode == 1
    assert (
        "summary: error: metrics/svm/scores/test.json: no metrics for model svm" in missing.stderr
    )


def test_plots_template_inlines_the_three_libraries(tmp_path):
    result = run_script("plots_template", "--out", tmp_path / "page.html")
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "page.html").read_text()
    assert "{plot_divs}" in html and "{scripts}" not in html  # DVC's CDN tags never go in
    version, sources = library_sources()
    assert html == page(version, sources)
    assert [
        lib
        for lib in ("vega", "vega-lite", "vega-embed")
        if f'<script data-library="{lib}">' in html
    ] == ["vega", "vega-lite", "vega-embed"]
    assert f"{PACKAGE} {version}" in html


# --- `dvc plots show` and `dvc plots diff`, offline -----------------------------------------


class PageScan(HTMLParser):
    """Every id, every src/href value, every script (its attributes and its text)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.styles: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        for name in ("src", "href"):
            if name in attributes:
                self.links.append((tag, name, attributes[name] or ""))
        if tag == "script":
            self.scripts.append((attributes, ""))
        self._open = tag if tag in ("script", "style") else None

    def handle_data(self, data):
        if self._open == "script":
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)
        elif self._open == "style":
            self.styles.append(data)

    def handle_endtag(self, tag):
        self._open = None


URL = re.compile(r"(?:https?:)?//[\w.-]+", re.IGNORECASE)
SCHEMA = re.compile(r'"\$schema":\s*"https://vega\.github\.io/schema/[^"]+"')


def declared_plots(repo: Path) -> list[str]:
    """Every plot dvc.yaml declares: top-level plot ids and each stage's plot outputs, with
    foreach expanded over params.yaml and a folder standing for the files in it."""
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    params = yaml.safe_load((repo / "params.yaml").read_text())
    names = [next(iter(p)) if isinstance(p, dict) else p for p in dvc_yaml.get("plots", [])]
    for stage in dvc_yaml["stages"].values():
        if "foreach" in stage:
            collection = params[re.fullmatch(r"\$\{(\w+)\}", stage["foreach"]).group(1)]
            expanded = [(key, item, stage["do"]) for key, item in collection.items()]
        else:
            expanded = [(None, None, stage)]
        for key, item, body in expanded:
            for entry in body.get("plots", []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                path = re.sub(r"\$\{key\}", str(key), path)
                path = re.sub(r"\$\{item\.(\w+)\}", lambda m, i=item: str(i[m.group(1)]), path)
                if (repo / path).is_dir():
                    names += sorted(
                        str(p.relative_to(repo)) for p in (repo / path).rglob("*") if p.is_file()
                    )
                else:
                    names.append(path)
    return names


def check_offline(html_path: Path, expected: list[str]) -> PageScan:
    from dvc_render.base import Renderer

    html = html_path.read_text(encoding="utf-8")
    scan = PageScan()
    scan.feed(html)
    external = [link for link in scan.links if URL.match(link[2].strip())]
    assert external == [], f"the page loads from the network: {external}"
    assert all("src" not in attributes for attributes, _ in scan.scripts), "a script is loaded"
    libraries = [a["data-library"] for a, _ in scan.scripts if "data-library" in a]
    assert libraries == ["vega", "vega-lite", "vega-embed"]
    for attributes, text in scan.scripts:
        if "data-library" not in attributes:  # DVC's plot specs: only the schema's name
            assert not URL.search(SCHEMA.sub("", text)), text[:300]
    assert not any(URL.search(style) for style in scan.styles)
    assert "cdn.jsdelivr" not in html
    missing = [name for name in expected if Renderer.remove_special_chars(name) not in scan.ids]
    assert missing == [], f"declared plots missing from the page: {missing}"
    for tag, _, src in scan.links:
        if tag == "img" and not src.startswith("data:"):
            assert (html_path.parent / src).is_file(), src
    return scan


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    """A fresh clone of the working tree with the offline template generated in it."""
    repo = copy_repo(tmp_path_factory.mktemp("plots-clone"))
    result = run_script("plots_template", "--out", "stages/plots_template/index.html", cwd=repo)
    assert result.returncode == 0, result.stderr
    return repo


def test_pictures_of_every_model_are_committed():
    params = load_params(REPO / "params.yaml")
    for name, model in params.models.items():
        expected = {"confusion.png", "misclassified.png"}
        if model.target is not None:
            expected.add("precision_recall.png")
        folder = REPO / "plots/figures" / name
        assert folder.is_dir() and {p.name for p in folder.iterdir()} == expected, (
            f"{folder}: run `dvc repro` and commit plots/"
        )
    assert {p.name for p in (REPO / "plots/summary").iterdir()} == {
        "accuracy.png",
        "digits.png",
        "loss.png",
        "pca_variance.png",
    }


def test_dvc_plots_show_renders_every_plot_offline(repo_copy, tmp_path):
    expected = declared_plots(repo_copy)
    assert "plots/figures/sgd_5/precision_recall.png" in expected
    assert "plots/summary/pca_variance.png" in expected
    assert "metrics/label_distribution.csv" in expected
    # no --html-template: .dvc/config's plots.html_template is the one used
    result = run_tool("dvc", "plots", "show", "-o", tmp_path / "page", cwd=repo_copy)
    assert (tmp_path / "page/index.html").as_uri() in result.stdout
    scan = check_offline(tmp_path / "page/index.html", expected)
    assert len([t for t, _, _ in scan.links if t == "img"]) == len(
        [n for n in expected if n.endswith(".png")]
    )


def test_dvc_plots_diff_renders_offline_too(repo_copy, tmp_path):
    result = run_tool("dvc", "plots", "diff", "main", "-o", tmp_path / "diff", cwd=repo_copy)
    assert "index.html" in result.stdout
    check_offline(tmp_path / "diff/index.html", declared_plots(repo_copy))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"figures": {"dpi": 5}}, "figures.dpi: expected an integer >= 10, got 5"),
        (
            {"figures": {"misclassified": "all"}},
            "figures.misclassified: expected an integer, got 'all'",
        ),
        (
            {"figures": {"samples_per_digit": 0}},
            "figures.samples_per_digit: expected an integer >= 1, got 0",
        ),
    ],
)
def test_bad_figures_params_are_named_by_key(write_params, overrides, message):
    from mnist_pipeline.params import ParamsError

    path = write_params(overrides)
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value) == f"{path}: {message}"
