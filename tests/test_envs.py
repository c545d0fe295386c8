"""Env names users know map onto ale-py's envs; an env's state between episodes round-trips."""
import numpy as np
import pytest

from dqnkit.envs import ale


@pytest.mark.parametrize("name, game, frameskip, sticky", [
    ("BreakoutDeterministic-v4", "breakout", 4, 0.0),
    ("BreakoutDeterministic-v0", "breakout", 4, 0.25),
    ("PongNoFrameskip-v4", "pong", 1, 0.0),
    ("SpaceInvaders-v4", "space_invaders", (2, 5), 0.0),
    ("ALE/Breakout-v5", "breakout", 4, 0.25),
])
def test_classic_and_ale_names(name, game, frameskip, sticky):
    env = ale.make_env(name)
    kwargs = env.spec.kwargs
    assert (kwargs["game"], kwargs["frameskip"], kwargs["repeat_action_probability"]) == (game, frameskip, sticky)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (210, 160, 3) and obs.dtype == np.uint8
    env.close()


@pytest.mark.parametrize("name, fragment", [("CartPole-v1", "unknown env name"), ("Foo-v4", "unknown Atari game 'Foo'")])
def test_unknown_names_are_explained(name, fragment):
    with pytest.raises(ale.EnvNameError, match=fragment):
        ale.make_env(name)


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
    env = ale.make_env("ALE/Breakout-v5")  # sticky actions: ALE's RNG shapes every episode
    env.reset(seed=5)
    _play(env, actions)
    saved = ale.save_env_state(env)
    env.reset()
    expected = _play(env, actions)

    other = ale.make_env("ALE/Breakout-v5")
    ale.restore_env_state(other, saved, seed=999)  # a different seed: only the saved state counts
    other.reset()
    assert _play(other, actions) == expected


def test_max_pool_frames_repeats_the_action_and_pools_the_last_two_frames():
    """BreakoutDeterministic-v4 with max_pool_frames: still 4 frames per step, as its name says."""
    pooled = ale.make_env("BreakoutDeterministic-v4", obs_type="grayscale", max_pool_frames=True)
    frames = ale.make_env("BreakoutNoFrameskip-v4", obs_type="grayscale")  # one frame per step
    pooled.reset(seed=3)
    frames.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(200):
        action = int(rng.integers(4))
        observation, reward, terminated, *_ = pooled.step(action)
        raw, raw_reward = [], 0.0
        for _ in range(4):
            frame, r, *_ = frames.step(action)
            raw.append(frame)
            raw_reward += r
        if terminated:  # the game ended inside the skip: the wrapper stopped there, the raw env did not
            break
        np.testing.assert_array_equal(observation, np.maximum(raw[-1], raw[-2]))
        assert observation.shape == (210, 160)  # AtariProcessor does the one resize
        assert reward == raw_reward


@pytest.mark.parametrize("name, fragment", [
    ("Breakout-v4", "skips 2 to 4 frames at random; set frame_skip=4"),
    ("BreakoutNoFrameskip-v4", "steps one frame at a time; set frame_skip=4"),
])
def test_max_pool_frames_refuses_names_whose_meaning_it_would_change(name, fragment):
    with pytest.raises(ale.EnvNameError, match=fragment):
        ale.make_env(name, max_pool_frames=True)
    ale.make_env(name, max_pool_frames=True, frame_skip=4).close()  # what the message asks for works


def test_noframeskip_with_frame_skip_4_is_the_deterministic_env():
    """PongNoFrameskip-v4 + frame_skip=4 (CleanRL's and the book's env) plays frame for frame like
    PongDeterministic-v4: 4 frames per step, max-pooled, no sticky actions, same no-op starts."""
    made = [ale.make_env(name, obs_type="grayscale", noop_max=30, max_pool_frames=True, frame_skip=skip)
            for name, skip in (("PongNoFrameskip-v4", 4), ("PongDeterministic-v4", None))]
    starts = [env.reset(seed=7) for env in made]
    np.testing.assert_array_equal(starts[0][0], starts[1][0])
    assert starts[0][1]["episode_frame_number"] == starts[1][1]["episode_frame_number"] > 0
    rng = np.random.default_rng(1)
    for _ in range(300):
        action = int(rng.integers(6))
        (a, ra, ta, *_), (b, rb, tb, *_) = (env.step(action) for env in made)
        np.testing.assert_array_equal(a, b)
        assert (ra, ta) == (rb, tb)
    frames = made[0].unwrapped.ale.getEpisodeFrameNumber()
    assert frames == made[1].unwrapped.ale.getEpisodeFrameNumber() >= 4 * 300
    for env in made:
        env.close()


