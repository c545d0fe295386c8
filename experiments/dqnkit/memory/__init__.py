"""Replay memory: ``RingMemory`` (keras-rl2's ``Memory`` on numpy ring buffers, ``ring.py``) and
``StreamMemory`` (one replay stream per env, sampled as one memory, ``streams.py``)."""
from dqnkit._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "ring": ["RingMemory", "Batch"],
    "streams": ["StreamMemory"],
})
