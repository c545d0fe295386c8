"""Test set-up: keras-rl2 on today's stack before any test imports it, and the `cli` fixture.

The kit is imported as installed (``pip install -e .[test]``, what requirements.txt does);
helpers shared by test modules live in ``helpers.py``."""
import pytest

import dqnkit.compat  # noqa: F401  (before any test module imports keras-rl2 or TensorFlow)
from helpers import run_cli


@pytest.fixture
def cli():
    return run_cli
