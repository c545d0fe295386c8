"""The Q-networks a config's ``net`` key names: Mnih et al. 2015 ("Human-level control through deep
reinforcement learning", Nature; the net of keras-rl's Atari example) and Mnih et al. 2013
("Playing Atari with Deep Reinforcement Learning", NIPS Deep Learning Workshop: the smaller net
that first learnt Pong, a little under half the Nature net's train step on a CPU)."""
from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)

import tf_keras
from tf_keras import layers


def _frames_input(window_length, frame_shape, scale_inputs):
    """The (batch, window_length, h, w) input, cast and scaled in the graph when it is uint8, then
    moved to channels last for the convolutions."""
    input_shape = (window_length,) + tuple(frame_shape)
    if scale_inputs:
        inputs = layers.Input(shape=input_shape, dtype="uint8", name="frames")
        x = layers.Rescaling(1.0 / 255.0, dtype="float32", name="scale")(inputs)
    else:
        inputs = layers.Input(shape=input_shape, dtype="float32", name="frames")
        x = inputs
    return inputs, layers.Permute((2, 3, 1), name="channels_last")(x)  # (window, h, w) -> (h, w, window)


def build_mnih2015_model(nb_actions, window_length=4, frame_shape=(84, 84), scale_inputs=True):
    """Conv 32 8x8/4, conv 64 4x4/2, conv 64 3x3/1, dense 512, linear output per action.

    Input: (batch, window_length, 84, 84). With ``scale_inputs`` the input is uint8 and the
    first layer casts it to float32 in [0, 1] inside the graph: the host sends a quarter of the
    bytes and does no per-step conversion. ``scale_inputs=False`` takes float input already
    scaled (keras-rl's example processor); both variants have the same weights.
    """
    inputs, x = _frames_input(window_length, frame_shape, scale_inputs)
    x = layers.Conv2D(32, (8, 8), strides=(4, 4), activation="relu", name="conv1")(x)
    x = layers.Conv2D(64, (4, 4), strides=(2, 2), activation="relu", name="conv2")(x)
    x = layers.Conv2D(64, (3, 3), strides=(1, 1), activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(512, activation="relu", name="fc")(x)
    outputs = layers.Dense(nb_actions, activation="linear", name="q_values")(x)
    return tf_keras.Model(inputs=inputs, outputs=outputs, name="mnih2015")


def build_nips2013_model(nb_actions, window_length=4, frame_shape=(84, 84), scale_inputs=True):
    """Conv 16 8x8/4, conv 32 4x4/2, dense 256, linear output per action (Mnih et al. 2013);
    input as `build_mnih2015_model`'s."""
    inputs, x = _frames_input(window_length, frame_shape, scale_inputs)
    x = layers.Conv2D(16, (8, 8), strides=(4, 4), activation="relu", name="conv1")(x)
    x = layers.Conv2D(32, (4, 4), strides=(2, 2), activation="relu", name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="fc")(x)
    outputs = layers.Dense(nb_actions, activation="linear", name="q_values")(x)
    return tf_keras.Model(inputs=inputs, outputs=outputs, name="nips2013")


# The `net` key's values: the first conv layer's filters tell them apart in a weights file.
NETS = {"nature": build_mnih2015_model, "nips2013": build_nips2013_model}
FIRST_CONV_FILTERS = {32: "nature", 16: "nips2013"}


def build_net(name, nb_actions, window_length=4):
    return NETS[name](nb_actions, window_length=window_length)
