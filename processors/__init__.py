"""Observation processors for keras-rl2 agents on Atari.

They subclass keras-rl2's ``Processor``, and importing keras-rl2 on today's TensorFlow needs
the compatibility layer ``dqnkit.compat`` first: we load it here so that ``import processors``
works on its own (scripts, notebooks, tests).
"""
import dqnkit.compat  # noqa: F401

from processors.atari import INPUT_SHAPE, AtariProcessor, KerasRLExampleProcessor  # noqa: E402

__all__ = ["INPUT_SHAPE", "AtariProcessor", "KerasRLExampleProcessor"]
