"""StreamMemory (num_envs > 1): each env's entries sampled as keras-rl2's SequentialMemory would
sample that env alone, never a window or transition mixing two envs, uniformly over all of them."""
import numpy as np
import pytest
from rl.memory import SequentialMemory

from dqnkit.memory.streams import StreamMemory
from frames import breakout_transitions
from processors import AtariProcessor

ENVS = 3


def tagged(observation, env, number):
    """A real frame marked with its env (1-based, so zero padding reads as no env) and append number."""
    frame = observation.copy()
    frame[0, :3] = (env + 1, number % 256, number // 256)
    return frame


def tag_of(frame):
    return int(frame[0, 0]) - 1, int(frame[0, 1]) + 256 * int(frame[0, 2])


@pytest.fixture(scope="module")
def per_env_transitions():
    # Each env its own game (own seed): episode ends fall at different places in each stream.
    return [breakout_transitions(900 + 60 * env, AtariProcessor(), seed=env) for env in range(ENVS)]


def _fill(limit, per_env_transitions):
    """A StreamMemory and one SequentialMemory per env fed the same entries, interleaved the way
    the actor appends them (one entry per env per step, in env order, until each env runs out)."""
    ours = StreamMemory(limit, window_length=4, streams=ENVS, seed=3)
    theirs = [SequentialMemory(limit=limit // ENVS, window_length=4) for _ in range(ENVS)]
    for step in range(max(map(len, per_env_transitions))):
        for env, transitions in enumerate(per_env_transitions):
            if step < len(transitions):
                obs, action, reward, terminal = transitions[step]
                ours.streams[env].append(tagged(obs, env, step), action, reward, terminal)
                theirs[env].append(tagged(obs, env, step), action, reward, terminal)
    return ours, theirs


@pytest.mark.parametrize("limit", [6000, 1500])  # 1500: every stream's ring has wrapped
def test_every_sampled_transition_is_one_envs_as_sequential_memory_gives_it(per_env_transitions, limit):
    ours, theirs = _fill(limit, per_env_transitions)
    assert ours.nb_entries == sum(m.nb_entries for m in theirs) <= limit
    checked, terminals, envs_seen = 0, 0, set()
    for _ in range(40):
        batch = ours.sample_batch(64)
        assert batch.state0.dtype == np.uint8 and batch.state0.shape == (64, 4, 84, 84)
        for i in range(64):
            env, number = tag_of(batch.state0[i, -1])
            frames = [f for f in list(batch.state0[i]) + [batch.state1[i, -1]] if f.any()]
            assert {tag_of(f)[0] for f in frames} == {env}  # no frame of another env, in either state
            stream = ours.streams[env]
            logical = number - (stream.total_appended - stream.nb_entries)
            (expected,) = theirs[env].sample(1, batch_idxs=[logical])
            np.testing.assert_array_equal(batch.state0[i], np.stack(expected.state0))
            np.testing.assert_array_equal(batch.state1[i], np.stack(expected.state1))
            assert (batch.action[i], batch.reward[i], batch.terminal1[i]) == \
                (expected.action, expected.reward, expected.terminal1)
            checked, terminals, envs_seen = checked + 1, terminals + bool(expected.terminal1), envs_seen | {env}
    assert checked == 40 * 64 and terminals >= 3 and envs_seen == set(range(ENVS))


def test_sampling_is_uniform_over_all_stored_transitions(per_env_transitions):
    ours, _ = _fill(6000, per_env_transitions)  # streams of 900, 960 and 1020 entries (and their episode ends)
    counts = np.zeros(ENVS)
    for _ in range(300):
        batch = ours.sample_batch(32)
        for frame in batch.state0[:, -1]:
            counts[tag_of(frame)[0]] += 1
    stored = np.array([stream.nb_entries for stream in ours.streams], dtype=float)
    np.testing.assert_allclose(counts / counts.sum(), stored / stored.sum(), atol=0.02)


def test_limit_is_the_total_and_must_split_evenly():
    memory = StreamMemory(3000, window_length=4, streams=3)
    assert [stream.limit for stream in memory.streams] == [1000, 1000, 1000]
    with pytest.raises(ValueError, match="must be a multiple of the number of envs"):
        StreamMemory(3001, window_length=4, streams=3)


def test_entries_go_to_one_env_at_a_time(per_env_transitions):
    memory = StreamMemory(3000, window_length=4, streams=3)
    obs, action, reward, terminal = per_env_transitions[0][0]
    with pytest.raises(TypeError, match=r"memory.streams\[env\].append"):
        memory.append(obs, action, reward, terminal)
    with pytest.raises(ValueError, match="not enough entries"):
        memory.sample_batch(32)
