"""Env names users know map onto ale-py's envs; an env's state between episodes round-trips."""
import numpy as np
import pytest

from dqnkit import envs


@pytest.mark.parametrize("name, game, frameskip, sticky", [
    ("BreakoutDeterministic-v4", "breakout", 4, 0.0),
    ("BreakoutDeterministic-v0", "breakout", 4, 0.25),
    ("PongNoFrameskip-v4", "pong", 1, 0.0),
    ("SpaceInvaders-v4", "space_invaders", (2, 5), 0.0),
    ("ALE/Breakout-v5", "breakout", 4, 0.25),
])
def test_classic_and_ale_names(name, game, frameskip, sticky):
    env = envs.make_env(name)
    kwargs = env.spec.kwargs
    assert (kwargs["game"], kwargs["frameskip"], kwargs["repeat_action_probability"]) == (game, frameskip, sticky)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (210, 160, 3) and obs.dtype == np.uint8
    env.close()


@pytest.mark.parametrize("name, fragment", [("CartPole-v1", "unknown env name"), ("Foo-v4", "unknown Atari game 'Foo'")])
def test_unknown_names_are_explained(name, fragment):
    with pytest.raises(envs.EnvNameError, match=fragment):
        envs.make_env(name)


def _play(env, actions):
    frames = []
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(action)
        frames.append(obs.sum())
        if terminated or truncated:
            break
    return frames


def test_state_between_episodes_round_trips_with_sticky_actions():
    actions = np.random.default_rng(0).integers(0, 4, size=3000)
    env = envs.make_env("ALE/Breakout-v5")  # sticky actions: ALE's RNG shapes every episode
    env.reset(seed=5)
    _play(env, actions)
    saved = envs.save_env_state(env)
    env.reset()
    expected = _play(env, actions)

    other = envs.make_env("ALE/Breakout-v5")
    envs.restore_env_state(other, saved, seed=999)  # a different seed: only the saved state counts
    other.reset()
    assert _play(other, actions) == expected
