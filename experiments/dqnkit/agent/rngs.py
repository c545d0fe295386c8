"""The process-wide random generators: seeding them, and their state for checkpoints.

keras-rl2's ``EpsGreedyQPolicy`` draws from numpy's global generator (``np.random``); Python's
``random`` is saved too, for anything else a user plugs in. TensorFlow draws random numbers
only when it initialises weights, which checkpoints hold, so its state is not saved; op
determinism makes its kernels repeatable.
"""
import random

import numpy as np
import tensorflow as tf


def make_deterministic(seed):
    """Seed Python, numpy and TensorFlow, and ask TensorFlow for reproducible kernels.

    Op determinism makes repeated runs bitwise equal on CPU (and on GPU for the ops DQN uses),
    which resume tests rely on. Call before building any model."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    tf.compat.v1.set_random_seed(seed)
    _forget_keras_seed_generator()
    tf.config.experimental.enable_op_determinism()


def _forget_keras_seed_generator():
    """tf-keras seeds each initializer that has no seed of its own from Python's ``random``
    (seeded above), unless ``tf_keras.utils.set_random_seed`` (``tf.keras.utils.set_random_seed``)
    was called in this thread: that installs a generator of its own, whose draws then depend on
    everything built since. A notebook whose first cell called it would start each run from other
    weights than the CLI does, and no two runs alike. Forget it, so the initial weights depend on
    the run's seed alone, as in a new process. (tf-keras keeps it in ``backend._SEED_GENERATOR``,
    a thread-local; no public call unsets it.)"""
    from tf_keras.src import backend

    if getattr(backend._SEED_GENERATOR, "generator", None) is not None:
        backend._SEED_GENERATOR.generator = None


def get_state():
    """numpy's and Python's global generator states as (arrays, JSON-able dict)."""
    _, mt_keys, mt_pos, has_gauss, cached_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state = {
        "numpy_mt19937": {"pos": int(mt_pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gauss)},
        "python_random": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
    }
    return {"numpy_mt19937_keys": mt_keys}, state


def set_state(arrays, state):
    mt = state["numpy_mt19937"]
    np.random.set_state(("MT19937", arrays["numpy_mt19937_keys"], mt["pos"], mt["has_gauss"], mt["cached_gaussian"]))
    py = state["python_random"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
