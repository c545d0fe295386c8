"""AtariProcessor on real ALE frames, against keras-rl's example processor."""
import numpy as np
import pytest

from processors import AtariProcessor, KerasRLExampleProcessor
from dqnkit.envs import ale
from frames import breakout_frames


@pytest.fixture(scope="module")
def frames():
    return breakout_frames(300)


def test_frames_become_84x84_uint8(frames):
    out = AtariProcessor().process_observation(frames[0])
    assert out.shape == (84, 84) and out.dtype == np.uint8
    assert out.max() > out.min()  # a real picture, not a blank


def test_same_as_the_example_within_two_grey_levels(frames):
    fast, example = AtariProcessor(), KerasRLExampleProcessor()
    diffs = [np.abs(fast.process_observation(f).astype(int) - example.process_observation(f).astype(int))
             for f in frames]
    assert max(d.max() for d in diffs) <= 2
    assert np.mean([d.mean() for d in diffs]) < 0.2


def test_ale_grayscale_frames_give_the_same_result_as_rgb_frames():
    rgb_env = ale.make_env("BreakoutDeterministic-v4")
    gray_env = ale.make_env("BreakoutDeterministic-v4", obs_type="grayscale")
    rgb, _ = rgb_env.reset(seed=1)
    gray, _ = gray_env.reset(seed=1)
    processor = AtariProcessor()
    rng = np.random.default_rng(1)
    for _ in range(200):
        np.testing.assert_array_equal(processor.process_observation(gray), processor.process_observation(rgb))
        action = int(rng.integers(4))
        rgb, *_ = rgb_env.step(action)
        gray, *_ = gray_env.step(action)


def test_state_batches_stay_uint8_and_the_example_scales_to_unit_range(frames):
    processor = AtariProcessor()
    batch = np.stack([[processor.process_observation(f) for f in frames[i:i + 4]] for i in range(0, 32, 4)])
    assert processor.process_state_batch(batch).dtype == np.uint8
    scaled = KerasRLExampleProcessor().process_state_batch(batch)
    assert scaled.dtype == np.float32 and 0.0 <= scaled.min() and scaled.max() <= 1.0
    np.testing.assert_array_equal(scaled, batch.astype(np.float32) / 255.0)


def test_rewards_are_clipped():
    processor = AtariProcessor()
    assert [processor.process_reward(r) for r in (-7.0, -0.5, 0.0, 1.0, 4.0)] == [-1.0, -0.5, 0.0, 1.0, 1.0]


def test_bad_frames_and_arguments_are_rejected():
    with pytest.raises(ValueError, match="RGB .* or grayscale"):
        AtariProcessor().process_observation(np.zeros((84, 84, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="reward_clip"):
        AtariProcessor(reward_clip=0)
