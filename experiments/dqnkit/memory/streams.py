"""The replay memory of several envs played side by side: one stream of entries per env.

With ``num_envs`` > 1 the envs' games interleave step by step. Kept in one ring, a sampled
window would mix frames of two envs and a transition would join one env's observation to
another's. ``StreamMemory`` keeps each env's entries as a ``RingMemory`` of its own (a
"stream"), in which windows, zero padding and episode ends mean exactly what they mean in
keras-rl2's ``SequentialMemory`` for a single env: ``tests/test_memory.py`` checks every sampled
transition against one ``SequentialMemory`` per env fed the same entries.

- ``limit`` is the total over all streams: each holds ``limit / streams`` entries (``limit``
  must be a multiple of ``streams``);
- sampling is uniform over every transition stored in any stream (a transition is what
  ``RingMemory`` samples: an entry with ``window_length`` entries before it and one after it,
  or ``n_step`` after it with n-step returns, not crossing an episode's end), without
  replacement when there are enough of them, with replacement when there are fewer (early
  with many envs: each stream's first ``window_length + n_step`` entries give none); the draws
  come from this memory's own generator, the streams' generators are not used.

Entries are appended to one stream at a time (``memory.streams[i].append(...)``, which also
keeps that env's window of recent frames); ``append`` on the whole memory is refused, so
keras-rl2's ``fit`` cannot feed it by mistake.
"""
import numpy as np

from dqnkit.memory.ring import Batch, RingMemory


class StreamMemory:
    """``streams`` RingMemory streams sampled as one memory; see the module docstring."""

    several_inputs = False  # Atari frames: one array per observation

    def __init__(self, limit, window_length, streams, seed=None):
        if int(streams) < 2 or int(streams) != streams:
            raise ValueError(f"a StreamMemory has at least 2 streams, got {streams!r} (one env needs a RingMemory)")
        if int(limit) < streams or int(limit) % int(streams):
            raise ValueError(f"memory limit {limit:,} must be a multiple of the number of envs ({streams}), "
                             f"each env keeping limit/num_envs entries; set memory_limit to a multiple of {streams}")
        self.limit, self.window_length = int(limit), int(window_length)
        self.streams = [RingMemory(self.limit // int(streams), self.window_length) for _ in range(int(streams))]
        self.rng = np.random.default_rng(seed)

    @property
    def nb_entries(self):
        return sum(stream.nb_entries for stream in self.streams)

    def append(self, observation, action, reward, terminal, training=True):
        raise TypeError("a StreamMemory takes entries per env: memory.streams[env].append(...)")

    def _counts(self, n_step=1):
        """Transitions each stream can be sampled at: logical indexes window_length + 1 .. n - n_step
        (with n_step > 1, those whose n entries are all stored)."""
        return np.array([max(stream.nb_entries - self.window_length - n_step, 0) for stream in self.streams])

    def sample_batch(self, batch_size, n_step=1, gamma=None):
        """A ``Batch`` as ``RingMemory.sample_batch`` gives it (n-step with `n_step` > 1), drawn
        from all streams: a sum of rewards never runs from one env's stream into another's."""
        counts = self._counts(n_step)
        total = int(counts.sum())
        if total < 1:
            raise ValueError(f"not enough entries in the memory to sample: no env's stream holds window_length + 1 "
                             f"+ n_step = {self.window_length + 1 + n_step}")
        ends = np.cumsum(counts)
        if total >= batch_size:
            drawn = self.rng.choice(total, size=batch_size, replace=False)
        else:
            drawn = self.rng.integers(0, total, size=batch_size)
        stream_of, idx = self._locate(drawn, counts, ends)
        bad = self._crosses_reset(stream_of, idx)
        while bad.any():  # as RingMemory does: redraw those, uniformly over all streams
            drawn[bad] = self.rng.integers(0, total, size=int(bad.sum()))
            stream_of, idx = self._locate(drawn, counts, ends)
            bad = self._crosses_reset(stream_of, idx)
        return self._batch(stream_of, idx, n_step, gamma)

    def _locate(self, drawn, counts, ends):
        """(stream, logical index in it) of the transitions numbered `drawn` over all streams."""
        stream_of = np.searchsorted(ends, drawn, side="right")
        idx = drawn - (ends - counts)[stream_of] + self.window_length + 1
        return stream_of, idx

    def _crosses_reset(self, stream_of, idx):
        bad = np.zeros(len(idx), dtype=bool)
        for s in np.unique(stream_of):
            mine = stream_of == s
            bad[mine] = self.streams[s].crosses_reset(idx[mine])
        return bad

    def _batch(self, stream_of, idx, n_step=1, gamma=None):
        def batch(stream, at):
            return stream.batch_at(at) if n_step == 1 else stream.n_step_batch_at(at, n_step, gamma)

        parts = {s: (stream_of == s, batch(self.streams[s], idx[stream_of == s])) for s in np.unique(stream_of)}
        fields = {}
        for name in Batch._fields:
            first = next(iter(parts.values()))[1]._asdict()[name]
            out = np.empty((len(idx),) + first.shape[1:], dtype=np.result_type(
                *[part._asdict()[name].dtype for _, part in parts.values()]))
            for mine, part in parts.values():
                out[mine] = part._asdict()[name]
            fields[name] = out
        return Batch(**fields)

    # -- checkpoint support: the sampler's generator here, the entries per stream ----------------
    def get_state(self):
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state):
        self.rng.bit_generator.state = state["rng"]
