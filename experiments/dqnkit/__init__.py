"""Shared code of the experiment scripts: DQN on Atari with keras-rl2, in resumable segments.

Import order matters: ``dqnkit.compat`` must run before TensorFlow or keras-rl2 is imported,
so every module that needs either imports it first.
"""
