"""A replay memory with keras-rl2's ``Memory`` interface on preallocated numpy ring buffers.

keras-rl2's ``SequentialMemory`` keeps four deques of Python objects and builds every sampled
state with Python loops and float64 zero padding. ``RingMemory`` stores the same entries -
(observation, action, reward, terminal) per ``append`` call, in the same order, with the same
meaning - in preallocated arrays ("rings"), and stacks windows with numpy indexing.

What is stored, and how (what makes it a drop-in for ``SequentialMemory``):

- observations keep the dtype and shape of the first one appended (84x84 uint8 Atari frames
  stay one byte per pixel; float observations stay float); every later one must match, or
  ``append`` stops with one line instead of converting silently;
- an observation that is a list or tuple of arrays of different shapes or dtypes (keras-rl2's
  multi-input models, e.g. an image and a vector, with ``MultiInputProcessor``) is stored as
  several inputs, each in a ring of its own dtype and shape; ``sample`` and
  ``get_recent_state`` give each observation back as a list of its inputs, in keras-rl2's
  layout. A list or tuple whose items share one shape and dtype is stored as one array
  (``np.asarray`` of it changes no value), which keras-rl2 reads the same way. Dicts and other
  objects that are not numbers are refused;
- actions and rewards keep the dtype of the first one appended and widen when a later value
  does not fit it exactly: keras-rl2's ``fit`` sums rewards as np.float32 and appends a Python
  0.0 at each episode's end, which float32 holds, so its rewards stay float32; a Python 0.1
  would widen them to float64. Every value comes back equal (``==``) to what was appended, as
  ``SequentialMemory`` gives back the appended object itself. A value no widening holds exactly
  (an int beyond 2**53 among floats), or an action of another kind (a float where ints were
  stored), is refused;
- any ``limit`` >= 1 is accepted; like ``SequentialMemory``, sampling needs at least
  ``window_length + 2`` entries (``n_step - 1`` more for n-step returns).

Entry semantics (identical to ``SequentialMemory``): entry ``i`` holds the observation the
agent acted on, the action, the reward and whether the episode ended *after* that action. A
sampled transition at logical index ``idx`` (0 = oldest kept entry) is::

    state0   = observations idx-W .. idx-1, cut at the previous episode's end and zero padded
    action, reward, terminal1 = entry idx-1
    state1   = state0[1:] + observation idx

and indexes whose entry ``idx-2`` is terminal are redrawn (that transition would cross a
reset). ``tests/test_memory.py`` checks this against ``SequentialMemory``.

n-step returns (``sample_batch(..., n_step=n, gamma=g)``, not keras-rl2's: its ``sample`` and
``batch_idxs`` keep their one-step meaning) draw only transitions whose n entries are stored, and
give the discounted sum of rewards idx-1 .. idx+n-2 cut at an episode's end, with state1 the
window ending at entry idx+n-1 (``n_step_batch_at``; ``tests/test_n_step.py``).

The memory also counts every append (``total_appended``): checkpoints use it to write only the
entries that are new since the previous checkpoint (``export_entries``/``import_entries``).
"""
from collections import namedtuple
from itertools import islice

import numpy as np
from rl.memory import Experience, Memory

Batch = namedtuple("Batch", "state0 action reward terminal1 state1")

# Dtype families: actions may widen within theirs (int32 -> int64, float32 -> float64), never
# across (a float action in an int ring would be truncated by the agent).
_FAMILY = {"b": "bool", "i": "integer", "u": "integer", "f": "float"}


def _as_stored(observation):
    """`observation` as RingMemory stores it: one array, or a list of arrays (one per input).

    An array stays as it is. A list or tuple is one array if its items share one shape and dtype,
    otherwise one array per item: the observation of a multi-input model."""
    if not isinstance(observation, (list, tuple)):
        return np.asarray(observation)
    items = []
    for i, item in enumerate(observation):
        try:
            items.append(np.asarray(item))
        except ValueError:  # numpy's "inhomogeneous shape": an input that is itself a list of inputs
            raise ValueError(f"RingMemory stores an observation as one array or a list/tuple of arrays "
                             f"(one per model input); item {i} is neither: give each input as one array") from None
    if all(item.shape == items[0].shape and item.dtype == items[0].dtype for item in items[1:]):
        return np.stack(items) if items else np.asarray(observation)
    return items


