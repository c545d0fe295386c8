"""Reading and writing a model's weights: plain arrays, a one-line message for every bad file.

Weights are what users download and pass around (``weights/``, ``--weights``): loading them runs
no code (HDF5 or TensorFlow checkpoint arrays only, never a saved model with layers to rebuild).
"""
import os
import re
import shutil
import tempfile

from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)

import h5py
import tensorflow as tf

from dqnkit.errors import UserFacingError


class WeightsError(UserFacingError):
    """A weights file that is missing, unreadable or made for another env or model."""


def load_weights_checked(agent, path, env_name):
    """Load weights (plain arrays: no code runs) with a one-line message for every failure.

    Takes what keras users hold: HDF5 from ``save_weights`` (``.h5``, or the keras-rl example's
    ``.h5f`` from standalone Keras), and the TensorFlow checkpoint that tf-keras writes today for a
    name like ``dqn_..._weights.h5f`` (a ``.index`` and ``.data-*`` pair under that prefix)."""
    tf_checkpoint = os.path.isfile(path + ".index")
    if not tf_checkpoint and os.path.isdir(path):
        files = sorted(name for name in os.listdir(path) if name.endswith((".h5", ".h5f", ".hdf5", ".index")))
        raise WeightsError(f"weights {path} is a folder, not a weights file; pass "
                           + (f"one of its files ({', '.join(files[:6])})" if files else "the file itself"))
    if not tf_checkpoint and not os.path.isfile(path):
        raise WeightsError(f"weights file {path} does not exist; check the path or train first")
    try:
        if tf_checkpoint:
            agent.model.load_weights(path).assert_existing_objects_matched()
        elif h5py.is_hdf5(path) and not path.endswith((".h5", ".hdf5")):
            # tf-keras picks the format by the name's ending: give an HDF5 file the ending it expects.
            with tempfile.TemporaryDirectory() as tmp:
                named = os.path.join(tmp, "weights.h5")
                shutil.copyfile(path, named)
                agent.model.load_weights(named)
        else:
            agent.model.load_weights(path)
        agent.update_target_model_hard()
    except (OSError, KeyError, tf.errors.NotFoundError, tf.errors.DataLossError) as exc:
        raise WeightsError(f"cannot read weights {path} ({exc.__class__.__name__}: {str(exc).splitlines()[0][:160]}); "
                           "pass HDF5 weights (.h5, .h5f) or a TensorFlow checkpoint prefix written by save_weights") from None
    except (ValueError, AssertionError, tf.errors.InvalidArgumentError) as exc:
        shapes = re.search(r"Expected \[[^\]]*\] got \[[^\]]*\]|shape \([^)]*\)[^.]*\([^)]*\)", str(exc))
        detail = shapes.group(0) if shapes else str(exc).splitlines()[0][:160]
        head = "dueling" if agent.enable_dueling_network else "plain (not dueling)"
        raise WeightsError(f"weights {path} do not fit the Mnih net for {env_name}, which this config builds {head} "
                           f"with {agent.nb_actions} actions ({detail}); use weights trained on this env with the same "
                           "enable_dueling_network") from None


def save_weights_atomic(agent, path):
    tmp = path[: -len(".h5")] + ".tmp.h5"
    agent.model.save_weights(tmp, overwrite=True)
    os.replace(tmp, path)
