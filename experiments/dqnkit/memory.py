"""A replay memory with keras-rl2's ``Memory`` interface on preallocated numpy ring buffers.

keras-rl2's ``SequentialMemory`` keeps four deques of Python objects and builds every sampled
state with Python loops and float64 zero padding. ``RingMemory`` stores the same entries -
(observation, action, reward, terminal) per ``append`` call, in the same order, with the same
meaning - in four arrays, and stacks windows with numpy indexing.

What is stored, and how (what makes it a drop-in for ``SequentialMemory``):

- observations keep the dtype and shape of the first one appended (84x84 uint8 Atari frames
  stay one byte per pixel; float observations stay float); every later one must match, or
  ``append`` stops with one line instead of converting silently;
- actions likewise (integers for DQN, float vectors for continuous-action agents);
- rewards as float64, so every int or float reward comes back with the value it had;
- any ``limit`` >= 1 is accepted; like ``SequentialMemory``, sampling needs at least
  ``window_length + 2`` entries.

Entry semantics (identical to ``SequentialMemory``): entry ``i`` holds the observation the
agent acted on, the action, the reward and whether the episode ended *after* that action. A
sampled transition at logical index ``idx`` (0 = oldest kept entry) is::

    state0   = observations idx-W .. idx-1, cut at the previous episode's end and zero padded
    action, reward, terminal1 = entry idx-1
    state1   = state0[1:] + observation idx

and indexes whose entry ``idx-2`` is terminal are redrawn (that transition would cross a
reset). ``tests/test_memory.py`` checks this against ``SequentialMemory``.

The memory also counts every append (``total_appended``): checkpoints use it to write only the
entries that are new since the previous checkpoint (``export_entries``/``import_entries``).
"""
from collections import namedtuple

import numpy as np
from rl.memory import Experience, Memory

Batch = namedtuple("Batch", "state0 action reward terminal1 state1")


