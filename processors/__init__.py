"""Observation processors for keras-rl2 agents on Atari.

They subclass keras-rl2's ``Processor``, and importing keras-rl2 on today's TensorFlow needs
the compatibility layer in ``experiments/dqnkit/compat.py`` first: we load it here so that
``import processors`` works on its own (scripts, notebooks, tests).
"""
import pathlib
import sys

_EXPERIMENTS = str(pathlib.Path(__file__).resolve().parents[1] / "experiments")
if _EXPERIMENTS not in sys.path:
    sys.path.insert(0, _EXPERIMENTS)

import dqnkit.compat  # noqa: E402,F401

from processors.atari import INPUT_SHAPE, AtariProcessor, KerasRLExampleProcessor  # noqa: E402

__all__ = ["INPUT_SHAPE", "AtariProcessor", "KerasRLExampleProcessor"]
