"""The Mnih et al. 2015 net: shapes, sizes, and in-graph scaling equal to the example's."""
import numpy as np

from dqnkit.agent.nets import build_mnih2015_model


def test_layers_and_output_shape():
    model = build_mnih2015_model(nb_actions=4)
    assert tuple(model.input.shape) == (None, 4, 84, 84)
    assert tuple(model.output.shape) == (None, 4)
    conv = {layer.name: layer for layer in model.layers}
    assert [conv[n].filters for n in ("conv1", "conv2", "conv3")] == [32, 64, 64]
    assert [conv[n].kernel_size for n in ("conv1", "conv2", "conv3")] == [(8, 8), (4, 4), (3, 3)]
    assert [conv[n].strides for n in ("conv1", "conv2", "conv3")] == [(4, 4), (2, 2), (1, 1)]
    assert conv["fc"].units == 512
    assert model.count_params() == 1_686_180  # the example's net with 4 actions


def test_uint8_input_scaled_in_graph_equals_float_input_scaled_outside():
    uint8_model = build_mnih2015_model(6)
    float_model = build_mnih2015_model(6, scale_inputs=False)
    float_model.set_weights(uint8_model.get_weights())
    frames = np.random.default_rng(0).integers(0, 256, size=(5, 4, 84, 84), dtype=np.uint8)
    np.testing.assert_allclose(uint8_model.predict_on_batch(frames),
                               float_model.predict_on_batch(frames.astype(np.float32) / 255.0), rtol=1e-5, atol=1e-6)
