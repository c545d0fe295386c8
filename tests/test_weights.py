"""Test mode loads the weight files keras-rl users hold, value for value."""
import os

import numpy as np
import pytest
import tf_keras
from tf_keras.layers import Activation, Conv2D, Dense, Flatten, Permute

from dqnkit import configs
from dqnkit.acting.games import build_player
from dqnkit.run.weights_io import WeightsError, load_weights_checked


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
    with pytest.raises(WeightsError, match="do not fit the net this config builds for BreakoutDeterministic-v4: "
                                           "nature, 4 frames a state, 4 actions, plain .not dueling.; the file "
                                           "holds nature, 4 frames a state, 6 actions, plain"):
        load_weights_checked(build_player(configs.make_config("smoke"), 4), path, "BreakoutDeterministic-v4")


@pytest.mark.parametrize("saved, loaded, held", [
    ({"net": "nips2013"}, {}, "the file holds nips2013, 4 frames a state, 4 actions, plain"),
    ({}, {"net": "nips2013"}, "the file holds nature, 4 frames a state"),
    ({"window_length": 2}, {}, "the file holds nature, 2 frames a state, 4 actions, plain"),  # not the dueling head
    ({"enable_dueling_network": True}, {}, "the file holds nature, 4 frames a state, 4 actions, dueling"),
])
def test_weights_of_another_net_say_which_net_each_side_has(tmp_path, saved, loaded, held):
    path = str(tmp_path / "weights.h5")
    build_player(configs.make_config("smoke", saved), 4).model.save_weights(path)
    with pytest.raises(WeightsError, match=held) as refused:
        load_weights_checked(build_player(configs.make_config("smoke", loaded), 4), path, "BreakoutDeterministic-v4")
    wanted = loaded.get("net", "nature")
    assert f"this config builds for BreakoutDeterministic-v4: {wanted}," in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_nips2013_net_is_mnih_et_al_2013s():
    from dqnkit.agent.nets import build_nips2013_model

    model = build_nips2013_model(6, window_length=2)
    assert [(layer.name, layer.output_shape[1:]) for layer in model.layers if layer.weights] == [
        ("conv1", (20, 20, 16)), ("conv2", (9, 9, 32)), ("fc", (256,)), ("q_values", (6,))]
    assert model.count_params() == (8 * 8 * 2 * 16 + 16) + (4 * 4 * 16 * 32 + 32) + (2592 * 256 + 256) + (256 * 6 + 6)


