"""Atari environments from gymnasium + ale-py, under the names keras-rl and gym users know.

ale-py >= 0.9 ships the ROMs, so nothing is downloaded. gymnasium 1.x with ale-py 0.12 no
longer registers the old ``*Deterministic-v4`` names that keras-rl's example uses; we map every
classic gym name onto the ALE env with the same settings:

=============================  ==========  ==============================
name                           frameskip   repeat_action_probability
=============================  ==========  ==============================
``BreakoutDeterministic-v4``   4           0.0
``BreakoutDeterministic-v0``   4           0.25
``BreakoutNoFrameskip-v4``     1           0.0
``Breakout-v4``                2 to 4      0.0
``ALE/Breakout-v5``            4           0.25
=============================  ==========  ==============================
"""
import re

import ale_py
import gymnasium as gym

from dqnkit.errors import UserFacingError

gym.register_envs(ale_py)

_CLASSIC = re.compile(r"^(?P<game>[A-Za-z]+?)(?P<kind>Deterministic|NoFrameskip)?-v(?P<version>[04])$")
_ALE = re.compile(r"^ALE/(?P<game>[A-Za-z]+)-v5$")


class EnvNameError(UserFacingError, ValueError):
    """The env name names no Atari game that ale-py ships."""


def _available_games():
    return sorted({spec.kwargs["game"] for spec in gym.registry.values()
                   if spec.entry_point == "ale_py.env:AtariEnv" and "game" in spec.kwargs})


def _game_id(camel_name):
    """'SpaceInvaders' -> 'space_invaders' (ale-py's ROM id)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel_name).lower()


def resolve_env(env_name):
    """Return (game, kwargs for ale_py's AtariEnv) for a classic gym or ALE v5 name."""
    classic = _CLASSIC.match(env_name)
    ale = _ALE.match(env_name)
    if ale:
        game, kwargs = ale["game"], {"frameskip": 4, "repeat_action_probability": 0.25}
    elif classic:
        game = classic["game"]
        sticky = 0.25 if classic["version"] == "0" else 0.0
        frameskip = {"Deterministic": 4, "NoFrameskip": 1, None: (2, 5)}[classic["kind"]]
        kwargs = {"frameskip": frameskip, "repeat_action_probability": sticky}
    else:
        raise EnvNameError(
            f"unknown env name {env_name!r}: use a gym name like BreakoutDeterministic-v4 or an ALE "
            "name like ALE/Breakout-v5")
    rom = _game_id(game)
    if rom not in _available_games():
        raise EnvNameError(
            f"unknown Atari game {game!r} in {env_name!r}; ale-py ships: "
            + ", ".join(_available_games()[:12]) + ", ...")
    return rom, kwargs


def make_env(env_name, render_mode=None, obs_type="rgb"):
    """A gymnasium Atari env for `env_name`.

    ``obs_type="rgb"`` gives the 210x160x3 frames keras-rl's example processed;
    ``"grayscale"`` lets ALE convert to luminance itself (the same values Pillow's ``convert("L")``
    gives, a third of the bytes, and less work per step). Videos come from ``render()``, which
    is RGB either way."""
    rom, kwargs = resolve_env(env_name)
    ale_name = next(spec.id for spec in gym.registry.values()
                    if spec.id.startswith("ALE/") and spec.id.endswith("-v5") and spec.kwargs.get("game") == rom)
    return gym.make(ale_name, render_mode=render_mode, obs_type=obs_type, **kwargs)


def save_env_state(env):
    """The env's state between two episodes, as plain data: ALE's RNG and the wrapper's numpy RNG.

    Taken at an episode boundary it is all the next episode depends on (sticky actions and a
    random frameskip draw from these two generators)."""
    atari = env.unwrapped
    ale_state = atari.ale.cloneState(include_rng=True).serialize()
    return {"ale_state": ale_state, "np_random": atari.np_random.bit_generator.state}


def restore_env_state(env, saved, seed):
    """Undo `save_env_state` on a freshly made env (which is reset once to load its ROM)."""
    env.reset(seed=seed)
    atari = env.unwrapped
    atari.ale.restoreState(ale_py.ALEState(saved["ale_state"]))
    atari.np_random.bit_generator.state = saved["np_random"]
