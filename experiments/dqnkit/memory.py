"""A replay memory with keras-rl2's ``Memory`` interface on preallocated numpy ring buffers.

keras-rl2's ``SequentialMemory`` keeps four deques of Python objects and builds every sampled
state with Python loops and float64 zero padding. ``RingMemory`` stores the same entries -
(observation, action, reward, terminal) per ``append`` call, in the same order, with the same
meaning - in four arrays, each frame once as uint8, and stacks windows with numpy indexing.

Entry semantics (identical to ``SequentialMemory``): entry ``i`` holds the observation the
agent acted on, the action, the (clipped) reward and whether the episode ended *after* that
action. A sampled transition at logical index ``idx`` (0 = oldest kept entry) is::

    state0   = frames idx-W .. idx-1, cut at the previous episode's end and zero padded
    action, reward, terminal1 = entry idx-1
    state1   = state0[1:] + frame idx

and indexes whose entry ``idx-2`` is terminal are redrawn (that transition would cross a
reset). ``tests/test_memory.py`` checks this against ``SequentialMemory`` on real transitions.

The memory also counts every append (``total_appended``): checkpoints use it to write only the
entries that are new since the previous checkpoint (``export_entries``/``import_entries``).
"""
from collections import namedtuple

import numpy as np
from rl.memory import Experience, Memory

Batch = namedtuple("Batch", "state0 action reward terminal1 state1")


