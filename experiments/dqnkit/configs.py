"""Experiment configs: one documented defaults dict, named presets, typed overrides.

Every config is an ``easydict.EasyDict`` so notebooks can write ``cfg.gamma`` and scripts can
save it as JSON. Keys use keras-rl2's own argument names where it has one.
"""
import json

from easydict import EasyDict

from dqnkit.errors import UserFacingError

# key: (default, one-line explanation). The order is the order `--help` and config.json use.
DEFAULTS = {
    # -- what the run is ---------------------------------------------------------------------
    "env_name": ("BreakoutDeterministic-v4", "Atari game id; old gym names (BreakoutDeterministic-v4) and ALE/Breakout-v5 both work"),
    "seed": (123, "seeds Python, numpy, TensorFlow, the env and replay sampling"),
    "num_envs": (1, "envs played side by side, their transitions in one replay memory (each env its own stream); steps count transitions, N per vector step, and every step key keeps its meaning"),
    "window_length": (4, "frames stacked into one state (keras-rl2 Memory window_length)"),
    "memory_limit": (1_000_000, "replay memory size in transitions (one 84x84 uint8 frame each)"),
    "batch_size": (32, "transitions per training step (DQNAgent batch_size)"),
    "gamma": (0.99, "discount factor (DQNAgent gamma)"),
    "nb_steps_warmup": (50_000, "steps of pure experience collection before training starts (DQNAgent nb_steps_warmup)"),
    "target_model_update": (10_000, "DQNAgent target_model_update: >= 1: steps between hard target-network copies; < 1: soft update rate tau after every training step"),
    "train_interval": (4, "agent steps per training step (DQNAgent train_interval)"),
    "delta_clip": (1.0, "Huber loss threshold (DQNAgent delta_clip); inf: plain squared error"),
    "enable_double_dqn": (False, "Double DQN: the online net picks the next action, the target net values it (DQNAgent enable_double_dqn)"),
    "enable_dueling_network": (False, "dueling head: Q = V + A (DQNAgent enable_dueling_network)"),
    "dueling_type": ("avg", "how the dueling head combines V and A: avg, max or naive (DQNAgent dueling_type)"),
    "learning_rate": (2.5e-4, "Adam learning rate"),
    "adam_epsilon": (1e-7, "Adam epsilon (tf-keras' default 1e-7; Dopamine's DQN uses 1.5e-4)"),
    "epsilon_max": (1.0, "exploration epsilon at step 0 (LinearAnnealedPolicy value_max)"),
    "epsilon_min": (0.1, "exploration epsilon after epsilon_steps (LinearAnnealedPolicy value_min)"),
    "epsilon_steps": (1_000_000, "steps over which epsilon falls linearly (LinearAnnealedPolicy nb_steps)"),
    "epsilon_test": (0.05, "epsilon when testing and evaluating (LinearAnnealedPolicy value_test)"),
    # -- standard Atari preprocessing (Machado et al. 2018; all off in the keras_rl preset) ----------
    "noop_max": (0, "at every reset, 1 to noop_max random no-op actions of the ALE env (frames with max_pool_frames); 0: none"),
    "frame_skip": (None, "frames per agent step; unset (null): what the env name says (4 for Deterministic-v4 and ALE/...-v5, 1 for NoFrameskip-v4). PongNoFrameskip-v4 with frame_skip=4 and max_pool_frames is CleanRL's and the book's env"),
    "max_pool_frames": (False, "each agent step repeats the action for the frame skip (frame_skip, else the env name's) and returns the max of the last two frames"),
    "terminal_on_life_loss": (False, "learning sees a lost life as the end of an episode; the log, evaluation and test mode keep whole games"),
    "fire_reset": (False, "press FIRE at the start of a game and after each lost life, in games that have a FIRE action"),
    # -- schedule: may change between segments of one run -----------------------------------------
    "total_steps": (1_750_000, "agent steps the whole run trains for"),
    "checkpoint_every": (250_000, "agent steps between checkpoints (at that exact step, in the middle of a game or not)"),
    "keep_checkpoints": (2, "complete checkpoints kept on disk; older ones are deleted"),
    "eval_every": (250_000, "agent steps between evaluations (at that exact step, then a checkpoint); 0: never"),
    "eval_episodes": (10, "games played at epsilon_test in each evaluation, on an env of their own"),
    "eval_patience": (0, "the run ends once this many evaluations in a row bring no new best mean (Keras EarlyStopping's patience; best_weights.h5 holds the best); 0: train to total_steps"),
    "log_interval": (10_000, "agent steps between summary lines on the console"),
    "video": (True, "record training episodes 0, 1, 8, 27, ..., 729, then every 1000th, to videos/"),
    "tensorboard": (True, "write live metrics to tensorboard/ in the run folder (tensorboard --logdir RUN_DIR)"),
    "actor_process": (False, "the envs and greedy actions run in a process of their own while this one trains (needs num_envs >= 2); the same run either way, so it may change between segments"),
    "test_episodes": (10, "episodes played by --mode test"),
}

