"""Experiment configs: one documented defaults dict (``keys.py``), named presets
(``presets.py``), typed overrides and the saved config's reader (``parsing.py``).

``from dqnkit import configs`` offers all of them: ``configs.make_config("fast", {"gamma": 0.98})``.
(Whether a config can run here, its env name and preprocessing included, is
``dqnkit.envs.check_runnable``: that needs gymnasium, which this package does not load.)
"""
from dqnkit._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "keys": ["DEFAULTS", "DUELING_TYPES", "NETS", "OPTIONAL_INT_KEYS", "SCHEDULE_KEYS", "STEPS_OR_RATE_KEYS", "UNSET_WORDS"],
    "parsing": ["CUSTOM", "ConfigError", "apply_overrides", "convert_value", "default_config", "describe_keys",
                "from_json_text", "from_saved", "make_config", "read_config_file", "run_defining_differences",
                "to_dict", "to_json", "validate"],
    "presets": ["FAST", "PONG", "PRESETS"],
})