class RingMemory(Memory):
    """``Memory`` with uint8 frames in one preallocated ring; see the module docstring."""

    def __init__(self, limit, window_length, frame_shape=(84, 84), seed=None, ignore_episode_boundaries=False):
        super().__init__(window_length=window_length, ignore_episode_boundaries=ignore_episode_boundaries)
        if limit < window_length + 2:
            raise ValueError(f"limit must be at least window_length + 2, got {limit}")
        self.limit = int(limit)
        self.frame_shape = tuple(frame_shape)
        self.frames = np.zeros((self.limit,) + self.frame_shape, dtype=np.uint8)
        self.actions = np.zeros(self.limit, dtype=np.int32)
        self.rewards = np.zeros(self.limit, dtype=np.float32)
        self.terminals = np.zeros(self.limit, dtype=bool)
        self.total_appended = 0  # every append ever made; Python int, never wraps
        self.rng = np.random.default_rng(seed)
        self._state_buffer = np.zeros((window_length,) + self.frame_shape, dtype=np.uint8)
        self._window_offsets = np.arange(window_length)

    # -- keras-rl2's Memory interface ---------------------------------------------------------------
    @property
    def nb_entries(self):
        return min(self.total_appended, self.limit)

    def append(self, observation, action, reward, terminal, training=True):
        super().append(observation, action, reward, terminal, training=training)
        if not training:
            return
        slot = self.total_appended % self.limit
        self.frames[slot] = observation
        self.actions[slot] = action
        self.rewards[slot] = reward
        self.terminals[slot] = terminal
        self.total_appended += 1

    def get_recent_state(self, current_observation):
        """The current window as one (window_length, 84, 84) uint8 array.

        Same frames and zero padding as ``Memory.get_recent_state``, which returns a list padded
        with float64 zeros; the array is reused between calls (the caller copies if it keeps it).
        """
        state = self._state_buffer
        state[-1] = current_observation
        recent = self.recent_observations
        terminals = self.recent_terminals
        filled = 1
        idx = len(recent) - 1
        for offset in range(self.window_length - 1):
            current_idx = idx - offset
            if current_idx < 0:
                break
            if not self.ignore_episode_boundaries and current_idx - 1 >= 0 and terminals[current_idx - 1]:
                break
            state[-2 - offset] = recent[current_idx]
            filled += 1
        state[: self.window_length - filled] = 0
        return state

    def sample(self, batch_size, batch_idxs=None):
        """A list of keras-rl2 ``Experience`` tuples, as ``SequentialMemory.sample`` returns."""
        batch = self.sample_batch(batch_size, batch_idxs)
        return [Experience(state0=list(batch.state0[i]), action=int(batch.action[i]), reward=float(batch.reward[i]),
                           state1=list(batch.state1[i]), terminal1=bool(batch.terminal1[i]))
                for i in range(batch_size)]

    def get_config(self):
        config = super().get_config()
        config["limit"] = self.limit
        return config

    # -- fast path ---------------------------------------------------------------------------------
    def sample_batch(self, batch_size, batch_idxs=None):
        """A ``Batch`` of arrays: uint8 states (B, W, 84, 84), int32 actions, float32 rewards.

        ``batch_idxs`` are keras-rl2's indexes (drawn from [window_length, nb_entries - 1) and
        shifted by one, as ``SequentialMemory.sample`` does); without them they are drawn
        without replacement from this memory's own generator.
        """
        n = self.nb_entries
        if n < self.window_length + 2:
            raise ValueError(f"not enough entries in the memory to sample: {n}")
        if batch_idxs is None:
            idx = self._draw(self.window_length, n - 1, batch_size) + 1
        else:
            idx = np.asarray(batch_idxs, dtype=np.int64) + 1
        # Redraw indexes whose previous entry ended an episode (the transition crosses a reset).
        bad = self._terminal_at(idx - 2)
        while bad.any():
            idx[bad] = self.rng.integers(self.window_length + 1, n, size=int(bad.sum()))
            bad = self._terminal_at(idx - 2)

        w = self.window_length
        # positions[:, j] is the logical index of window slot j of state0; slot w-1 is idx-1.
        positions = idx[:, None] - w + self._window_offsets[None, :]
        # Slot j < w-1 holds frame p = positions[:, j]. SequentialMemory walks back from the newest
        # frame and stops at the first frame whose *previous* entry ended an episode, so slot j is
        # kept only if none of the entries p-1 .. idx-3 is terminal.
        if self.ignore_episode_boundaries:
            keep = np.ones(positions.shape, dtype=bool)
        else:
            ends = self._terminal_at(positions[:, :-1] - 1)
            ended_at_or_after = np.flip(np.logical_or.accumulate(np.flip(ends, axis=1), axis=1), axis=1)
            keep = np.concatenate([~ended_at_or_after, np.ones((len(idx), 1), dtype=bool)], axis=1)
        physical = self._physical(positions)
        state0 = self.frames[physical]
        state0[~keep] = 0
        state1 = np.empty_like(state0)
        state1[:, :-1] = state0[:, 1:]
        state1[:, -1] = self.frames[self._physical(idx)]
        last = self._physical(idx - 1)
        return Batch(state0=state0, action=self.actions[last], reward=self.rewards[last],
                     terminal1=self.terminals[last], state1=state1)

    def _draw(self, low, high, size):
        if high - low >= size:
            return low + self.rng.choice(high - low, size=size, replace=False)
        return self.rng.integers(low, high, size=size)

    def _oldest_slot(self):
        return self.total_appended % self.limit if self.total_appended > self.limit else 0

    def _physical(self, logical):
        return (self._oldest_slot() + logical) % self.limit

    def _terminal_at(self, logical):
        return self.terminals[self._physical(logical)]

    # -- checkpoint support ------------------------------------------------------------------------
    def export_entries(self, start, stop):
        """Entries with append numbers [start, stop) as arrays (they must still be in memory)."""
        if not (self.total_appended - self.nb_entries <= start <= stop <= self.total_appended):
            raise ValueError(f"entries {start}..{stop} are not in memory (it holds "
                             f"{self.total_appended - self.nb_entries}..{self.total_appended})")
        slots = np.arange(start, stop) % self.limit
        return {"frames": self.frames[slots], "actions": self.actions[slots],
                "rewards": self.rewards[slots], "terminals": self.terminals[slots]}

    def import_entries(self, start, arrays):
        """Put entries numbered from `start` back into their slots (inverse of export_entries)."""
        count = len(arrays["actions"])
        slots = np.arange(start, start + count) % self.limit
        self.frames[slots] = arrays["frames"]
        self.actions[slots] = arrays["actions"]
        self.rewards[slots] = arrays["rewards"]
        self.terminals[slots] = arrays["terminals"]
        self.total_appended = max(self.total_appended, start + count)