class RingMemory(Memory):
    """``Memory`` with every entry in one preallocated ring of arrays; see the module docstring."""

    def __init__(self, limit, window_length, seed=None, ignore_episode_boundaries=False):
        super().__init__(window_length=window_length, ignore_episode_boundaries=ignore_episode_boundaries)
        if int(limit) < 1 or int(limit) != limit:
            raise ValueError(f"limit must be a positive number of entries, got {limit!r}")
        if int(window_length) < 1 or int(window_length) != window_length:
            raise ValueError(f"window_length must be a positive integer, got {window_length!r}")
        self.limit = int(limit)
        # Allocated on the first append (or import), when the observation's dtype and shape are known.
        self.observations = None
        self.actions = None
        self.rewards = np.zeros(self.limit, dtype=np.float64)
        self.terminals = np.zeros(self.limit, dtype=bool)
        self.total_appended = 0  # every append ever made; Python int, never wraps
        self.rng = np.random.default_rng(seed)
        self._state_buffer = None
        self._window_offsets = np.arange(window_length)

    def _allocate(self, observation, action):
        self.observations = np.zeros((self.limit,) + observation.shape, dtype=observation.dtype)
        self.actions = np.zeros((self.limit,) + action.shape, dtype=action.dtype)

    def _allocate_window(self, observation):
        self._state_buffer = np.zeros((self.window_length,) + observation.shape, dtype=observation.dtype)

    # -- keras-rl2's Memory interface ---------------------------------------------------------------
    @property
    def nb_entries(self):
        return min(self.total_appended, self.limit)

    def append(self, observation, action, reward, terminal, training=True):
        super().append(observation, action, reward, terminal, training=training)
        if not training:
            return
        observation, action = np.asarray(observation), np.asarray(action)
        if self.observations is None:
            self._allocate(observation, action)
        elif observation.dtype != self.observations.dtype or observation.shape != self.observations.shape[1:]:
            raise ValueError(f"RingMemory holds {self.observations.dtype} observations of shape "
                             f"{self.observations.shape[1:]}, got {observation.dtype} {observation.shape}; "
                             "give every observation the same dtype and shape (a processor can)")
        if action.shape != self.actions.shape[1:] or not np.can_cast(action.dtype, self.actions.dtype, "same_kind"):
            raise ValueError(f"RingMemory holds {self.actions.dtype} actions of shape {self.actions.shape[1:]}, "
                             f"got {action.dtype} {action.shape}")
        slot = self.total_appended % self.limit
        self.observations[slot] = observation
        self.actions[slot] = action
        self.rewards[slot] = reward
        self.terminals[slot] = terminal
        self.total_appended += 1

    def get_recent_state(self, current_observation):
        """The current window as one (window_length, *observation shape) array.

        Same observations and zero padding as ``Memory.get_recent_state``, which returns a list
        padded with float64 zeros; the array is reused between calls (copy it to keep it).
        """
        current_observation = np.asarray(current_observation)
        state = self._state_buffer
        if state is None or state.shape[1:] != current_observation.shape or state.dtype != current_observation.dtype:
            self._allocate_window(current_observation)
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
        return [Experience(state0=list(batch.state0[i]), action=batch.action[i], reward=batch.reward[i],
                           state1=list(batch.state1[i]), terminal1=bool(batch.terminal1[i]))
                for i in range(batch_size)]

    def get_config(self):
        config = super().get_config()
        config["limit"] = self.limit
        return config

    # -- fast path ---------------------------------------------------------------------------------
    def sample_batch(self, batch_size, batch_idxs=None):
        """A ``Batch`` of arrays: states (B, W, *observation shape) in the stored dtype, actions as
        stored, float64 rewards, bool terminals.

        ``batch_idxs`` are keras-rl2's indexes (drawn from [window_length, nb_entries - 1) and
        shifted by one, as ``SequentialMemory.sample`` does); without them they are drawn
        without replacement from this memory's own generator.
        """
        n = self.nb_entries
        if n < self.window_length + 2:
            raise ValueError(f"not enough entries in the memory to sample: {n} (needs window_length + 2 = "
                             f"{self.window_length + 2})")
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
        # Slot j < w-1 holds entry p = positions[:, j]. SequentialMemory walks back from the newest
        # entry and stops at the first one whose *previous* entry ended an episode, so slot j is
        # kept only if none of the entries p-1 .. idx-3 is terminal.
        if self.ignore_episode_boundaries:
            keep = np.ones(positions.shape, dtype=bool)
        else:
            ends = self._terminal_at(positions[:, :-1] - 1)
            ended_at_or_after = np.flip(np.logical_or.accumulate(np.flip(ends, axis=1), axis=1), axis=1)
            keep = np.concatenate([~ended_at_or_after, np.ones((len(idx), 1), dtype=bool)], axis=1)
        state0 = self.observations[self._physical(positions)]
        state0[~keep] = 0
        state1 = np.empty_like(state0)
        state1[:, :-1] = state0[:, 1:]
        state1[:, -1] = self.observations[self._physical(idx)]
        last = self._physical(idx - 1)
        return Batch(state0=state0, action=self.actions[last], reward=self.rewards[last],
                     terminal1=self.terminals[last], state1=state1)

    def _draw(self, low, high, size):
        if high - low >= size:
            return low + self.rng.choice(high - low, size=size, replace=False)
        return self.rng.integers(low, high, size=size)  # SequentialMemory also repeats indexes here

    def _oldest_slot(self):
        return self.total_appended % self.limit if self.total_appended > self.limit else 0

    def _physical(self, logical):
        return (self._oldest_slot() + logical) % self.limit

    def _terminal_at(self, logical):
        return self.terminals[self._physical(logical)]

    # -- checkpoint support ------------------------------------------------------------------------
    def get_state(self):
        """The sampler's generator state (JSON-able). The entries themselves go to checkpoints
        incrementally, through `export_entries`. The window of recent observations is not
        saved: checkpoints are taken between games, where the window starts afresh (the last
        entry before it follows a terminal one)."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state):
        self.rng.bit_generator.state = state["rng"]

    def export_entries(self, start, stop):
        """Entries with append numbers [start, stop) as arrays (they must still be in memory)."""
        if not (self.total_appended - self.nb_entries <= start <= stop <= self.total_appended):
            raise ValueError(f"entries {start}..{stop} are not in memory (it holds "
                             f"{self.total_appended - self.nb_entries}..{self.total_appended})")
        slots = np.arange(start, stop) % self.limit
        if self.observations is None:  # nothing appended yet
            return {}
        return {"observations": self.observations[slots], "actions": self.actions[slots],
                "rewards": self.rewards[slots], "terminals": self.terminals[slots]}

    def import_entries(self, start, arrays):
        """Put entries numbered from `start` back into their slots (inverse of export_entries)."""
        if not arrays:
            return
        # Checkpoints written before observations kept their dtype called them "frames".
        observations = arrays["observations"] if "observations" in arrays else arrays["frames"]
        count = len(arrays["actions"])
        if self.observations is None and count:
            self._allocate(observations[0], arrays["actions"][0])
        slots = np.arange(start, start + count) % self.limit
        self.observations[slots] = observations
        self.actions[slots] = arrays["actions"]
        self.rewards[slots] = arrays["rewards"]
        self.terminals[slots] = arrays["terminals"]
        self.total_appended = max(self.total_appended, start + count)
