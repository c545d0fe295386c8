"""Configs: the keras_rl preset is the example's, overrides are typed, mistakes are explained."""
import pytest

from dqnkit import configs, resolve


def test_keras_rl_preset_is_the_examples_hyperparameters():
    c = configs.make_config("keras_rl")
    assert (c.memory_limit, c.window_length, c.nb_steps_warmup, c.target_model_update) == (1_000_000, 4, 50_000, 10_000)
    assert (c.epsilon_max, c.epsilon_min, c.epsilon_steps, c.epsilon_test) == (1.0, 0.1, 1_000_000, 0.05)
    assert (c.gamma, c.train_interval, c.delta_clip, c.learning_rate) == (0.99, 4, 1.0, 2.5e-4)
    assert (c.total_steps, c.checkpoint_every, c.batch_size) == (1_750_000, 250_000, 32)
    assert c.env_name == "BreakoutDeterministic-v4"


def test_every_preset_is_valid_and_uses_known_keys():
    for name, overrides in configs.PRESETS.items():
        assert set(overrides) <= set(configs.DEFAULTS), name
        configs.validate(configs.make_config(name))


def test_smoke_preset_learns_within_1000_steps():
    c = configs.make_config("smoke")
    assert c.nb_steps_warmup < 1000 and c.total_steps == 2000


def test_overrides_are_converted_to_the_defaults_type():
    c = configs.make_config("smoke", ["gamma=0.9", "memory_limit=1e4", "video=false", "total_steps=3_000",
                                      "env_name=ALE/Pong-v5"])
    assert c.gamma == 0.9 and c.memory_limit == 10_000 and c.video is False
    assert c.total_steps == 3000 and c.env_name == "ALE/Pong-v5"
    assert isinstance(c.memory_limit, int)


@pytest.mark.parametrize("item, fragment", [
    ("gamma=abc", "gamma must be float"),
    ("memory_limit=1.5", "memory_limit must be int"),
    ("video=maybe", "video must be bool"),
    ("nope=1", "unknown config key 'nope'; valid keys: env_name"),
    ("gamma", "KEY=VALUE"),
    ("target_model_update=1.5", "target_model_update must be a whole number of steps or a rate below 1"),
    ("delta_clip=nan", "delta_clip must be float"),
])
def test_bad_overrides_say_what_is_wrong(item, fragment):
    with pytest.raises(configs.ConfigError, match=fragment):
        configs.make_config("smoke", [item])


def test_unknown_preset_lists_the_presets():
    with pytest.raises(configs.ConfigError, match="keras_rl, fast, colab, laptop, pong, pong_fast, smoke"):
        configs.make_config("fastest")


def test_validate_rejects_values_that_would_break_a_run_later():
    with pytest.raises(configs.ConfigError, match="gamma"):
        configs.validate(configs.make_config("smoke", {"gamma": 1.5}))
    with pytest.raises(configs.ConfigError, match="nb_steps_warmup"):
        configs.validate(configs.make_config("smoke", {"nb_steps_warmup": 10}))
    with pytest.raises(configs.ConfigError, match="eval_patience counts evaluations, and eval_every=0"):
        configs.validate(configs.make_config("smoke", {"eval_patience": 3, "eval_every": 0}))
    with pytest.raises(configs.ConfigError, match="eval_patience must be >= 0"):
        configs.validate(configs.make_config("smoke", {"eval_patience": -1}))


def test_json_round_trip_and_run_defining_differences():
    c = configs.make_config("smoke")
    again = configs.from_json_text(configs.to_json(c))
    assert again == c
    changed = configs.make_config("smoke", {"total_steps": 9_000, "gamma": 0.9, "seed": 7})
    assert configs.run_defining_differences(c, changed) == ["seed", "gamma"]


def test_keras_rl2_argument_values_are_accepted_as_keras_rl2_means_them():
    c = configs.make_config("smoke", ["target_model_update=0.01", "delta_clip=inf", "enable_double_dqn=true",
                                      "enable_dueling_network=1", "dueling_type=max", "adam_epsilon=1.5e-4"])
    configs.validate(c)
    assert c.target_model_update == 0.01 and c.delta_clip == float("inf") and c.enable_double_dqn
    assert configs.make_config("smoke", ["target_model_update=2e3"]).target_model_update == 2000
    assert configs.from_json_text(configs.to_json(c)) == c  # inf survives config.json
    with pytest.raises(configs.ConfigError, match="dueling_type must be one of avg, max, naive"):
        configs.validate(configs.make_config("smoke", {"dueling_type": "mean"}))
    with pytest.raises(configs.ConfigError, match="target_model_update must be > 0"):
        configs.validate(configs.make_config("smoke", {"target_model_update": 0}))


