"""keras-rl2 on today's stack: the one place that adapts it.

keras-rl2 1.0.5 (2021, archived) was written for TensorFlow 2.4, Keras 2, old gym and
numpy 1. Importing this module before anything else makes it usable with TensorFlow >= 2.16,
tf-keras, gymnasium and numpy 2. What it does, and why:

1. ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported: keras-rl2 needs Keras 2
   (``optimizer.get_updates``, ``train_on_batch`` in graph mode); TensorFlow's documented way to
   keep Keras 2 is tf-keras behind this variable. If TensorFlow was imported earlier with
   Keras 3 we stop with a clear message instead of failing deep inside keras-rl2.
2. ``tensorflow.keras.__version__``: ``rl/callbacks.py`` imports it; tf-keras' API module does
   not export it. We set it to tf-keras' version.
3. ``tensorflow.python.keras``: ``rl/callbacks.py`` imports ``Callback``, ``CallbackList`` and
   ``Progbar`` from it. TensorFlow still ships a frozen copy whose classes do not interoperate
   with tf-keras models; we point those names at tf-keras' own classes.
4. Importing ``rl.agents`` runs ``tf.compat.v1.disable_eager_execution()`` (in ``ddpg.py``) for
   the whole process. We keep that (keras-rl2's DQN is built for graph mode) and make it
   explicit here, so that every later import sees the same mode.
5. ``rl.util.clone_model`` (how ``DQNAgent.compile`` makes the target net) round-trips the model
   through its config. For a dueling network the config holds keras-rl2's Lambda head, whose
   Python ``lambda`` tf-keras >= 2.13 refuses to deserialize unless unsafe deserialization is
   switched on (which would let any Lambda in a loaded file run code). Our ``clone_model`` builds
   the same layers from their configs but gives each Lambda the live function of the layer it
   copies: nothing is deserialized from bytecode, and safe mode stays on.
6. A quiet start: ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set it (INFO and WARNING lines
   hidden, errors shown), and the lines TensorFlow prints while it loads, which no log level
   reaches, filtered out of stderr (``_STARTUP_NOISE`` below). This module is imported in the
   actor process too, and the variable is inherited, so it is quiet as well.

What we do *not* patch but avoid by construction (see ``agent/fast_dqn.py``, ``memory/ring.py``,
``training/runner.py``):

- ``Agent.fit``/``Agent.test`` count steps and episodes in ``np.int16`` (they wrap at 32,767
  under numpy 2's overflow rules) and reset ``agent.step`` to 0 on every call: our training loop
  owns the global step as a Python int and calls ``forward``/``backward`` itself.
- ``fit`` expects the old gym API (``reset()`` -> obs, ``step()`` -> 4-tuple): our loop speaks
  gymnasium's 5-tuple and treats ``terminated or truncated`` as keras-rl2's ``done`` (the
  benchmark's ``OldGymAPI`` adapts an env for the stock ``fit`` it measures).
- ``SequentialMemory`` pads windows with float64 zeros and ``DQNAgent.process_state_batch``
  builds object arrays, so every batch is converted element by element: ``RingMemory`` returns
  uint8 arrays and ``FastDQNAgent`` feeds them to the graph as they are.
- ``sample_batch_indexes`` falls back to ``np.random.random_integers`` (deprecated) when the
  memory is small; ``RingMemory`` never calls it.
- ``ModelIntervalCheckpoint`` saves online weights only and ``FileLogger`` rewrites its file:
  ``run/checkpoint.py`` and ``reporting/runlog.py`` replace them.
"""
import contextlib
import os
import re
import sys
import tempfile

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(
        "TensorFlow was imported before dqnkit.compat with Keras 3 active; keras-rl2 needs "
        "tf-keras. Import dqnkit first, or set TF_USE_LEGACY_KERAS=1 before importing TensorFlow "
        "(in a notebook: restart the runtime)."
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
# TensorFlow's C++ log at level 2: INFO and WARNING lines hidden (building the nets in graph mode
# logs "W ... c_api.cc ... Operation ... was changed by setting attribute after it was run by a
# session" lines), ERROR lines shown, all but the cuInit one below. Not 3: that would hide every
# error of the whole run. A user's own TF_CPP_MIN_LOG_LEVEL wins. (The marker tells a process
# this kit started, the actor process, that the level is the kit's, not its user's.)
_LEVEL_SET_BY_KIT = "DQNKIT_SET_TF_CPP_MIN_LOG_LEVEL"
_USER_SET_LEVEL = "TF_CPP_MIN_LOG_LEVEL" in os.environ and os.environ.get(_LEVEL_SET_BY_KIT) != "1"
if not _USER_SET_LEVEL:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ[_LEVEL_SET_BY_KIT] = "1"
# Where this process has no GPU to use (no NVIDIA device; or hidden, as the actor process hides
# it), TensorFlow's probe for one logs "E ... failed call to cuInit" at ERROR: expected there, so
# the probe is run while start-up lines are filtered and that line goes with them. With a device,
# a failing cuInit is a real error and stays.
_NO_GPU_EXPECTED = (os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
                    or not (os.path.exists("/dev/nvidia0") or os.path.exists("/proc/driver/nvidia")))

# Lines TensorFlow's native libraries print while they load, before its logging is set up, so
# that no TF_CPP_MIN_LOG_LEVEL (not even 3) reaches them: absl's notice, oneDNN's, the CUDA
# stub's, and the CPU-feature note (which level 1 would hide). They come twice: once from
# libtensorflow_framework.so.2, once from the profiler's _pywrap_profiler_plugin.so, which
# `import tensorflow` loads too and which carries its own copy of that code and of absl.
_STARTUP_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
                            r"|I\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard)\.cc:\d+\]"
                            r"|To enable the following instructions: .* rebuild TensorFlow"
                            + (r"|E\d{4} [\d:. ]+\d+ \w+\.cc:\d+\] failed call to cuInit" if _NO_GPU_EXPECTED else "")
                            + ")")


