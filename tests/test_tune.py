"""src/tune.py: its search space and one-line errors; the studies themselves run in
test_dvc_workflows (here, the queue, pruning) and test_cluster (on the cluster)."""

from types import SimpleNamespace

import conftest
import pytest
from conftest import run_main
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

tune = SimpleNamespace(**conftest.stage_main("tune").__globals__)


def test_a_search_space_holds_ranges_log_ranges_and_choices_of_params_keys(repo_params):
    settings = ["models.knn.k=int(1,9)", "models.svm.C=log(0.1, 100)", "pca.whiten=true,false"]
    assert tune.search_space(settings, repo_params) == {
        "models.knn.k": IntDistribution(1, 9),
        "models.svm.C": FloatDistribution(0.1, 100, log=True),
        "pca.whiten": CategoricalDistribution([True, False]),
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "knn", "-S", "models.knn.kk=int(1,9)"], "-S models.knn.kk=int(1,9): expected"),
        (["--model", "svm", "-S", "models.svm.C=log(0,1)"], "-S models.svm.C=log(0,1): "),
        (["--model", "knn5", "-S", "pca.n=2,3"], "--model knn5: no such model in params.yaml"),
        (["--model", "gd_4", "-S", "models.gd_4.max_iter=int(9,99)"], "gd_4 has no val split"),
    ],
)
def test_a_wrong_model_or_search_space_gives_one_line_naming_it(args, message):
    result = run_main("tune", *args)
    assert result.returncode == 1
    assert result.stderr.startswith(f"tune: error: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
