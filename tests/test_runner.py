"""What every stage script shares: its work's seconds logged as one line (which the benchmark
reads from dvc's output), and a quick exit that keeps the exit code and atexit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import yaml
from conftest import REPO

from mnist_pipeline.plumbing.runner import run_stage


def test_a_successful_stage_logs_its_work_seconds(caplog):
    with caplog.at_level(logging.INFO, logger="demo"):
        assert run_stage("demo", lambda: None, (), outputs=()) == 0
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("demo", "done in 0.0 s")]


def test_exit_stage_freezes_the_garbage_collector_and_keeps_the_exit_code_and_atexit():
    code = (
        "import atexit, gc, sys; from mnist_pipeline.plumbing.runner import exit_stage; "
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
        "sys.stdout.write('buffered '); exit_stage(3)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert (result.returncode, result.stdout) == (3, "buffered frozen True\n"), result.stderr


def test_every_stage_script_of_dvc_yaml_ends_with_exit_stage():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    scripts = {spec.get("do", spec)["cmd"].split()[1] for spec in stages.values()}
    assert scripts and all(name.startswith("src/") for name in scripts)
    for name in sorted(scripts):
        source = (REPO / name).read_text()
        assert 'if __name__ == "__main__":\n    exit_stage(main())\n' in source, name
