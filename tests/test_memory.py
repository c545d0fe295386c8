"""RingMemory against keras-rl2's SequentialMemory on the same real transitions."""
import random

import numpy as np
import pytest
from rl.core import Agent
from rl.memory import SequentialMemory
from rl.processors import MultiInputProcessor

from dqnkit.memory.ring import RingMemory
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


def _recent_states_of_both(ours, theirs, data, training=lambda i: True):
    """Feed both memories `data`; their get_recent_state before each append (the agent's order)."""
    pairs = []
    for i, (obs, action, reward, terminal) in enumerate(data):
        mine = ours.get_recent_state(obs)
        pairs.append((mine.copy() if isinstance(mine, np.ndarray) else mine, theirs.get_recent_state(obs)))
        ours.append(obs, action, reward, terminal, training=training(i))
        theirs.append(obs, action, reward, terminal, training=training(i))
    return pairs


@pytest.mark.parametrize("ignore", [False, True])
def test_recent_state_with_and_without_episode_boundaries_and_the_training_flag(ignore):
    """keras-rl2's window rules: cut at an episode end unless ignore_episode_boundaries; an append
    with training=False moves the window but stores no entry."""
    data = _float_transitions(60)
    ours = RingMemory(limit=30, window_length=3, ignore_episode_boundaries=ignore)
    theirs = SequentialMemory(limit=30, window_length=3, ignore_episode_boundaries=ignore)
    for mine, their in _recent_states_of_both(ours, theirs, data, training=lambda i: i % 7 != 3):
        np.testing.assert_array_equal(mine, _as_array(their))
    assert ours.nb_entries == theirs.nb_entries == 30
    assert ours.total_appended == sum(i % 7 != 3 for i in range(len(data)))


# -- observations of several inputs (keras-rl2's multi-input models) ---------------------------------

INPUT_DTYPES = (np.uint8, np.float32)


def _two_input_transitions(count=300, seed=0):
    """Observations as a two-input env gives them: a uint8 image and a float32 vector, per step."""
    rng = np.random.default_rng(seed)
    return [([rng.integers(0, 256, size=(5, 4), dtype=np.uint8), rng.random(3).astype(np.float32)],
             int(rng.integers(4)), float(rng.normal()), bool(i % 13 == 12)) for i in range(count)]


def _assert_same_inputs(ours, theirs):
    """Two states in keras-rl2's multi-input layout (observations, each a list of its inputs) hold
    the same values; ours keeps each input's dtype (keras-rl2 pads with float64 zeros)."""
    assert len(ours) == len(theirs)
    for our_observation, their_observation in zip(ours, theirs):
        assert len(our_observation) == len(their_observation) == len(INPUT_DTYPES)
        for mine, their, dtype in zip(our_observation, their_observation, INPUT_DTYPES):
            assert np.asarray(mine).dtype == dtype
            np.testing.assert_array_equal(mine, their)


@pytest.mark.parametrize("limit, ignore", [(1000, False), (150, False), (150, True)])  # 150: wrapped
def test_multi_input_observations_come_back_as_keras_rl2_gives_them(limit, ignore):
    data = _two_input_transitions()
    ours = RingMemory(limit=limit, window_length=3, ignore_episode_boundaries=ignore)
    theirs = SequentialMemory(limit=limit, window_length=3, ignore_episode_boundaries=ignore)
    for mine, their in _recent_states_of_both(ours, theirs, data):
        _assert_same_inputs(mine, their)
    assert ours.several_inputs
    idxs = [i for i in range(3, theirs.nb_entries - 1) if not theirs.terminals[i - 1]]
    our_sample, their_sample = ours.sample(len(idxs), batch_idxs=idxs), theirs.sample(len(idxs), batch_idxs=idxs)
    for a, b in zip(our_sample, their_sample):
        _assert_same_inputs(a.state0, b.state0)
        _assert_same_inputs(a.state1, b.state1)
        assert (a.action, a.reward, a.terminal1) == (b.action, b.reward, b.terminal1)
    # What keras-rl2 makes of them: MultiInputProcessor's per-input batches hold the same values.
    processor = MultiInputProcessor(nb_inputs=2)
    for our_batch, their_batch in zip(processor.process_state_batch([a.state0 for a in our_sample]),
                                      processor.process_state_batch([b.state0 for b in their_sample])):
        np.testing.assert_array_equal(our_batch, their_batch)


