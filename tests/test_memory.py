"""RingMemory against keras-rl2's SequentialMemory on the same real transitions."""
import random

import numpy as np
import pytest
from rl.memory import SequentialMemory

from dqnkit.memory import RingMemory
from frames import breakout_transitions
from processors import AtariProcessor


@pytest.fixture(scope="module")
def transitions():
    # Short random Breakout episodes: many episode boundaries inside windows.
    return breakout_transitions(1500, AtariProcessor())


def _filled(memory_class, limit, transitions, **kwargs):
    memory = memory_class(limit=limit, window_length=4, **kwargs)
    for obs, action, reward, terminal in transitions:
        memory.append(obs, action, reward, terminal)
    return memory


def _as_array(state):
    return np.stack([np.asarray(x, dtype=np.float64) for x in state])


@pytest.mark.parametrize("limit", [5000, 700])  # 700: the ring has wrapped around twice
def test_same_experiences_for_the_same_indexes(transitions, limit):
    ours, theirs = _filled(RingMemory, limit, transitions), _filled(SequentialMemory, limit, transitions)
    assert ours.nb_entries == theirs.nb_entries == min(limit, len(transitions))
    # Every index keras-rl2 may draw, in batches; includes indexes right after episode ends.
    candidates = np.arange(4, theirs.nb_entries - 1)
    terminals_seen = 0
    for start in range(0, len(candidates), 64):
        idxs = candidates[start:start + 64]
        random.seed(start)  # SequentialMemory redraws with `random`; make its redraws ours
        ours.rng = np.random.default_rng(0)
        mine = ours.sample(len(idxs), batch_idxs=idxs)
        for i, (a, b) in enumerate(zip(mine, theirs.sample(len(idxs), batch_idxs=idxs))):
            if theirs.terminals[idxs[i] - 1]:  # redrawn by both, with different generators
                continue
            np.testing.assert_array_equal(_as_array(a.state0), _as_array(b.state0))
            np.testing.assert_array_equal(_as_array(a.state1), _as_array(b.state1))
            assert (a.action, a.reward, a.terminal1) == (b.action, b.reward, b.terminal1)
            terminals_seen += b.terminal1
    assert terminals_seen >= 2  # the comparison covered episode ends


def test_recent_state_matches_keras_rl(transitions):
    ours = RingMemory(limit=100, window_length=4)
    theirs = SequentialMemory(limit=100, window_length=4)
    for obs, action, reward, terminal in transitions[:600]:
        np.testing.assert_array_equal(ours.get_recent_state(obs), _as_array(theirs.get_recent_state(obs)))
        ours.append(obs, action, reward, terminal)
        theirs.append(obs, action, reward, terminal)


def test_sample_batch_is_uint8_and_never_crosses_a_reset(transitions):
    memory = _filled(RingMemory, 2000, transitions, seed=1)
    batch = memory.sample_batch(256)
    assert batch.state0.dtype == np.uint8 and batch.state0.shape == (256, 4, 84, 84)
    np.testing.assert_array_equal(batch.state1[:, :-1], batch.state0[:, 1:])
    assert batch.action.dtype == np.int64 and batch.reward.dtype == np.float64  # as appended: Python int and float


def test_export_import_round_trip(transitions):
    memory = _filled(RingMemory, 700, transitions)
    copy = RingMemory(limit=700, window_length=4)
    total = memory.total_appended
    copy.import_entries(total - 700, memory.export_entries(total - 700, total))
    assert copy.total_appended == total
    idxs = np.arange(4, 600)
    memory.rng, copy.rng = np.random.default_rng(0), np.random.default_rng(0)  # same redraws
    for a, b in zip(memory.sample(len(idxs), idxs), copy.sample(len(idxs), idxs)):
        np.testing.assert_array_equal(_as_array(a.state0), _as_array(b.state0))
    with pytest.raises(ValueError, match="not in memory"):
        memory.export_entries(0, 10)


def _float_transitions(count=400, seed=0):
    """Float observations in [0, 1) (uint8 storage would turn them all into 0) and float rewards."""
    rng = np.random.default_rng(seed)
    return [(rng.random((3, 2)).astype(np.float32), int(rng.integers(4)), float(rng.normal()) / 3, bool(i % 11 == 10))
            for i in range(count)]


@pytest.mark.parametrize("limit", [1000, 150])
def test_float_observations_and_rewards_come_back_as_stored(limit):
    data = _float_transitions()
    ours, theirs = _filled(RingMemory, limit, data), _filled(SequentialMemory, limit, data)
    idxs = [i for i in range(4, theirs.nb_entries - 1) if not theirs.terminals[i - 1]]
    for a, b in zip(ours.sample(len(idxs), batch_idxs=idxs), theirs.sample(len(idxs), batch_idxs=idxs)):
        assert np.asarray(a.state0).dtype == np.float32
        np.testing.assert_array_equal(np.asarray(a.state0), _as_array(b.state0))
        np.testing.assert_array_equal(np.asarray(a.state1), _as_array(b.state1))
        assert a.reward == b.reward and a.action == b.action and a.terminal1 == b.terminal1
    recent = ours.get_recent_state(data[0][0])
    assert recent.dtype == np.float32 and recent.shape == (4, 3, 2)


def test_continuous_actions_and_a_window_of_one():
    rng = np.random.default_rng(1)
    data = [(rng.random(3), rng.random(2).astype(np.float32), float(rng.random()), False) for _ in range(50)]
    ours = RingMemory(limit=40, window_length=1)
    theirs = SequentialMemory(limit=40, window_length=1)
    for obs, action, reward, terminal in data:
        ours.append(obs, action, reward, terminal)
        theirs.append(obs, action, reward, terminal)
    idxs = list(range(1, 38))
    for a, b in zip(ours.sample(len(idxs), batch_idxs=idxs), theirs.sample(len(idxs), batch_idxs=idxs)):
        np.testing.assert_array_equal(a.action, b.action)
        np.testing.assert_array_equal(np.asarray(a.state1), _as_array(b.state1))


def test_a_limit_below_window_plus_two_is_accepted_like_sequential_memory():
    """A test-time agent only needs the window of recent observations: keras-rl2 allows limit=1."""
    ours, theirs = RingMemory(limit=1, window_length=4), SequentialMemory(limit=1, window_length=4)
    for obs, action, reward, terminal in _float_transitions(10):
        np.testing.assert_array_equal(ours.get_recent_state(obs), _as_array(theirs.get_recent_state(obs)))
        ours.append(obs, action, reward, terminal)
        theirs.append(obs, action, reward, terminal)
    assert ours.nb_entries == theirs.nb_entries == 1
    with pytest.raises(ValueError, match="not enough entries"):
        ours.sample_batch(1)
    with pytest.raises(ValueError, match="limit must be a positive"):
        RingMemory(limit=0, window_length=4)


def test_an_observation_of_another_dtype_or_shape_is_refused_not_converted():
    memory = RingMemory(limit=10, window_length=2)
    memory.append(np.zeros((84, 84), dtype=np.uint8), 0, 0.0, False)
    with pytest.raises(ValueError, match="uint8 observations of shape"):
        memory.append(np.full((84, 84), 0.5, dtype=np.float32), 0, 0.0, False)
    with pytest.raises(ValueError, match="uint8 observations of shape"):
        memory.append(np.zeros((84, 80), dtype=np.uint8), 0, 0.0, False)
    with pytest.raises(ValueError, match="actions"):
        memory.append(np.zeros((84, 84), dtype=np.uint8), 0.7, 0.0, False)
    assert memory.total_appended == 1
