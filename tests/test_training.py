"""The training loop's game player and evaluation, in-process on real Breakout."""
import numpy as np
import pytest

from dqnkit import configs, envs, evaluation, playing
from dqnkit.agent import build_agent
from processors import AtariProcessor

CONFIG = configs.make_config("smoke", {"epsilon_max": 1.0, "epsilon_min": 1.0, "nb_steps_warmup": 100_000,
                                       "fire_reset": True, "max_pool_frames": True, "noop_max": 30})


@pytest.fixture(scope="module")
def agent():
    return build_agent(CONFIG, 4)


@pytest.mark.parametrize("life_loss_ends_episode, terminals", [(True, 5), (False, 1)])
def test_a_lost_life_ends_the_agents_episode_but_not_the_game(agent, life_loss_ends_episode, terminals):
    env = envs.make_config_env(CONFIG)
    env.reset(seed=0)
    agent.training = True
    before = agent.memory.total_appended
    game = playing.play_game(agent, env, AtariProcessor(), life_loss_ends_episode, step=0)
    appended = agent.memory.total_appended - before
    flags = agent.memory.terminals[before:before + appended]
    assert envs.lives(env) == 0  # one whole game, all five lives
    assert flags.sum() == terminals
    # each agent episode adds its last observation once more, as Agent.fit does
    assert appended == game.steps + terminals


def test_evaluation_leaves_the_training_streams_alone_and_repeats_exactly(agent):
    player = playing.build_player(CONFIG, 4)
    player.model.set_weights(agent.model.get_weights())
    env = envs.make_config_env(CONFIG)
    np.random.seed(11)
    before = np.random.get_state()[1].copy(), np.random.get_state()[2]
    first = evaluation.evaluate(player, env, AtariProcessor(), CONFIG, step=1000, episodes=2)
    after = np.random.get_state()
    assert np.array_equal(before[0], after[1]) and before[1] == after[2]
    again = evaluation.evaluate(player, envs.make_config_env(CONFIG), AtariProcessor(), CONFIG, step=1000, episodes=2)
    assert again == first
    assert evaluation.evaluation_seed(CONFIG.seed, 1000) != evaluation.evaluation_seed(CONFIG.seed, 2000)
    assert set(first) == {"step", "mean", "std", "min", "max", "episodes", "scores"}
    assert first["mean"] == pytest.approx(np.mean(first["scores"])) and len(first["scores"]) == 2
