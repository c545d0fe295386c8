"""Shared test set-up: the repo root, and helpers to run the CLI as a user does.

The kit is imported as installed (``pip install -e .[test]``, what requirements.txt does)."""
import os
import subprocess
import sys

import pytest

import dqnkit.compat  # noqa: F401  (before any test module imports keras-rl2 or TensorFlow)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(REPO_ROOT, "experiments", "dqn_atari.py")


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