def test_the_keras_rl_preset_keeps_every_new_option_off():
    c = configs.make_config("keras_rl")
    assert not (c.enable_double_dqn or c.enable_dueling_network or c.max_pool_frames or c.terminal_on_life_loss
                or c.fire_reset or c.noop_max)
    assert c.adam_epsilon == 1e-7  # tf-keras' Adam default, as the example had it


def test_frame_skip_is_unset_by_default_and_in_configs_saved_before_it_existed():
    assert configs.make_config("fast").frame_skip is None
    old = configs.to_dict(configs.make_config("fast"))
    del old["frame_skip"]  # a config.json written before the key existed
    restored = configs.from_json_text(__import__("json").dumps(old))
    assert restored.frame_skip is None
    assert configs.run_defining_differences(restored, configs.make_config("fast")) == []


@pytest.mark.parametrize("text, value", [("4", 4), ("none", None), ("null", None), ("", None), (3, 3), (None, None)])
def test_frame_skip_takes_a_whole_number_or_none(text, value):
    assert configs.convert_value("frame_skip", text) == value


@pytest.mark.parametrize("item, fragment", [("frame_skip=abc", "frame_skip must be a whole number, or none"),
                                            ("frame_skip=2.5", "frame_skip must be a whole number, or none")])
def test_bad_frame_skip_is_explained(item, fragment):
    with pytest.raises(configs.ConfigError, match=fragment):
        configs.make_config("fast", [item])
    with pytest.raises(configs.ConfigError, match="frame_skip must be at least 1"):
        configs.validate(configs.make_config("fast", ["frame_skip=0"]))


def test_pong_preset_is_the_books_hyperparameters_on_the_references_env():
    c = configs.make_config("pong")
    assert (c.env_name, c.frame_skip, c.max_pool_frames, c.noop_max, c.fire_reset) == ("PongNoFrameskip-v4", 4, True,
                                                                                       30, True)
    assert (c.memory_limit, c.nb_steps_warmup, c.target_model_update, c.train_interval, c.batch_size) == (
        100_000, 10_000, 1_000, 1, 32)
    assert (c.epsilon_max, c.epsilon_min, c.epsilon_steps, c.learning_rate, c.gamma) == (1.0, 0.02, 100_000, 1e-4, 0.99)
    assert c.delta_clip == float("inf") and not c.enable_double_dqn and not c.enable_dueling_network


def test_pong_fast_is_pong_with_the_nips_net_3_step_returns_and_a_1m_step_run():
    """The screening chose two levers (weights/README.md): every other key, the schedule included,
    stays `pong`'s, so the race's runs compare with `pong`'s."""
    pong, pong_fast = configs.make_config("pong"), configs.make_config("pong_fast")
    changed = {key: pong_fast[key] for key in pong if pong_fast[key] != pong[key]}
    assert changed == {"preset": "pong_fast", "net": "nips2013", "n_step": 3, "total_steps": 1_000_000}
    assert (pong_fast.checkpoint_every, pong_fast.eval_every, pong_fast.eval_episodes) == (25_000, 50_000, 10)


def test_a_saved_config_naming_no_preset_reads_as_custom_everywhere():
    from dqnkit.run.folder import default_run_dir

    config = configs.from_json_text('{"seed": 5, "gamma": 0.98}')  # config.json written by hand
    assert config.preset == configs.CUSTOM == "custom" and config.gamma == 0.98
    assert configs.from_saved({"seed": 5, "gamma": 0.98}) == config  # what a checkpoint's copy gives
    assert default_run_dir(config) == "runs/BreakoutDeterministic-v4-custom-seed5"
    with pytest.raises(configs.ConfigError, match="keys this version does not know: nope"):
        configs.from_saved({"nope": 1})


def test_compose_applies_overrides_then_sets_and_checks_the_env():
    config = resolve.compose(configs.make_config("smoke"), {"gamma": 0.9, "seed": 3}, ["gamma=0.8"])
    assert (config.gamma, config.seed) == (0.8, 3)
    with pytest.raises(Exception, match="steps one frame at a time; set frame_skip=4"):
        resolve.compose(configs.make_config("smoke"), {"env_name": "PongNoFrameskip-v4"}, ["max_pool_frames=true"])
