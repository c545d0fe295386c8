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
        raise WeightsError(f"weights {path} do not fit the net this config builds for {env_name}: "
                           f"{_describe(agent_net(agent))}; {_file_holds(path, exc)}; use weights trained with the "
                           "same net, window_length, env and enable_dueling_network (the config saved beside "
                           "them has them)") from None


def agent_net(agent):
    """(net name, frames per state, actions, dueling) of the net `agent` has; None for a model of
    one's own (no conv1 layer)."""
    try:
        conv1 = agent.model.get_layer("conv1")
    except ValueError:
        return None
    return (net_of(conv1.filters), conv1.input_shape[-1], agent.nb_actions, bool(agent.enable_dueling_network))


def net_of(first_conv_filters):
    from dqnkit.agent.nets import FIRST_CONV_FILTERS

    return FIRST_CONV_FILTERS.get(first_conv_filters, f"an unknown net ({first_conv_filters} filters in conv1)")


def file_net(path):
    """(net name, frames per state, actions, dueling) of the net an HDF5 weights file holds, read
    from its arrays' shapes (h5py: no code runs), or None where they do not tell (another format)."""
    try:
        with h5py.File(path, "r") as f:
            shapes = {}
            f.visititems(lambda name, item: shapes.setdefault(name.split("/")[0], []).append(item.shape)
                         if isinstance(item, h5py.Dataset) else None)
    except (OSError, ValueError):
        return None
    conv1 = [s for s in shapes.get("conv1", []) if len(s) == 4]
    if not conv1:
        return None
    _, _, frames, filters = conv1[0]
    if "q_values" in shapes:
        return net_of(filters), frames, max(s[-1] for s in shapes["q_values"]), False
    heads = [s[-1] for name, found in shapes.items() if name.startswith("dense") for s in found if len(s) == 2]
    return (net_of(filters), frames, heads[0] - 1, True) if heads else None


def _describe(net):
    if net is None:
        return "a model of its own"
    name, frames, actions, dueling = net
    return f"{name}, {frames} frames a state, {actions} actions, {'dueling' if dueling else 'plain (not dueling)'}"


def _file_holds(path, exc):
    held = file_net(path)
    if held is not None:
        return f"the file holds {_describe(held)}"
    shapes = re.search(r"Expected \[[^\]]*\] got \[[^\]]*\]|shape \([^)]*\)[^.]*\([^)]*\)", str(exc))
    return f"the file does not fit it ({shapes.group(0) if shapes else str(exc).splitlines()[0][:160]})"


def save_weights_atomic(agent, path):
    tmp = path[: -len(".h5")] + ".tmp.h5"
    agent.model.save_weights(tmp, overwrite=True)
    os.replace(tmp, path)
