"""Experiment configs: one documented defaults dict (``keys.py``), named presets
(``presets.py``), typed overrides and the saved config's reader (``parsing.py``).

``from dqnkit import configs`` offers all of them: ``configs.make_config("fast", {"gamma": 0.98})``.
(Whether a config can run here, its env name and preprocessing included, is
``dqnkit.envs.check_runnable``: that needs gymnasium, which this package does not load.)
"""
from dqnkit.configs.keys import (DEFAULTS, DUELING_TYPES, OPTIONAL_INT_KEYS, SCHEDULE_KEYS,  # noqa: F401
                                 STEPS_OR_RATE_KEYS, UNSET_WORDS)
from dqnkit.configs.parsing import (CUSTOM, ConfigError, apply_overrides, convert_value,  # noqa: F401
                                    default_config, describe_keys, from_json_text, from_saved, make_config,
                                    run_defining_differences, to_dict, to_json, validate)
from dqnkit.configs.presets import FAST, PONG, PRESETS  # noqa: F401
