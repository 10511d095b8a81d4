"""exps on saved `dvc exp show --json` outputs: its rows, params and models, in 160 columns."""

from pathlib import Path

import yaml
from conftest import REPO, run_main, run_script
from test_sweep import BASE, exp_show, experiment, params, run_on, scores_json

MODELS = list(yaml.safe_load((REPO / "params.yaml").read_text())["models"])


def with_baseline(shown: list[dict], values: dict, accs: dict[str, float]) -> list[dict]:
    """``shown`` with the baseline commit's own params and scores filled in."""
    metrics = {f"metrics/{m}/scores/test.json": scores_json(acc) for m, acc in accs.items()}
    metrics |= {f"metrics/{m}/scores/val.json": {"data": {"acc": 0.9}} for m in accs}
    shown[1]["data"] = {"params": {"params.yaml": {"data": values}}, "metrics": metrics}
    return shown


def test_the_baseline_then_its_experiments_by_value_with_only_what_changed(tmp_path: Path):
    """In a fresh Python, as `make exps` runs it; a state column while one is unfinished."""
    shown = with_baseline(
        exp_show(
            experiment("wide-n", "success", params(40), {"knn": 0.9612, "svm": 0.99}),
            experiment("tiny-n", "success", params(20), {"knn": 0.9501, "svm": 0.99}),
            experiment("waiting", "queued", params(30)),
        ),
        params(60),
        {"knn": 0.9756, "svm": 0.99},
    )
    result = run_on("exps", tmp_path, shown, run=run_script)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "experiment     state    pca.n         knn\n"
        f"main ({BASE[:7]}) baseline    60 97.56/90.00\n"
        "tiny-n         success     20 95.01/90.00\n"
        "waiting        queued      30\n"
        "wide-n         success     40 96.12/90.00\n"
        "\n"
        "Accuracy (%) test/val of each model whose scores differ between the rows; the same in "
        "every row:\nsvm.\n"
    )


def test_a_ten_point_sweep_changing_every_model_fits_160_columns(tmp_path: Path):
    sizes = [500, 1000, 2000, 5000, 10000, 20000, 30000, 40000, 45000, 50000]
    values = [params(60) | {"split": {"validation": 10000, "train": n}} for n in [60000, *sizes]]
    accs = [{m: 0.9 + i / 100 + j / 1000 for j, m in enumerate(MODELS)} for i in range(10)]
    points = [experiment(f"lofty-{i:04d}", "success", values[i + 1], accs[i]) for i in range(10)]
    shown = with_baseline(exp_show(*points), values[0], {m: 0.99 for m in MODELS})
    lines = run_on("exps", tmp_path, shown).stdout.splitlines()
    assert lines[0].split() == ["experiment", "split.train", *MODELS]
    assert [line.split()[1] for line in lines[2:12]] == [str(s) for s in sizes]
    assert max(map(len, lines)) <= 160


def test_without_experiments_the_baseline_is_shown_alone(tmp_path: Path):
    result = run_on("exps", tmp_path, with_baseline(exp_show(), params(60), {"knn": 0.9756}))
    assert result.stdout.splitlines()[1] == f"main ({BASE[:7]})"
    assert result.stdout.endswith("No params key differs between the rows.\n")


def test_unreadable_json_is_a_one_line_error(tmp_path: Path):
    (tmp_path / "exp-show.json").write_text("{not json")
    result = run_main("exps", "--from-json", tmp_path / "exp-show.json", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("exps: error: ") and len(result.stderr.splitlines()) == 1
