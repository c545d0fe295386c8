"""Making and reading configs: a preset with typed overrides (``make_config``, ``--set
KEY=VALUE``), the checks of relations between keys (``validate``), and config.json's reader and
writer (``from_saved``, ``to_json``).

Every config is an ``easydict.EasyDict``, so notebooks can write ``cfg.gamma`` and scripts can
save it as JSON.
"""
import json

from easydict import EasyDict

from dqnkit.configs.keys import (DEFAULTS, DUELING_TYPES, NETS, OPTIONAL_INT_KEYS, SCHEDULE_KEYS,
                                 STEPS_OR_RATE_KEYS, UNSET_WORDS)
from dqnkit.configs.presets import PRESETS
from dqnkit.errors import UserFacingError


class ConfigError(UserFacingError, ValueError):
    """A config name, key or value a user gave is wrong; the message says what to do."""


def default_config():
    """The defaults (= the `keras_rl` preset) as an EasyDict."""
    return EasyDict({key: default for key, (default, _) in DEFAULTS.items()})


def describe_keys():
    """One line per key: name, default and what it means (for --help and the README)."""
    return "\n".join(f"  {key} = {default!r}: {doc}" for key, (default, doc) in DEFAULTS.items())


def make_config(preset="keras_rl", overrides=None):
    """Return the preset `preset` with `overrides` (a dict or KEY=VALUE strings) applied."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown config preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    config = default_config()
    config.update(PRESETS[preset])
    config.preset = preset
    apply_overrides(config, overrides or {})
    return config


def apply_overrides(config, overrides):
    """Set keys from a dict or from 'KEY=VALUE' strings, converting and checking types."""
    if not isinstance(overrides, dict):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
            key, value = item.split("=", 1)
            pairs[key.strip()] = value.strip()
        overrides = pairs
    for key, value in overrides.items():
        config[key] = convert_value(key, value)
    return config


def convert_value(key, value):
    """`value` as the type of `key`'s default; strings are parsed the way a shell user types."""
    if key not in DEFAULTS:
        raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(DEFAULTS)}")
    default = DEFAULTS[key][0]
    expected = type(default)
    try:
        if key in OPTIONAL_INT_KEYS:
            if value is None or (isinstance(value, str) and value.strip().lower() in UNSET_WORDS):
                return None
            return _to_int(value)
        if key in STEPS_OR_RATE_KEYS:
            return _to_steps_or_rate(value)
        if expected is bool:
            return _to_bool(value)
        if expected is int:
            return _to_int(value)
        if expected is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)  # "inf" and "1e-4" too
            if number != number:
                raise ValueError
            return number
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        kind = ("a whole number of steps or a rate below 1" if key in STEPS_OR_RATE_KEYS
                else "a whole number, or none for the env name's" if key in OPTIONAL_INT_KEYS else expected.__name__)
        raise ConfigError(f"{key} must be {kind} (like {default!r}), got {value!r}") from None


def _to_steps_or_rate(value):
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(str(value).replace("_", "")) if isinstance(value, str) else float(value)
    if number >= 1:
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    return number


def _to_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _to_int(value):
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(value)
    number = float(str(value).replace("_", ""))  # accepts 1e6 and 1_000_000
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def validate(config):
    """Check relations between keys that a wrong value would break later, deep in a run. A key a
    config made by hand (or saved by an older version and not read with `from_saved`) lacks is
    added with its default, which keeps that config's meaning."""
    for key, (default, _) in DEFAULTS.items():
        if key not in config:
            config[key] = default  # (EasyDict: item and attribute; dict.setdefault would skip the attribute)
    positive = ["num_envs", "window_length", "n_step", "memory_limit", "batch_size", "train_interval", "total_steps",
                "checkpoint_every", "keep_checkpoints", "log_interval", "epsilon_steps", "eval_episodes"]
    for key in positive:
        if config[key] < 1:
            raise ConfigError(f"{key} must be at least 1, got {config[key]}")
    if config.get("frame_skip") is not None and config.frame_skip < 1:
        raise ConfigError(f"frame_skip must be at least 1 (or none for the env name's), got {config.frame_skip}")
    for key in ("noop_max", "eval_every", "eval_patience"):
        if config[key] < 0:
            raise ConfigError(f"{key} must be >= 0, got {config[key]}")
    if config.eval_patience and not config.eval_every:
        raise ConfigError("eval_patience counts evaluations, and eval_every=0 turns them off; set eval_every to "
                          "the steps between evaluations, or eval_patience=0")
    if not config.target_model_update > 0:
        raise ConfigError(f"target_model_update must be > 0 (>= 1: steps between hard updates, < 1: soft "
                          f"update rate), got {config.target_model_update}")
    if not config.delta_clip > 0:
        raise ConfigError(f"delta_clip must be > 0 (inf for plain squared error), got {config.delta_clip}")
    if not config.learning_rate > 0 or not config.adam_epsilon > 0:
        raise ConfigError("learning_rate and adam_epsilon must be > 0")
    if config.net not in NETS:
        raise ConfigError(f"net must be one of {', '.join(NETS)}, got {config.net!r}")
    if config.dueling_type not in DUELING_TYPES:
        raise ConfigError(f"dueling_type must be one of {', '.join(DUELING_TYPES)}, got {config.dueling_type!r}")
    if config.nb_steps_warmup < 0:
        raise ConfigError(f"nb_steps_warmup must be >= 0, got {config.nb_steps_warmup}")
    if not 0.0 <= config.gamma <= 1.0:
        raise ConfigError(f"gamma must be in [0, 1], got {config.gamma}")
    for key in ("epsilon_max", "epsilon_min", "epsilon_test"):
        if not 0.0 <= config[key] <= 1.0:
            raise ConfigError(f"{key} must be in [0, 1], got {config[key]}")
    if config.actor_process and config.num_envs < 2:
        raise ConfigError("actor_process needs num_envs >= 2: the actor process plays the next vector step with "
                          "the weights from before the previous one's train steps, a lag one-env runs (keras-rl2's "
                          "fit) do not have; set num_envs=2 or more")
    if config.num_envs > 1:
        for key in ("memory_limit", "total_steps", "checkpoint_every", "eval_every"):
            if config[key] % config.num_envs:
                raise ConfigError(f"{key} ({config[key]:,}) must be a multiple of num_envs ({config.num_envs}): steps "
                                  f"count transitions, num_envs per vector step; set {key} to a multiple of {config.num_envs}")
    _validate_memory_and_warm_up(config)
    return config


