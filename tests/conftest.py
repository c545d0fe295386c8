"""Shared test set-up: import paths, the repo root, and helpers to run the CLI as a user does."""
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(REPO_ROOT, "experiments")
for path in (EXPERIMENTS, REPO_ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

import dqnkit.compat  # noqa: E402,F401  (before any test module imports keras-rl2 or TensorFlow)

CLI = os.path.join(EXPERIMENTS, "dqn_atari.py")


def run_cli(*args, timeout=600, check=True, env=None):
    """Run `python experiments/dqn_atari.py ARGS` in a subprocess, as a user would."""
    result = subprocess.run([sys.executable, CLI, *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, cwd=REPO_ROOT, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"CLI failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


@pytest.fixture
def cli():
    return run_cli
