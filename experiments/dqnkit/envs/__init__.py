"""Envs: ALE games by name with the Atari preprocessing and their state at any step
(``ale.py``), the run's ``num_envs`` seeded envs (``run_envs.py``), and mp4 capture
(``video.py``)."""
from dqnkit._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "ale": ["make_env", "make_config_env", "resolve_env", "lives", "frames_per_step", "check_preprocessing",
            "check_runnable", "save_env_state", "restore_env_state", "EnvNameError"],
    "run_envs": ["make_run_envs", "env_seed"],
})