def test_test_mode_plays_the_shipped_agent_on_a_fresh_checkout(tmp_path):
    """`--mode test` with no run of its own: the Breakout agent in weights/, with its own config."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from helpers import CLI, REPO_ROOT

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
    assert config["net"] == "nature" and config["n_step"] == 1  # and the net it learnt with, named


def test_the_notebooks_watch_plays_the_shipped_agent_before_its_run_has_weights(tmp_path, capsys):
    from helpers import REPO_ROOT
    from dqnkit import notebook

    played = notebook.watch(str(tmp_path / "new-run"), 1, checkout=REPO_ROOT)
    assert "dqn_BreakoutDeterministic-v4_weights.h5" in capsys.readouterr().out
    assert len(played.scores) == 1 and played.videos and all(os.path.getsize(v) > 1000 for v in played.videos)


def test_the_notebooks_watch_plays_the_shipped_pong_agent_when_env_name_is_pong(tmp_path, capsys):
    """The watch cell with ENV_NAME = "PongNoFrameskip-v4" before the run has weights (or even a
    config): the Pong agent plays, with the config shipped beside it, not the Breakout one."""
    from helpers import REPO_ROOT
    from dqnkit import notebook

    played = notebook.watch(str(tmp_path / "new-run"), 1, checkout=REPO_ROOT, env_name="PongNoFrameskip-v4")
    assert "dqn_PongNoFrameskip-v4_weights.h5" in capsys.readouterr().out
    assert len(played.scores) == 1 and -21 <= played.scores[0] <= 21 and played.videos


def test_ship_weights_puts_a_runs_best_agent_where_test_mode_finds_it(tmp_path):
    """experiments/ship_weights.py: the run's best evaluated weights and its config land in a
    weights folder, the evidence is printed, and test mode in a checkout with that folder plays it."""
    import json
    import subprocess
    import sys

    from helpers import REPO_ROOT, run_cli

    ship = [sys.executable, os.path.join(REPO_ROOT, "experiments", "ship_weights.py")]
    run_dir, checkout = tmp_path / "run", tmp_path / "checkout"
    # 1,000 steps: the smoke preset's one evaluation, at step 1,000, gives the best weights.
    run_cli("--mode", "train", "--config", "smoke", "--no-video", "--set", "total_steps=1000", "--run-dir", run_dir)
    result = subprocess.run([*ship, "--run-dir", str(run_dir), "--weights-dir", str(checkout / "weights")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    shipped = checkout / "weights" / "dqn_BreakoutDeterministic-v4_weights.h5"
    assert shipped.read_bytes() == (run_dir / "best_weights.h5").read_bytes()
    shipped_config = json.loads((checkout / "weights" / "dqn_BreakoutDeterministic-v4_config.json").read_text())
    assert shipped_config == json.loads((run_dir / "config.json").read_text())
    assert (checkout / "weights" / "dqn_BreakoutDeterministic-v4_learning_curve.png").stat().st_size > 1000
    evaluations = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines()]
    assert evaluations and all(f"| {e['step']:,} | {e['mean']:.1f} |" in result.stdout for e in evaluations)
    assert "every game once, in order" in result.stdout
    games = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert f"| 0-{games[-1]['step']:,} | {len(games)} |" in result.stdout  # training games, one 100k window

    played = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "experiments", "dqn_atari.py"), "--mode", "test",
                             "--episodes", "1", "--no-video"], cwd=checkout, capture_output=True, text=True, timeout=600)
    assert played.returncode == 0 and f"Playing {shipped}" in played.stdout, played.stderr[-3000:]

    missing = subprocess.run([*ship, "--run-dir", str(tmp_path / "nothing-here")], capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "holds no run" in missing.stderr


def test_test_mode_plays_one_game_of_the_shipped_pong_agent(tmp_path):
    """`--mode test --env-name PongNoFrameskip-v4`, nothing else, in a folder with no run: the Pong
    agent in weights/ plays a whole game with its own config (no score asserted)."""
    import subprocess
    import sys

    from helpers import CLI

    result = subprocess.run([sys.executable, CLI, "--mode", "test", "--env-name", "PongNoFrameskip-v4", "--episodes",
                             "1", "--no-video"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dqn_PongNoFrameskip-v4_weights.h5" in result.stdout and "Episode 1: score " in result.stdout


def test_weights_given_by_path_play_with_the_config_saved_beside_them(tmp_path, monkeypatch, capsys):
    """`--weights FILE`: a shipped-style pair (dqn_<env>_weights.h5 + dqn_<env>_config.json) or a
    run folder's best_weights.h5 plays with the config it was trained with, not the default
    preset's (1 frame a step where it learnt with 4: it loses every game). --env-name still applies
    on top (the sticky-actions check); a named preset or a --run-dir with a config wins."""
    from dqnkit import resolve
    from dqnkit.run.folder import RunFolder, default_run_dir

    monkeypatch.chdir(tmp_path)
    default = configs.make_config(resolve.DEFAULT_PRESET)
    # A run of the default preset in the default folder says nothing about weights from elsewhere.
    pong = {"env_name": "PongNoFrameskip-v4"}
    default_pong = resolve.compose(configs.make_config(resolve.DEFAULT_PRESET), pong)
    os.makedirs(default_run_dir(default_pong))
    RunFolder(default_run_dir(default_pong)).save_config(default_pong)
    shipped_dir, run_dir = tmp_path / "shipped", tmp_path / "run"
    shipped_dir.mkdir()
    run_dir.mkdir()
    (shipped_dir / "dqn_PongNoFrameskip-v4_weights.h5").write_bytes(b"weights")
    (shipped_dir / "dqn_PongNoFrameskip-v4_config.json").write_text(configs.to_json(configs.make_config("pong")))
    run_config = configs.make_config("pong")
    run_config.epsilon_test = 0.02  # tells the run's config from the shipped one
    RunFolder(str(run_dir)).save_config(run_config)
    (run_dir / "best_weights.h5").write_bytes(b"weights")

    weights = str(shipped_dir / "dqn_PongNoFrameskip-v4_weights.h5")
    config, played, _ = resolve.resolve_test(weights=weights, overrides={"env_name": "ALE/Pong-v5"})
    assert played == weights and config.env_name == "ALE/Pong-v5"
    assert (config.frame_skip, config.max_pool_frames, config.noop_max, config.epsilon_test) == (4, True, 30, 0.01)
    config, _, _ = resolve.resolve_test(weights=weights, overrides=pong)
    assert (config.frame_skip, config.max_pool_frames) == (4, True)  # the default run folder has a config
    config, _, video_dir = resolve.resolve_test(run_dir=str(tmp_path / "new-run"), weights=weights)
    assert config.epsilon_test == 0.01 and video_dir.startswith(str(tmp_path / "new-run"))  # a run with no config

    config, _, _ = resolve.resolve_test(weights=str(run_dir / "best_weights.h5"))
    assert config == resolve.compose(run_config)
    config, _, _ = resolve.resolve_test(run_dir=str(run_dir), weights=weights)
    assert config.epsilon_test == 0.02  # --run-dir with a config of its own wins
    config, _, _ = resolve.resolve_test(preset=resolve.DEFAULT_PRESET, weights=weights)
    assert (config.max_pool_frames, config.epsilon_test) == (default.max_pool_frames, default.epsilon_test)

    capsys.readouterr()
    lone = shipped_dir / "lone_weights.h5"  # nothing of its name beside it; a stray config.json does not count
    lone.write_bytes(b"weights")
    (shipped_dir / "config.json").write_text(configs.to_json(run_config))
    config, _, _ = resolve.resolve_test(weights=str(lone))
    assert config == resolve.compose(default)
    assert capsys.readouterr().out.count("No config is saved beside") == 1
    config, _, _ = resolve.resolve_test(weights=str(shipped_dir))  # a folder: loading refuses it later
    assert config == resolve.compose(default)

    (shipped_dir / "dqn_PongNoFrameskip-v4_config.json").write_text("{garbled")
    with pytest.raises(configs.ConfigError, match="is not a readable config") as refused:
        resolve.resolve_test(weights=weights)
    assert "\n" not in str(refused.value)
