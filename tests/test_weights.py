"""Test mode loads the weight files keras-rl users hold, value for value."""
import os

import numpy as np
import pytest
import tf_keras
from tf_keras.layers import Activation, Conv2D, Dense, Flatten, Permute

from dqnkit import configs
from dqnkit.training import WeightsError, build_player, load_weights_checked


def example_model():
    """keras-rl's examples/dqn_atari.py model, layer for layer."""
    tf_keras.utils.set_random_seed(1)
    return tf_keras.Sequential([
        Permute((2, 3, 1), input_shape=(4, 84, 84)),
        Conv2D(32, (8, 8), strides=(4, 4)), Activation("relu"),
        Conv2D(64, (4, 4), strides=(2, 2)), Activation("relu"),
        Conv2D(64, (3, 3), strides=(1, 1)), Activation("relu"),
        Flatten(), Dense(512), Activation("relu"), Dense(4), Activation("linear")])


@pytest.mark.parametrize("save_format", [
    "tf",  # what tf-keras writes today for the example's "dqn_..._weights.h5f": .index + .data files
    "h5",  # what standalone Keras wrote for the same name: a real HDF5 file called .h5f
])
def test_the_examples_h5f_weights_load_into_the_mnih_net(tmp_path, save_format):
    model = example_model()
    path = str(tmp_path / "dqn_BreakoutDeterministic-v4_weights.h5f")
    model.save_weights(path, save_format=save_format)
    player = build_player(configs.make_config("smoke"), 4)
    load_weights_checked(player, path, "BreakoutDeterministic-v4")
    for ours, theirs in zip(player.model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(player.target_model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_weights_for_another_number_of_actions_are_refused(tmp_path):
    path = str(tmp_path / "pong.h5")
    build_player(configs.make_config("smoke"), 6).model.save_weights(path)
    with pytest.raises(WeightsError, match="do not fit the Mnih net"):
        load_weights_checked(build_player(configs.make_config("smoke"), 4), path, "BreakoutDeterministic-v4")


def test_test_mode_plays_the_shipped_agent_on_a_fresh_checkout(tmp_path):
    """`--mode test` with no run of its own: the Breakout agent in weights/, with its own config."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from conftest import CLI, REPO_ROOT

    shipped = os.path.join(REPO_ROOT, "weights", "dqn_BreakoutDeterministic-v4_weights.h5")
    assert os.path.isfile(shipped) and os.path.isfile(shipped.replace("_weights.h5", "_config.json"))
    checkout = tmp_path / "checkout"  # a fresh checkout: weights/ and no runs/
    shutil.copytree(os.path.join(REPO_ROOT, "weights"), checkout / "weights")
    result = subprocess.run([sys.executable, CLI, "--mode", "test", "--episodes", "1", "--no-video"],
                            cwd=checkout, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Playing {checkout / 'weights' / 'dqn_BreakoutDeterministic-v4_weights.h5'}" in result.stdout
    assert "Episode 1: score" in result.stdout and "Mean score over 1 episodes" in result.stdout
    config = json.loads((checkout / "weights" / "dqn_BreakoutDeterministic-v4_config.json").read_text())
    assert config["fire_reset"] and config["max_pool_frames"]  # played with the preprocessing it learnt with


def test_the_notebooks_watch_plays_the_shipped_agent_before_its_run_has_weights(tmp_path, capsys):
    from conftest import REPO_ROOT
    from dqnkit import notebook

    played = notebook.watch(str(tmp_path / "new-run"), 1, checkout=REPO_ROOT)
    assert "dqn_BreakoutDeterministic-v4_weights.h5" in capsys.readouterr().out
    assert len(played.scores) == 1 and played.videos and all(os.path.getsize(v) > 1000 for v in played.videos)