def _layout(stored):
    """(dtype, shape) of an observation as stored, or a list of them, one per input."""
    if isinstance(stored, list):
        return [(item.dtype, item.shape) for item in stored]
    return stored.dtype, stored.shape


def _describe(layout):
    if isinstance(layout, list):
        return f"{len(layout)} inputs (" + ", ".join(f"{dtype} {shape}" for dtype, shape in layout) + ")"
    return f"{layout[0]} observations of shape {layout[1]}"


def _refuse_objects(stored):
    for item in stored if isinstance(stored, list) else [stored]:
        if item.dtype.hasobject:
            raise ValueError("RingMemory stores observations as numeric arrays, got an object array (a dict, "
                             "None or a ragged list?); give an observation as an array or a list of arrays")


def _fits(values, dtype):
    """Whether `values` come back bit for bit from a round trip through `dtype`."""
    return values.astype(dtype).astype(values.dtype).tobytes() == values.tobytes()


def _ring_holding(ring, values, what, same_family=False, by_value=True):
    """`ring`, or a copy of it in a wider dtype, that holds `values` exactly.

    Values the ring's dtype holds exactly go into it as they are: np.float32 rewards stay float32
    when keras-rl2's ``fit`` appends a Python 0.0 at an episode's end. Others widen the ring to
    numpy's promotion of the two dtypes (float32 and float64: float64), once every entry and value
    is checked to survive it (an int beyond 2**53 in float64 would not: refused). With
    ``by_value=False`` any other dtype widens the ring: ``import_entries`` does that, so that a
    restored ring ends in the dtype of the ring that exported the entries. `same_family` keeps
    ints ints and floats floats (actions)."""
    if values.dtype == ring.dtype:
        return ring
    if values.dtype.kind not in _FAMILY:
        raise ValueError(f"RingMemory stores {what}s as numbers, got {values.dtype}; give a number")
    dtype = np.result_type(ring.dtype, values.dtype)
    if same_family and _FAMILY.get(dtype.kind) != _FAMILY.get(ring.dtype.kind):
        raise ValueError(f"RingMemory holds {ring.dtype} {what}s, got {values.dtype}; give every {what} "
                         "the same kind (all ints or all floats)")
    if by_value and _fits(values, ring.dtype):
        return ring
    if not (_fits(ring, dtype) and _fits(values, dtype)):
        raise ValueError(f"RingMemory cannot hold {ring.dtype} and {values.dtype} {what}s together exactly "
                         f"(as {dtype} a value would change); give every {what} one dtype")
    return ring.astype(dtype)


def _windows(ring, window_slots, keep, next_slots):
    """state0 and state1 of one ring: entries at `window_slots` (B, W), zero where not `keep`,
    and state1 = state0 shifted by one with the entry at `next_slots` appended."""
    state0 = ring[window_slots]
    state0[~keep] = 0
    state1 = np.empty_like(state0)
    state1[:, :-1] = state0[:, 1:]
    state1[:, -1] = ring[next_slots]
    return state0, state1


