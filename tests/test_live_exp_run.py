"""Live metrics while `dvc exp run` trains the network: a real run on a small copy of the
project, read while its train stage is still running."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml
from conftest import isolated_dvc_environment, make_small_repo, params_of, tool_env

pytestmark = pytest.mark.slow

LIVE_TIMEOUT = 1200.0
"""Seconds the run may take in all; it is killed after that."""


def test_live_metrics_show_a_step_above_zero_while_the_stage_runs(tmp_path):
    repo = make_small_repo(tmp_path / "repo")
    params = params_of(repo)
    params["models"]["cnn"].update(epochs=3, channels=[8, 16], hidden=32)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "commit", "-qam", "a cnn of 3 epochs"], cwd=repo, env=tool_env())
    dvc_yaml = (repo / "dvc.yaml").read_bytes()
    summary = repo / "metrics/cnn/live/metrics.json"
    seen: dict | None = None
    with isolated_dvc_environment(tmp_path / "site"):
        run = subprocess.Popen(
            ["dvc", "exp", "run", "-n", "live", "train@cnn"],
            cwd=repo,
            env=tool_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + LIVE_TIMEOUT
            while run.poll() is None and time.monotonic() < deadline:
                if summary.is_file():
                    try:
                        current = json.loads(summary.read_text())
                    except json.JSONDecodeError:  # dvclive writes it in place
                        current = {}
                    if current.get("step", 0) > 0 and run.poll() is None:
                        seen = current
                        break
                time.sleep(0.05)
            output, _ = run.communicate(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert run.returncode == 0, output
    assert seen is not None, f"no step above 0 while train@cnn ran:\n{output}"
    assert set(seen) == {"step", "loss", "val_acc"}
    assert "train: cnn: epoch 1/3: loss" in output
    final = json.loads(summary.read_text())
    assert final["step"] == 3
    assert (repo / "dvc.yaml").read_bytes() == dvc_yaml, "dvclive must not edit dvc.yaml"
    assert sorted(p.name for p in summary.parent.iterdir()) == ["metrics.json"]