@contextlib.contextmanager
def _startup_lines_filtered():
    """Run the block with the process's stderr (file descriptor 2: native code writes there)
    captured, then write back every line but TensorFlow's start-up noise. With the user's own
    TF_CPP_MIN_LOG_LEVEL everything is shown."""
    if _USER_SET_LEVEL:
        yield
        return
    try:
        captured = tempfile.TemporaryFile()
    except OSError:  # no usable temporary folder: show everything rather than fail to start
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not _STARTUP_NOISE.match(line))
            if kept:
                os.write(2, kept.encode("utf-8"))


with _startup_lines_filtered():
    import tensorflow as tf  # noqa: E402
    import tf_keras  # noqa: E402

    if _NO_GPU_EXPECTED and not _USER_SET_LEVEL:
        tf.config.list_physical_devices("GPU")  # the probe (once a process), its cuInit line filtered

tf.get_logger().setLevel("ERROR")


def _patch_tensorflow_keras_for_keras_rl2():
    import tensorflow.keras  # noqa: F401  (resolves to tf-keras' API module)

    for name in ("tensorflow.keras", "tf_keras.api._v2.keras"):
        module = sys.modules.get(name)
        if module is not None and not hasattr(module, "__version__"):
            module.__version__ = tf_keras.__version__

    # rl/callbacks.py: `from tensorflow.python.keras.callbacks import Callback, CallbackList`
    # and `from tensorflow.python.keras.utils.generic_utils import Progbar`.
    import tensorflow.python.keras.callbacks as frozen_callbacks
    import tensorflow.python.keras.utils.generic_utils as frozen_utils

    frozen_callbacks.Callback = tf_keras.callbacks.Callback
    frozen_callbacks.CallbackList = tf_keras.callbacks.CallbackList
    frozen_utils.Progbar = tf_keras.utils.Progbar


_patch_tensorflow_keras_for_keras_rl2()

import rl.agents  # noqa: E402,F401  (disables eager execution for the process, see above)
import rl.agents.ddpg  # noqa: E402
import rl.agents.dqn  # noqa: E402
import rl.util  # noqa: E402

tf.compat.v1.disable_eager_execution()


def clone_model(model, custom_objects=None):
    """keras-rl2's ``clone_model`` (same layers, same names, same weights) without deserializing
    Lambda functions: each cloned Lambda calls the function of the layer it copies."""
    def clone_layer(layer):
        if isinstance(layer, tf_keras.layers.Lambda):
            config = layer.get_config()
            return tf_keras.layers.Lambda(layer.function, output_shape=layer._output_shape, name=config["name"],
                                          arguments=layer.arguments)
        return layer.__class__.from_config(layer.get_config())

    with tf_keras.utils.custom_object_scope(custom_objects or {}):
        clone = tf_keras.models.clone_model(model, clone_function=clone_layer)
    clone.set_weights(model.get_weights())
    return clone


# The agents' modules took their own references with `from rl.util import *`.
for _module in (rl.util, rl.agents.dqn, rl.agents.ddpg):
    _module.clone_model = clone_model