class RingMemory(Memory):
    """``Memory`` with every entry in preallocated rings of arrays; see the module docstring."""

    def __init__(self, limit, window_length, seed=None, ignore_episode_boundaries=False):
        super().__init__(window_length=window_length, ignore_episode_boundaries=ignore_episode_boundaries)
        if int(limit) < 1 or int(limit) != limit:
            raise ValueError(f"limit must be a positive number of entries, got {limit!r}")
        if int(window_length) < 1 or int(window_length) != window_length:
            raise ValueError(f"window_length must be a positive integer, got {window_length!r}")
        self.limit = int(limit)
        # Allocated on the first append (or import), when the dtypes and shapes are known.
        # `observations` is one ring, or a list of rings (one per input) for multi-input observations.
        self.observations = None
        self.actions = None
        self.rewards = None
        self.terminals = np.zeros(self.limit, dtype=bool)
        self.total_appended = 0  # every append ever made; Python int, never wraps
        self.rng = np.random.default_rng(seed)
        self._state_buffer = None
        self._window_offsets = np.arange(window_length)

    @property
    def several_inputs(self):
        """True once the memory holds multi-input observations (each input in a ring of its own)."""
        return isinstance(self.observations, list)

    def _allocate(self, observation, action, reward):
        """Rings shaped and typed like the first entry: `observation` as ``_as_stored`` gives it,
        `action` and `reward` as arrays."""
        _refuse_objects(observation)
        if reward.dtype.kind not in _FAMILY:
            raise ValueError(f"RingMemory stores rewards as numbers, got {reward.dtype}; give a number")
        if isinstance(observation, list):
            self.observations = [np.zeros((self.limit,) + item.shape, dtype=item.dtype) for item in observation]
        else:
            self.observations = np.zeros((self.limit,) + observation.shape, dtype=observation.dtype)
        self.actions = np.zeros((self.limit,) + action.shape, dtype=action.dtype)
        self.rewards = np.zeros(self.limit, dtype=reward.dtype)

    def _held_layout(self):
        if self.several_inputs:
            return [(ring.dtype, ring.shape[1:]) for ring in self.observations]
        return self.observations.dtype, self.observations.shape[1:]

    def _check_observation(self, observation):
        held = self.observations
        if isinstance(observation, np.ndarray) and isinstance(held, np.ndarray) \
                and observation.dtype == held.dtype and observation.shape == held.shape[1:]:
            return  # the common case, checked without building layouts
        if _layout(observation) != self._held_layout():
            raise ValueError(f"RingMemory holds {_describe(self._held_layout())}, got "
                             f"{_describe(_layout(observation))}; give every observation the same dtype and "
                             "shape (a processor can)")

    # -- keras-rl2's Memory interface ---------------------------------------------------------------
    @property
    def nb_entries(self):
        return min(self.total_appended, self.limit)

    def append(self, observation, action, reward, terminal, training=True):
        if training:
            self._store(_as_stored(observation), np.asarray(action), np.asarray(reward), terminal)
        super().append(observation, action, reward, terminal, training=training)

    def _store(self, observation, action, reward, terminal):
        if reward.ndim:
            raise ValueError(f"RingMemory stores a reward as one number, got an array of shape {reward.shape}")
        if self.observations is None:
            self._allocate(observation, action, reward)
        self._check_observation(observation)
        if action.shape != self.actions.shape[1:]:
            raise ValueError(f"RingMemory holds {self.actions.dtype} actions of shape {self.actions.shape[1:]}, "
                             f"got {action.dtype} {action.shape}")
        # A value of another dtype (rare: fit's Python 0.0 among float32 rewards) is checked, and
        # the ring widened if it must be, before anything is written: a refused entry changes nothing.
        actions, rewards = self.actions, self.rewards
        if action.dtype != actions.dtype:
            actions = _ring_holding(actions, action, "action", same_family=True)
        if reward.dtype != rewards.dtype:
            rewards = _ring_holding(rewards, reward, "reward")
        self.actions, self.rewards = actions, rewards

        slot = self.total_appended % self.limit
        if self.several_inputs:
            for ring, item in zip(self.observations, observation):
                ring[slot] = item
        else:
            self.observations[slot] = observation
        self.actions[slot] = action
        self.rewards[slot] = reward
        self.terminals[slot] = terminal
        self.total_appended += 1

    def _window_start(self):
        """Where the current window starts in ``recent_observations``: the observations from there
        on (at most window_length - 1, none from before the last episode end unless boundaries are
        ignored) precede the current one in its window. The walk of ``Memory.get_recent_state``."""
        terminals = self.recent_terminals
        start, lowest = len(terminals), max(len(terminals) - self.window_length + 1, 0)
        while start > lowest:
            # recent observation start-1 belongs to the window unless the one before it ended an episode
            if not self.ignore_episode_boundaries and start >= 2 and terminals[start - 2]:
                break
            start -= 1
        return start

    def get_recent_state(self, current_observation):
        """The current window as one (window_length, *observation shape) array.

        Same observations and zero padding as ``Memory.get_recent_state``, which returns a list
        padded with float64 zeros; the array is reused between calls (copy it to keep it).
        Multi-input observations come back in keras-rl2's layout: a list of window_length
        observations, each a list of its inputs (zero padded in each input's dtype).
        """
        current = _as_stored(current_observation)
        if isinstance(current, list):
            return self._recent_state_of_inputs(current)
        state = self._state_buffer
        if state is None or state.shape[1:] != current.shape or state.dtype != current.dtype:
            _refuse_objects(current)
            state = self._state_buffer = np.zeros((self.window_length,) + current.shape, dtype=current.dtype)
        recent, start = self.recent_observations, self._window_start()
        first = self.window_length - 1 - (len(recent) - start)  # slots before it are zero padding
        if first:
            state[:first] = 0
        for slot, observation in enumerate(islice(recent, start, None), start=first):
            state[slot] = observation
        state[-1] = current
        return state

    def _recent_state_of_inputs(self, current):
        _refuse_objects(current)
        windows = [np.zeros((self.window_length,) + item.shape, dtype=item.dtype) for item in current]
        recent, start = self.recent_observations, self._window_start()
        observations = list(islice(recent, start, None)) + [current]
        for slot, observation in enumerate(observations, start=self.window_length - len(observations)):
            observation = _as_stored(observation)
            if _layout(observation) != _layout(current):
                raise ValueError(f"RingMemory's window mixes {_describe(_layout(observation))} with "
                                 f"{_describe(_layout(current))}; give every observation the same dtypes and shapes")
            for window, item in zip(windows, observation):
                window[slot] = item
        return [[window[t] for window in windows] for t in range(self.window_length)]

    def sample(self, batch_size, batch_idxs=None):
        """A list of keras-rl2 ``Experience`` tuples, as ``SequentialMemory.sample`` returns."""
        batch = self.sample_batch(batch_size, batch_idxs)
        if self.several_inputs:  # each state: window_length observations, each a list of its inputs
            def states(windows, i):
                return [[window[i, t] for window in windows] for t in range(self.window_length)]
        else:
            def states(windows, i):
                return list(windows[i])
        return [Experience(state0=states(batch.state0, i), action=batch.action[i], reward=batch.reward[i],
                           state1=states(batch.state1, i), terminal1=bool(batch.terminal1[i]))
                for i in range(batch_size)]

    def get_config(self):
        config = super().get_config()
        config["limit"] = self.limit
        return config

    # -- fast path ---------------------------------------------------------------------------------
    def sample_batch(self, batch_size, batch_idxs=None, n_step=1, gamma=None):
        """A ``Batch`` of arrays: states (B, W, *observation shape) in the stored dtype (for
        multi-input observations, a list of such arrays, one per input), actions and rewards as
        stored, bool terminals.

        ``batch_idxs`` are keras-rl2's indexes (drawn from [window_length, nb_entries - 1) and
        shifted by one, as ``SequentialMemory.sample`` does); without them they are drawn
        without replacement from this memory's own generator. With `n_step` > 1 (the agent's
        n-step returns; keras-rl2 has none, so its indexes do not apply) see `n_step_batch_at`.
        """
        if n_step == 1:
            return self.batch_at(self.draw_indexes(batch_size, batch_idxs))
        if batch_idxs is not None:
            raise ValueError("batch_idxs are keras-rl2's one-step indexes; n_step > 1 draws its own")
        return self.n_step_batch_at(self.draw_indexes(batch_size, n_step=n_step), n_step, gamma)

    def draw_indexes(self, batch_size, batch_idxs=None, n_step=1):
        """The logical indexes (0 = oldest kept entry) of `batch_size` transitions to sample, drawn
        uniformly among those that do not cross an episode's end (see the module docstring) and,
        with `n_step` > 1, whose n entries are all stored (as Dopamine's replay draws)."""
        n = self.nb_entries
        needed = self.window_length + 1 + n_step
        if n < needed:
            extra = f" + n_step - 1 = {needed}" if n_step > 1 else f" = {needed}"
            raise ValueError(f"not enough entries in the memory to sample: {n} (needs window_length + 2{extra})")
        high = n - (n_step - 1)  # transitions at logical indexes window_length + 1 .. high - 1
        if batch_idxs is None:
            idx = self._draw(self.window_length, high - 1, batch_size) + 1
        else:
            idx = np.asarray(batch_idxs, dtype=np.int64) + 1
        # Redraw indexes whose previous entry ended an episode (the transition crosses a reset).
        bad = self.crosses_reset(idx)
        while bad.any():
            idx[bad] = self.rng.integers(self.window_length + 1, high, size=int(bad.sum()))
            bad = self.crosses_reset(idx)
        return idx

    def crosses_reset(self, idx):
        """Whether the transitions at logical indexes `idx` cross an episode's end (entry idx-2 ended one)."""
        return self._terminal_at(idx - 2)

    def _window_positions(self, last):
        """(positions, keep) of the windows ending at logical entries `last`: positions[:, j] is the
        entry in slot j; slot j < w-1 is kept (else zero padding) as ``SequentialMemory`` keeps it,
        walking back from the newest entry and stopping at the first whose *previous* entry ended
        an episode: only if none of the entries p-1 .. last-2 is terminal."""
        positions = last[:, None] - self.window_length + 1 + self._window_offsets[None, :]
        if self.ignore_episode_boundaries:
            return positions, np.ones(positions.shape, dtype=bool)
        ends = self._terminal_at(positions[:, :-1] - 1)
        ended_at_or_after = np.flip(np.logical_or.accumulate(np.flip(ends, axis=1), axis=1), axis=1)
        return positions, np.concatenate([~ended_at_or_after, np.ones((len(last), 1), dtype=bool)], axis=1)

    def batch_at(self, idx):
        """The ``Batch`` of the transitions at logical indexes `idx` (as `draw_indexes` gives them)."""
        positions, keep = self._window_positions(idx - 1)  # state0 ends at entry idx-1
        window_slots, next_slots = self._physical(positions), self._physical(idx)
        if self.several_inputs:
            pairs = [_windows(ring, window_slots, keep, next_slots) for ring in self.observations]
            state0, state1 = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
        else:
            state0, state1 = _windows(self.observations, window_slots, keep, next_slots)
        last = self._physical(idx - 1)
        return Batch(state0=state0, action=self.actions[last], reward=self.rewards[last],
                     terminal1=self.terminals[last], state1=state1)

    def n_step_batch_at(self, idx, n_step, gamma):
        """The n-step ``Batch`` of the transitions at logical indexes `idx`: state0 and action as
        `batch_at`'s; reward the sum of the n rewards of entries idx-1 .. idx+n-2, the k-th
        discounted by gamma**k, cut after the first of them that is terminal (its own reward
        counted); terminal1 whether one was (no bootstrap: the agent's target drops it);
        state1 the window ending at entry idx+n-1, the state n steps later (unused where
        terminal1). A sum never runs past an episode's end, so never into the entry keras-rl2
        appends after it (the last observation, reward 0)."""
        if self.several_inputs:
            raise ValueError("n_step > 1 needs one observation array per entry; this memory holds several inputs")
        if gamma is None:
            raise ValueError("n-step returns need the discount: pass gamma (the agent's)")
        entries = self._physical(idx[:, None] - 1 + np.arange(n_step)[None, :])
        terminals = self.terminals[entries]
        ended = np.logical_or.accumulate(terminals, axis=1)  # an episode ended at or before step k
        counted = np.concatenate([np.ones((len(idx), 1), dtype=bool), ~ended[:, :-1]], axis=1)
        discounts = float(gamma) ** np.arange(n_step, dtype=np.float64)
        reward = (self.rewards[entries].astype(np.float64) * discounts * counted).sum(axis=1)
        # Not `batch_at`'s state0 and one-step state1: the n-step state1 is a window of its own.
        return Batch(state0=self._stacked_windows(idx - 1), action=self.actions[entries[:, 0]], reward=reward,
                     terminal1=ended[:, -1], state1=self._stacked_windows(idx + n_step - 1))

    def _stacked_windows(self, last):
        """The windows ending at logical entries `last`, zero padded as `_window_positions` says."""
        positions, keep = self._window_positions(last)
        windows = self.observations[self._physical(positions)]
        windows[~keep] = 0
        return windows

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
        incrementally, through `export_entries`. The window of recent observations
        (keras-rl2's ``recent_observations``/``recent_terminals``) belongs to the game being
        played: `window_state` gives it, and ``acting.actor.Actor`` saves it with a game in progress."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state):
        self.rng.bit_generator.state = state["rng"]

    def window_state(self):
        """The window of the game in progress: keras-rl2's ``recent_observations`` (as arrays) and
        ``recent_terminals`` (as bools), what `get_recent_state` stacks the next state from."""
        return [np.asarray(frame) for frame in self.recent_observations], [bool(t) for t in self.recent_terminals]

    def restore_window(self, observations, terminals):
        """Undo `window_state`: the window a saved game in progress had."""
        self.recent_observations.clear()
        self.recent_observations.extend(observations)
        self.recent_terminals.clear()
        self.recent_terminals.extend(terminals)

    def export_entries(self, start, stop):
        """Entries with append numbers [start, stop) as arrays (they must still be in memory):
        ``observations`` (or ``observations_0``, ``observations_1``, ... one per input),
        ``actions``, ``rewards`` and ``terminals``, each in the dtype the memory holds."""
        if not (self.total_appended - self.nb_entries <= start <= stop <= self.total_appended):
            raise ValueError(f"entries {start}..{stop} are not in memory (it holds "
                             f"{self.total_appended - self.nb_entries}..{self.total_appended})")
        if self.observations is None:  # nothing appended yet
            return {}
        slots = np.arange(start, stop) % self.limit
        if self.several_inputs:
            arrays = {f"observations_{i}": ring[slots] for i, ring in enumerate(self.observations)}
        else:
            arrays = {"observations": self.observations[slots]}
        return arrays | {"actions": self.actions[slots], "rewards": self.rewards[slots],
                         "terminals": self.terminals[slots]}

    def import_entries(self, start, arrays):
        """Put entries numbered from `start` back into their slots (inverse of export_entries).

        Chunks exported at different times may hold actions or rewards in different dtypes (the
        memory widened in between); they are widened here the same way, so the memory ends with
        the dtypes of the one that exported them."""
        if not arrays:
            return
        if "observations" in arrays:
            observations = arrays["observations"]
        elif "frames" in arrays:  # checkpoints written before observations kept their dtype
            observations = arrays["frames"]
        else:
            inputs = sum(name.startswith("observations_") for name in arrays)
            observations = [arrays[f"observations_{i}"] for i in range(inputs)]
        count = len(arrays["actions"])
        if count == 0:  # every entry of the chunk lies before the oldest one this memory keeps
            return

        def entry(k):
            return [inputs[k] for inputs in observations] if isinstance(observations, list) else observations[k]

        if self.observations is None:
            self._allocate(entry(0), arrays["actions"][0], arrays["rewards"][:0])
        self._check_observation(entry(0))
        self.actions = _ring_holding(self.actions, arrays["actions"], "action", same_family=True, by_value=False)
        self.rewards = _ring_holding(self.rewards, arrays["rewards"], "reward", by_value=False)
        slots = np.arange(start, start + count) % self.limit
        if self.several_inputs:
            for ring, inputs in zip(self.observations, observations):
                ring[slots] = inputs
        else:
            self.observations[slots] = observations
        self.actions[slots] = arrays["actions"]
        self.rewards[slots] = arrays["rewards"]
        self.terminals[slots] = arrays["terminals"]
        self.total_appended = max(self.total_appended, start + count)