# Keys that may differ between segments of one run; every other key defines the run, and
# resuming with a different value stops with an error (see `run_defining_differences`).
SCHEDULE_KEYS = frozenset({"actor_process", "total_steps", "checkpoint_every", "keep_checkpoints", "eval_every", "eval_episodes",
                           "eval_patience", "log_interval", "video", "tensorboard", "test_episodes"})

DUELING_TYPES = ("avg", "max", "naive")

# Keys that take a whole number of steps (>= 1) or a rate below 1, as keras-rl2's argument does.
STEPS_OR_RATE_KEYS = frozenset({"target_model_update"})

# Keys whose default is "unset" (None, null in config.json): a whole number when set. A config saved
# before such a key existed reads as unset, which keeps that run's meaning.
OPTIONAL_INT_KEYS = frozenset({"frame_skip"})
UNSET_WORDS = ("", "none", "null", "unset")

# Learning fast on one machine (the `fast` preset; the `colab` preset builds on it): see PRESETS.
FAST = {
    "total_steps": 2_000_000,
    "memory_limit": 250_000,
    "nb_steps_warmup": 20_000,
    "target_model_update": 2_000,
    "enable_double_dqn": True,
    "learning_rate": 1e-4,
    "adam_epsilon": 1.5e-4,
    "epsilon_min": 0.01,
    "epsilon_steps": 250_000,
    "epsilon_test": 0.01,
    "noop_max": 30,
    "max_pool_frames": True,
    "terminal_on_life_loss": True,
    "fire_reset": True,
    "checkpoint_every": 25_000,
    "eval_every": 100_000,
    "eval_episodes": 10,
}

# Pong, from the hyperparameters of the book behind seed 002 (Lapan, Deep RL Hands-On 2nd ed.,
# Chapter09/lib/common.py, "pong"), with its env: see PRESETS["pong"].
PONG = {
    "env_name": "PongNoFrameskip-v4",  # the name the book and CleanRL train under ...
    "frame_skip": 4,                   # ... with their 4-frame skip ...
    "max_pool_frames": True,           # ... max-pooled over the last two frames (MaxAndSkipEnv)
    "noop_max": 30,                    # NoopResetEnv(noop_max=30) in the book's wrap_dqn
    "fire_reset": True,                # FireResetEnv: Pong serves after FIRE
    "memory_limit": 100_000,           # replay_size
    "nb_steps_warmup": 10_000,         # replay_initial
    "target_model_update": 1_000,      # target_net_sync
    "train_interval": 1,               # one train step per agent step
    "batch_size": 32,                  # batch_size
    "gamma": 0.99,                     # gamma
    "learning_rate": 1e-4,             # Adam lr
    "adam_epsilon": 1e-8,              # PyTorch's Adam default (tf-keras' is 1e-7)
    "delta_clip": float("inf"),        # nn.MSELoss: plain squared error, no Huber
    "epsilon_max": 1.0,                # epsilon_start
    "epsilon_min": 0.02,               # epsilon_final
    "epsilon_steps": 100_000,          # epsilon_frames (the book's frames are agent steps)
    # Not in the book (it neither evaluates nor checkpoints): the kit's own schedule.
    "epsilon_test": 0.01,
    "total_steps": 2_000_000,
    "checkpoint_every": 25_000,
    "eval_every": 50_000,
    "eval_episodes": 10,
}