def _validate_memory_and_warm_up(config):
    """The replay memory and the warm-up are big enough for the first batch to be sampled."""
    # A transition needs window_length entries before it and one after; n-step returns n - 1 more.
    extra = "" if config.n_step == 1 else " + n_step - 1"
    needed = config.window_length + config.batch_size + 2 + config.n_step - 1
    if config.memory_limit < needed:
        raise ConfigError(f"memory_limit ({config.memory_limit}) must be at least window_length + batch_size + 2{extra} "
                          f"= {needed}")
    if config.nb_steps_warmup < needed:
        raise ConfigError(
            f"nb_steps_warmup ({config.nb_steps_warmup}) must be at least window_length + batch_size + 2{extra} "
            f"= {needed} so the first batch can be sampled without repeats")
    if config.num_envs > 1:
        # Each env keeps a stream of its own (memory/streams.py), and a transition is sampled from
        # one stream: window_length entries before it, n_step after it, all in that env's stream.
        per_stream = config.window_length + config.n_step + 1
        if config.memory_limit // config.num_envs < per_stream:
            raise ConfigError(
                f"memory_limit / num_envs ({config.memory_limit // config.num_envs}) must be at least window_length "
                f"+ n_step + 1 = {per_stream}: each env's share of the memory must hold a transition; set memory_limit "
                f"to at least {config.num_envs * per_stream}")
        # The actor stores step s, then trains at s if s > nb_steps_warmup and s is a multiple of
        # train_interval: the first train step comes with s + 1 entries, dealt round the envs, so
        # env 0's stream, the fullest, holds s // num_envs + 1: a transition can be drawn once
        # s >= num_envs x (window_length + n_step). (Entries after game ends only add to a stream.)
        ready = config.num_envs * (config.window_length + config.n_step)
        interval = config.train_interval
        first_train = (config.nb_steps_warmup // interval + 1) * interval
        if first_train < ready:
            shortest = (-(-ready // interval) - 1) * interval
            raise ConfigError(
                f"nb_steps_warmup ({config.nb_steps_warmup}) is too short for {config.num_envs} envs: training "
                f"would start at step {first_train}, before any env's stream holds a transition (step {ready}); "
                f"set nb_steps_warmup to at least {shortest}")


def run_defining_differences(saved, current):
    """Keys (other than schedule keys) whose values differ between two configs."""
    keys = [k for k in DEFAULTS if k not in SCHEDULE_KEYS]
    return [k for k in keys if saved.get(k) != current.get(k)]


def to_dict(config):
    """The config as a plain dict (what config.json and checkpoints hold)."""
    return {key: config[key] for key in config}


def to_json(config):
    return json.dumps(to_dict(config), indent=2, sort_keys=False)


CUSTOM = "custom"  # the preset name of a saved config that names none (not made from a preset)


def from_saved(data):
    """The one reader of a saved config (config.json's, a checkpoint's, a shipped agent's):
    keys this version does not know are refused, keys added since take their defaults (which
    keep the saved run's meaning), every value is type-checked, and a config that names no
    preset reads as ``custom``."""
    if not isinstance(data, dict):
        raise ConfigError("a saved config must be a JSON object of config keys")
    data = dict(data)
    preset = data.pop("preset", CUSTOM)
    unknown = [k for k in data if k not in DEFAULTS]
    if unknown:
        raise ConfigError(f"the saved config has keys this version does not know: {', '.join(unknown)}")
    config = default_config()
    for key, value in data.items():
        config[key] = convert_value(key, value)
    config.preset = preset
    return config


def read_config_file(path, advice=""):
    """A saved config (a run's config.json, a checkpoint's copy, a shipped agent's) read from
    `path`; one line if it is garbled or unreadable, with `advice` on what to do."""
    try:
        with open(path, encoding="utf-8") as f:
            return from_json_text(f.read())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a readable config ({exc}){'; ' + advice if advice else ''}") from None


def from_json_text(text):
    """A config from config.json text (see `from_saved`)."""
    return from_saved(json.loads(text))