def test_sample_batch_of_multi_input_observations_is_one_array_per_input():
    memory = _filled(RingMemory, 200, _two_input_transitions(), seed=3)
    idxs = np.arange(4, 190)
    memory.rng = np.random.default_rng(0)
    batch = memory.sample_batch(len(idxs), idxs)
    memory.rng = np.random.default_rng(0)  # the same redraws
    experiences = memory.sample(len(idxs), idxs)
    assert [s.dtype for s in batch.state0] == [np.dtype(d) for d in INPUT_DTYPES]
    assert [s.shape for s in batch.state1] == [(len(idxs), 4, 5, 4), (len(idxs), 4, 3)]
    for k in range(2):
        np.testing.assert_array_equal(batch.state0[k], [[obs[k] for obs in e.state0] for e in experiences])
        np.testing.assert_array_equal(batch.state1[k], [[obs[k] for obs in e.state1] for e in experiences])


def test_multi_input_entries_and_sampler_survive_export_import_and_state():
    memory = _filled(RingMemory, 120, _two_input_transitions(), seed=4)
    memory.sample_batch(8)  # the generator has moved
    copy = RingMemory(limit=120, window_length=4)
    total = memory.total_appended
    entries = memory.export_entries(total - 120, total)
    assert sorted(entries) == ["actions", "observations_0", "observations_1", "rewards", "terminals"]
    copy.import_entries(total - 120, entries)
    copy.set_state(memory.get_state())
    assert copy.total_appended == total and copy.get_config() == memory.get_config()
    a, b = memory.sample_batch(32), copy.sample_batch(32)  # no indexes: each draws from its generator
    for field in ("action", "reward", "terminal1"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    for k in range(2):
        np.testing.assert_array_equal(a.state0[k], b.state0[k])
        np.testing.assert_array_equal(a.state1[k], b.state1[k])


def test_config_is_sequential_memorys():
    kwargs = dict(limit=70, window_length=3, ignore_episode_boundaries=True)
    assert RingMemory(**kwargs).get_config() == SequentialMemory(**kwargs).get_config()


def test_a_list_of_inputs_of_one_shape_and_dtype_is_stored_as_one_array():
    """np.asarray of such a list changes no value, and keras-rl2 reads the stacked array the same
    way (np.array of the batch, or MultiInputProcessor iterating each observation's inputs)."""
    rng = np.random.default_rng(5)
    data = [([rng.random(3), rng.random(3)], int(rng.integers(2)), 0.5, i % 9 == 8) for i in range(80)]
    ours, theirs = _filled(RingMemory, 100, data), _filled(SequentialMemory, 100, data)
    assert not ours.several_inputs and ours.observations.shape == (100, 2, 3)
    idxs = [i for i in range(4, 79) if not theirs.terminals[i - 1]]
    our_sample, their_sample = ours.sample(len(idxs), batch_idxs=idxs), theirs.sample(len(idxs), batch_idxs=idxs)
    np.testing.assert_array_equal(np.array([a.state0 for a in our_sample]), np.array([b.state0 for b in their_sample]))
    processor = MultiInputProcessor(nb_inputs=2)
    for our_batch, their_batch in zip(processor.process_state_batch([a.state1 for a in our_sample]),
                                      processor.process_state_batch([b.state1 for b in their_sample])):
        np.testing.assert_array_equal(our_batch, their_batch)


@pytest.mark.parametrize("first, later, message", [
    ([np.zeros(3), np.zeros(4)], [np.zeros(3), np.zeros(5)], r"holds 2 inputs \(float64 \(3,\), float64 \(4,\)\)"),
    ([np.zeros(3), np.zeros(4)], [np.zeros(3), np.zeros(4, dtype=np.float32)], "holds 2 inputs"),
    ([np.zeros(3), np.zeros(4)], [np.zeros(3), np.zeros(4), np.zeros(1)], "got 3 inputs"),
    ([np.zeros(3), np.zeros(4)], np.zeros(3), "got float64 observations of shape"),
    (np.zeros(3), [np.zeros(3), np.zeros(4)], "got 2 inputs"),
    ({"image": np.zeros(3)}, None, "numeric arrays, got an object array"),
    ([np.zeros(3), None], None, "numeric arrays, got an object array"),
    ([[np.zeros(3), np.zeros(4)], np.zeros(2)], None, "item 0 is neither"),
])
def test_an_observation_that_does_not_fit_is_refused_in_one_line(first, later, message):
    memory = RingMemory(limit=10, window_length=2)
    if later is None:  # refused by get_recent_state and by the first append
        with pytest.raises(ValueError, match=message):
            memory.get_recent_state(first)
        kept, later = 0, first
    else:
        memory.append(first, 0, 0.0, False)
        kept = 1
    with pytest.raises(ValueError, match=message) as refused:
        memory.append(later, 0, 0.0, False)
    assert "\n" not in str(refused.value)
    assert memory.total_appended == len(memory.recent_observations) == kept  # nothing of it was kept


# -- rewards and actions come back equal to what was appended ----------------------------------------

def _feed_both(data, limit=100, window_length=2):
    ours = RingMemory(limit=limit, window_length=window_length)
    theirs = SequentialMemory(limit=limit, window_length=window_length)
    for obs, action, reward, terminal in data:
        ours.append(obs, action, reward, terminal)
        theirs.append(obs, action, reward, terminal)
    idxs = [i for i in range(window_length, theirs.nb_entries - 1) if not theirs.terminals[i - 1]]
    return ours, list(zip(ours.sample(len(idxs), batch_idxs=idxs), theirs.sample(len(idxs), batch_idxs=idxs)))


def _fit_like_rewards(count=40):
    """What keras-rl2's fit appends: rewards summed as np.float32, and (last observation, action,
    Python 0.0, False) after each episode's end."""
    data = []
    for i in range(count):
        data.append((np.array(i % 5), i % 3, np.float32(0) + (i % 5) / 10, i % 5 == 4))
        if i % 5 == 4:
            data.append((np.array(5), 0, 0.0, False))
    return data


def test_float32_rewards_stay_float32_and_equal_to_what_was_appended():
    ours, pairs = _feed_both(_fit_like_rewards())
    assert ours.rewards.dtype == np.float32  # fit's Python 0.0 fits in float32: nothing widened
    for a, b in pairs:
        assert a.reward == b.reward and type(a.reward) is np.float32
        assert a.reward == float(np.float64(b.reward).round(1))  # keras-rl2's test: reward == .4
        assert a.action == b.action


def test_a_reward_that_float32_cannot_hold_widens_the_ring_and_keeps_every_value():
    data = _fit_like_rewards(20) + [(np.array(1), 1, 0.1, False)] + _fit_like_rewards(20)
    ours, pairs = _feed_both(data)
    assert ours.rewards.dtype == np.float64
    assert all(a.reward == b.reward for a, b in pairs)
    assert any(type(b.reward) is np.float32 for a, b in pairs) and any(b.reward == 0.1 for a, b in pairs)


def test_int_rewards_stay_ints_until_a_float_comes():
    data = [(np.zeros(2), 0, int(i % 3) - 1, i % 6 == 5) for i in range(30)]
    ours, pairs = _feed_both(data)
    assert ours.rewards.dtype == np.int64 and all(a.reward == b.reward for a, b in pairs)
    ours, pairs = _feed_both(data + [(np.zeros(2), 0, 0.25, False)] + data)
    assert ours.rewards.dtype == np.float64 and all(a.reward == b.reward for a, b in pairs)


@pytest.mark.parametrize("first, later, message", [
    (0.5, 2 ** 60 + 1, "cannot hold float64 and int64 rewards together exactly"),
    (2 ** 60 + 1, 0.5, "cannot hold int64 and float64 rewards together exactly"),
    (0.5, None, "rewards as numbers, got object"),
    (None, 0.5, "rewards as numbers, got object"),
    (0.5, np.array([0.5]), "a reward as one number, got an array of shape"),
])
def test_a_reward_no_dtype_holds_exactly_is_refused(first, later, message):
    memory = RingMemory(limit=10, window_length=2)
    if first is None:
        first, later = later, first
        with pytest.raises(ValueError, match=message):
            memory.append(np.zeros(2), 0, later, False)
        assert memory.total_appended == 0
        return
    memory.append(np.zeros(2), 0, first, False)
    with pytest.raises(ValueError, match=message):
        memory.append(np.zeros(2), 0, later, False)
    assert memory.total_appended == 1 and memory.rewards[0] == first


def test_continuous_actions_widen_to_hold_a_float64_action():
    rng = np.random.default_rng(6)
    data = [(rng.random(3), rng.random(2).astype(np.float32), 0.0, False) for _ in range(20)]
    data += [(rng.random(3), rng.random(2), 0.0, False) for _ in range(20)]  # float64: float32 would round
    ours, pairs = _feed_both(data, window_length=1)
    assert ours.actions.dtype == np.float64
    for a, b in pairs:
        np.testing.assert_array_equal(a.action, b.action)


def test_entries_of_a_checkpoint_from_before_rewards_kept_their_dtype_still_load():
    """Checkpoints written before this version hold rewards as float64, whatever was appended (and
    older ones call observations "frames"): they load, and appending goes on as before."""
    data = [(np.full(2, i, dtype=np.uint8), i % 3, int(i % 4 == 0), i % 9 == 8) for i in range(60)]
    observations, actions, rewards, terminals = zip(*data[:40])
    old_entries = {"frames": np.array(observations), "actions": np.array(actions),
                   "rewards": np.array(rewards, dtype=np.float64), "terminals": np.array(terminals)}
    ours = RingMemory(limit=100, window_length=2)
    ours.import_entries(0, old_entries)
    theirs = SequentialMemory(limit=100, window_length=2)
    for obs, action, reward, terminal in data[:40]:
        theirs.append(obs, action, reward, terminal)
    for obs, action, reward, terminal in data[40:]:
        ours.append(obs, action, reward, terminal)
        theirs.append(obs, action, reward, terminal)
    assert ours.rewards.dtype == np.float64 and ours.total_appended == 60
    idxs = [i for i in range(2, 59) if not theirs.terminals[i - 1]]
    for a, b in zip(ours.sample(len(idxs), batch_idxs=idxs), theirs.sample(len(idxs), batch_idxs=idxs)):
        np.testing.assert_array_equal(_as_array(a.state0), _as_array(b.state0))
        assert (a.action, a.reward, a.terminal1) == (b.action, b.reward, b.terminal1)


class Countdown:
    """A toy env in the old gym API keras-rl2's fit speaks: counts 5, 4, ... 0 (the end) in 0-d
    int arrays; each step's reward is the new count / 10."""

    def reset(self):
        self.count = 5
        return np.array(self.count)

    def step(self, action):
        self.count -= 1
        return np.array(self.count), self.count / 10, self.count == 0, {}


class Recorder(Agent):
    """A keras-rl2 agent that plays the observation as its action and appends to every memory."""

    def __init__(self, *memories):
        super().__init__()
        self.memories = memories

    def forward(self, observation):
        self.recent_observation = observation
        return observation

    def backward(self, reward, terminal):
        for memory in self.memories:
            memory.append(self.recent_observation, self.recent_observation, reward, terminal)
        return []

    def compile(self):
        self.compiled = True


def test_what_keras_rl2s_fit_appends_comes_back_as_from_sequential_memory():
    """keras-rl2's test_fit_observations: fit sums rewards as np.float32 (and appends Python 0.0
    after each episode's end); a sampled reward equals the literal count / 10, as keras-rl2 checks."""
    ours, theirs = RingMemory(100, window_length=2), SequentialMemory(100, window_length=2)
    agent = Recorder(ours, theirs)
    agent.compile()
    agent.fit(Countdown(), nb_steps=30, verbose=0)
    assert ours.nb_entries == theirs.nb_entries > 30  # with the extra append after each episode
    idxs = [i for i in range(2, theirs.nb_entries - 1) if not theirs.terminals[i - 1]]
    for a, b in zip(ours.sample(len(idxs), batch_idxs=idxs), theirs.sample(len(idxs), batch_idxs=idxs)):
        np.testing.assert_array_equal(a.state0, b.state0)
        np.testing.assert_array_equal(a.state1, b.state1)
        assert (a.action, a.reward, a.terminal1) == (b.action, b.reward, b.terminal1)
        assert type(a.reward) is np.float32 and a.reward == int(a.state1[-1]) / 10