PRESETS = {
    # Exactly the hyperparameters of keras-rl's examples/dqn_atari.py (Mnih et al. 2015 scale).
    "keras_rl": {},
    # Learning fast on one machine, from the references that do (agent steps; 1 step = 4 frames):
    # - standard preprocessing (CleanRL, SB3, Dopamine): up to 30 no-op frames at reset, max over
    #   the last two of each 4 frames, a lost life ends the learning episode, FIRE launches the ball;
    # - Double DQN (van Hasselt et al. 2016): less overestimation, so a short target period is safe;
    # - epsilon 1 -> 0.01 over 250k steps and warm-up 20k (Dopamine): exploit early;
    # - target update every 2,000 steps (between CleanRL's 1,000 and Dopamine's 8,000);
    # - Adam 1e-4 (CleanRL, rl-zoo) with epsilon 1.5e-4 (Dopamine): steadier steps than 1e-7;
    # - memory 250k (1.8 GB; Dopamine and CleanRL keep 1M): fits a laptop and a free Colab;
    # - evaluation every 100k steps at epsilon_test 0.01, 10 games; checkpoints every 25k (minutes).
    # Trades: a smaller memory and a shorter target period are less stable over tens of millions of
    # steps (the references' horizon); this preset is for the first few million.
    "fast": FAST,
    # A free Colab T4 session (12 h at most): the fast preset's learning settings with a 1M-frame
    # memory (12.7 GB of RAM holds it because frames are stored once as uint8), 5M steps, and
    # checkpoints every 50k steps so a disconnect costs minutes.
    "colab": {
        **FAST,
        "total_steps": 5_000_000,
        "memory_limit": 1_000_000,
        "checkpoint_every": 50_000,
        "eval_every": 250_000,
    },
    # The keras-rl example made to fit a laptop CPU over a night: a 200k memory (1.4 GB), learning
    # after 20k steps, epsilon 0.05 after 250k steps, target net every 2,500 steps; no other change
    # (no preprocessing, vanilla DQN). Tested at a mean of about 37 after 400k steps.
    "laptop": {
        "total_steps": 1_000_000,
        "memory_limit": 200_000,
        "nb_steps_warmup": 20_000,
        "target_model_update": 2_500,
        "epsilon_steps": 250_000,
        "epsilon_min": 0.05,
        "learning_rate": 1e-4,
        "checkpoint_every": 50_000,
        "eval_every": 100_000,
        "log_interval": 5_000,
    },
    # Pong as the book behind seed 002 solves it ("solved": the mean of the last 100 games >= 17):
    # its hyperparameters and env key by key in PONG above. Vanilla DQN (no Double, no dueling) with
    # a train step per agent step, a small memory (100k, 0.7 GB) and a short epsilon schedule: Pong is
    # easy to explore and its frames repeat. `--config pong` trains PongNoFrameskip-v4 with a 4-frame
    # max-pooled skip; --env-name another game keeps these settings.
    "pong": PONG,
    # Tests and first contact: learning starts at step 500, 2,000 steps take about half a minute.
    "smoke": {
        "total_steps": 2_000,
        "memory_limit": 5_000,
        "nb_steps_warmup": 500,
        "target_model_update": 500,
        "epsilon_steps": 1_500,
        "checkpoint_every": 1_000,
        "eval_every": 1_000,
        "eval_episodes": 1,
        "log_interval": 500,
        "test_episodes": 2,
    },
}


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
    """Check relations between keys that a wrong value would break later, deep in a run."""
    positive = ["num_envs", "window_length", "memory_limit", "batch_size", "train_interval", "total_steps",
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
    if config.memory_limit < config.window_length + 2 + config.batch_size:
        raise ConfigError(f"memory_limit ({config.memory_limit}) must exceed window_length + batch_size + 2")
    if config.nb_steps_warmup < config.window_length + config.batch_size + 2:
        raise ConfigError(
            f"nb_steps_warmup ({config.nb_steps_warmup}) must be at least window_length + batch_size + 2 "
            "so the first batch can be sampled without repeats")
    return config


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


def from_json_text(text):
    """A config from config.json text (see `from_saved`)."""
    return from_saved(json.loads(text))


def compose(base, overrides=None, sets=()):
    """`base` (a preset's or a saved config) with `overrides` (a dict: the CLI's flags, the
    notebook's parameters) and then `sets` (--set KEY=VALUE strings) applied, and validated:
    the one way the CLI, the notebook and sweeps turn what a user asked for into a config."""
    apply_overrides(base, overrides or {})
    apply_overrides(base, list(sets))
    return check_runnable(base)


def check_runnable(config):
    """`validate`, and the env name with its preprocessing (which needs gymnasium, so it is
    imported only here, keeping --help instant). Returns the config."""
    from dqnkit import envs

    validate(config)
    envs.check_preprocessing(config.env_name, config.max_pool_frames, config.get("frame_skip"))
    return config
