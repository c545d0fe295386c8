"""The training loop's game player and evaluation, in-process on real Breakout."""
import numpy as np
import pytest

from dqnkit import configs
from dqnkit.acting import games
from dqnkit.envs import ale
from dqnkit.training import evaluation
from dqnkit.agent.fast_dqn import build_agent
from processors import AtariProcessor

CONFIG = configs.make_config("smoke", {"epsilon_max": 1.0, "epsilon_min": 1.0, "nb_steps_warmup": 100_000,
                                       "fire_reset": True, "max_pool_frames": True, "noop_max": 30})


@pytest.fixture(scope="module")
def agent():
    return build_agent(CONFIG, 4)


@pytest.mark.parametrize("life_loss_ends_episode, terminals", [(True, 5), (False, 1)])
def test_a_lost_life_ends_the_agents_episode_but_not_the_game(agent, life_loss_ends_episode, terminals):
    env = ale.make_config_env(CONFIG)
    env.reset(seed=0)
    agent.training = True
    before = agent.memory.total_appended
    game = games.play_game(agent, env, AtariProcessor(), life_loss_ends_episode, step=0)
    appended = agent.memory.total_appended - before
    flags = agent.memory.terminals[before:before + appended]
    assert ale.lives(env) == 0  # one whole game, all five lives
    assert flags.sum() == terminals
    # each agent episode adds its last observation once more, as Agent.fit does
    assert appended == game.steps + terminals


def test_evaluation_leaves_the_training_streams_alone_and_repeats_exactly(agent):
    player = games.build_player(CONFIG, 4)
    player.model.set_weights(agent.model.get_weights())
    env = ale.make_config_env(CONFIG)
    np.random.seed(11)
    before = np.random.get_state()[1].copy(), np.random.get_state()[2]
    first = evaluation.evaluate(player, env, AtariProcessor(), CONFIG, step=1000, episodes=2)
    after = np.random.get_state()
    assert np.array_equal(before[0], after[1]) and before[1] == after[2]
    again = evaluation.evaluate(player, ale.make_config_env(CONFIG), AtariProcessor(), CONFIG, step=1000, episodes=2)
    assert again == first
    assert evaluation.evaluation_seed(CONFIG.seed, 1000) != evaluation.evaluation_seed(CONFIG.seed, 2000)
    assert set(first) == {"step", "mean", "std", "min", "max", "episodes", "scores"}
    assert first["mean"] == pytest.approx(np.mean(first["scores"])) and len(first["scores"]) == 2


def test_the_actor_with_one_env_is_keras_rl2s_forward_and_backward_step_for_step():
    """The training actor (batched greedy forwards, FastDQNAgent.learn) against the agent's own
    forward/backward as keras-rl2's fit drives them (games.Game): same actions, memory, weights.
    Also with `look_ahead` (the next action drawn before each train step, a greedy one's
    Q-values from the train step's call), as the runner's one-env actor plays, and with its game
    put through a checkpoint's round trip after every step (a drawn action kept, its Q-values
    computed again), with epsilon as the plain actor sets it at every step."""
    from dqnkit.acting.actor import Actor, ReplayLearner
    from dqnkit.agent.rngs import make_deterministic

    config = configs.make_config("smoke", {"nb_steps_warmup": 100, "epsilon_steps": 400, "epsilon_min": 0.3,
                                           "target_model_update": 50, "train_interval": 2,
                                           "terminal_on_life_loss": True, "fire_reset": True})
    runs, initial_weights = [], None
    epsilons = {}
    for mode in ("fit", "actor", "look_ahead", "look_ahead_round_trips"):
        make_deterministic(config.seed)
        env = ale.make_config_env(config)
        env.reset(seed=config.seed)
        agent = build_agent(config, env.action_space.n)
        # The same starting weights for both (a second net built in the same TensorFlow graph draws others).
        if initial_weights is None:
            initial_weights = agent.model.get_weights()
        agent.model.set_weights(initial_weights)
        agent.update_target_model_hard()
        agent.training = True
        step, scores = 0, []
        if mode != "fit":
            actor = Actor(agent, [env], AtariProcessor(), [agent.memory], ReplayLearner(agent, [agent.memory]),
                          config.terminal_on_life_loss, look_ahead=mode.startswith("look_ahead"))
            looked_ahead, recomputed, epsilons[mode] = 0, 0, []
            while len(scores) < 3:
                scores += [(done.step, done.result.score, done.result.losses) for done in actor.step(step)]
                looked_ahead += actor.drawn is not None and actor.drawn.q_values is not None
                epsilons[mode].append(agent.policy.inner_policy.eps)
                if mode == "look_ahead_round_trips" and actor.games[0] is not None:
                    game = actor.get_game_state(0)
                    recomputed += actor.drawn is not None and actor.drawn.action is None
                    actor.drawn = None
                    actor.set_game_state(0, *game)  # as a resume does: the drawn action, no Q-values
                step += 1
            assert (looked_ahead > 50) == mode.startswith("look_ahead")  # greedy actions from the train step's call
            assert (recomputed > 50) == (mode == "look_ahead_round_trips")  # ... or from a forward after a resume
        else:
            for _ in range(3):
                game = games.play_game(agent, env, AtariProcessor(), config.terminal_on_life_loss, step=step)
                step += game.steps
                scores.append((step, game.score, game.losses))
        runs.append((agent, scores))
    assert epsilons["look_ahead"] == epsilons["actor"] == epsilons["look_ahead_round_trips"]
    (theirs, their_games), *ours_runs = runs
    for ours, our_games in ours_runs:
        assert our_games == their_games and len(our_games[-1][2]) > 10  # trained in the last game
        total = ours.memory.total_appended
        assert total == theirs.memory.total_appended
        for name in ("observations", "actions", "rewards", "terminals"):
            np.testing.assert_array_equal(getattr(ours.memory, name)[:total], getattr(theirs.memory, name)[:total])
        for mine, reference in zip(ours.model.get_weights() + ours.target_model.get_weights(),
                                   theirs.model.get_weights() + theirs.target_model.get_weights()):
            np.testing.assert_array_equal(mine, reference)