def test_frame_skip_without_pooling_sets_the_ale_frameskip():
    env = ale.make_env("PongNoFrameskip-v4", frame_skip=3)
    assert env.spec.kwargs["frameskip"] == 3 and env.spec.kwargs["repeat_action_probability"] == 0.0
    env.reset(seed=0)
    env.step(0)
    assert env.unwrapped.ale.getEpisodeFrameNumber() == 3
    with pytest.raises(ale.EnvNameError, match="frame_skip must be a whole number of frames >= 1"):
        ale.make_env("PongNoFrameskip-v4", frame_skip=0)


def test_noop_starts_vary_and_come_from_the_envs_own_generator():
    def start_frames(seed):
        env = ale.make_env("BreakoutDeterministic-v4", noop_max=30, max_pool_frames=True)
        env.reset(seed=seed)
        return [env.reset()[1]["episode_frame_number"] for _ in range(12)]

    first = start_frames(1)
    assert all(1 <= f <= 30 for f in first) and len(set(first)) > 3
    assert start_frames(1) == first  # seeded through the env: checkpoints keep it


def _lives_after_noops(env, steps):
    env.reset(seed=0)
    lives, terminated = [], False
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(0)  # NOOP only
        lives.append(info["lives"])
        if terminated or truncated:
            break
    return lives, terminated


def test_fire_reset_launches_the_ball_at_the_start_and_after_every_lost_life():
    lives, game_over = _lives_after_noops(ale.make_env("BreakoutDeterministic-v4", fire_reset=True), 3000)
    assert game_over and lives[-1] == 0 and sorted(set(lives), reverse=True) == [5, 4, 3, 2, 1, 0]
    lives, game_over = _lives_after_noops(ale.make_env("BreakoutDeterministic-v4"), 3000)
    assert not game_over and set(lives) == {5}  # without FIRE the ball never comes
    assert not isinstance(ale.make_env("ALE/Freeway-v5", fire_reset=True), ale.FireOnLifeStart)  # no FIRE there


@pytest.mark.parametrize("name, options", [
    ("ALE/Breakout-v5", {}),  # sticky actions: ALE's RNG and its last action carry across the save
    ("BreakoutDeterministic-v4", {"noop_max": 30, "max_pool_frames": True, "fire_reset": True}),
    ("PongNoFrameskip-v4", {"noop_max": 30, "max_pool_frames": True, "fire_reset": True, "frame_skip": 4}),
])
def test_state_in_the_middle_of_a_game_round_trips(name, options):
    """What a checkpoint at any step needs from the env: the rest of the game, frame for frame,
    including the games that end (a step cut short by the game's end returns the max with the
    previous step's frame, which the wrapper keeps)."""
    actions = np.random.default_rng(3).integers(0, 4, size=4000)

    def play_on(env, actions):
        out = []
        for action in actions:
            observation, reward, terminated, truncated, _ = env.step(int(action))
            out.append((observation.tobytes(), reward, terminated, ale.lives(env)))
            if terminated or truncated:
                observation, _ = env.reset()
                out.append(("reset", observation.tobytes()))
        return out

    env = ale.make_env(name, obs_type="grayscale", **options)
    env.reset(seed=11)
    play_on(env, actions[:150])  # into the middle of the first game
    saved = ale.save_env_state(env)
    expected = play_on(env, actions[150:])
    assert any(item[0] == "reset" for item in expected)  # the rest covers a game end and a new game

    other = ale.make_env(name, obs_type="grayscale", **options)
    ale.restore_env_state(other, saved, seed=999)  # another seed: only the saved state counts
    assert play_on(other, actions[150:]) == expected


def test_sticky_actions_repeat_the_right_action_after_a_mid_game_restore():
    """ALE's saved state lacks the previous action that sticky actions repeat (probability 0.25 a
    frame): restored without it, an env repeats NOOP instead. Several save points, each right after
    a move, so that a wrong repeat shows on screen."""
    rng = np.random.default_rng(5)
    actions = rng.integers(2, 6, size=700)  # Pong's moves (no NOOP, no FIRE)
    for save_at in (120, 233, 345, 461, 577):
        env = ale.make_env("ALE/Pong-v5", obs_type="grayscale")
        env.reset(seed=save_at)
        for action in actions[:save_at]:
            env.step(int(action))
        saved = ale.save_env_state(env)
        expected = [env.step(int(a))[0].tobytes() for a in actions[save_at:save_at + 60]]
        other = ale.make_env("ALE/Pong-v5", obs_type="grayscale")
        ale.restore_env_state(other, saved, seed=0)
        assert [other.step(int(a))[0].tobytes() for a in actions[save_at:save_at + 60]] == expected, save_at
