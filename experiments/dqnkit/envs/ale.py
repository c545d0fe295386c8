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

The standard Atari preprocessing (Machado et al. 2018; what CleanRL, SB3 and Dopamine train
with) is switched on by config keys, each keeping the env name's meaning:

- ``frame_skip`` replaces the name's frames per agent step, so the names other tools train under
  mean the same here: ``PongNoFrameskip-v4`` with ``frame_skip=4`` and ``max_pool_frames`` is
  the env of CleanRL, SB3 and the book behind seed 002. Unset, the name decides.
- ``noop_max`` and ``max_pool_frames``: gymnasium's ``AtariPreprocessing``. With max pooling the
  ALE env steps one frame at a time and the wrapper repeats each action for the frame skip
  (4 for ``*Deterministic-v4`` and ``ALE/*-v5``), returning the max of the last two frames (Atari
  sprites flicker). It is asked for the raw frame size, so ``AtariProcessor`` still does the one
  resize to 84x84, in every preset alike.
- ``fire_reset``: ``FireOnLifeStart`` below; gymnasium has no such wrapper.
- ``terminal_on_life_loss`` is not a wrapper: gymnasium's option of that name restarts the whole
  game after every lost life, so learning would never see the later, harder parts of a game. The
  training loop instead ends the *agent's* episode at a lost life while the game goes on, as
  baselines' ``EpisodicLifeEnv`` does (``actor.Actor``).

Every random draw these wrappers make (the number of no-ops) comes from the ALE env's own
``np_random``, which checkpoints save, so resuming stays exact.
"""
import re

import ale_py
import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing

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


def frames_per_step(env_name, frame_skip=None):
    """The ALE frames one agent step covers: `frame_skip` if set, else what `env_name` implies
    (an int, or (2, 5) for the classic names that draw 2 to 4 at random)."""
    _, kwargs = resolve_env(env_name)
    return kwargs["frameskip"] if frame_skip is None else frame_skip


def check_preprocessing(env_name, max_pool_frames, frame_skip=None):
    """Stop with one line if the preprocessing asked for cannot keep `env_name`'s meaning."""
    if frame_skip is not None and (isinstance(frame_skip, bool) or not isinstance(frame_skip, int) or frame_skip < 1):
        raise EnvNameError(f"frame_skip must be a whole number of frames >= 1, or none for {env_name}'s own; "
                           f"got {frame_skip!r}")
    frameskip = frames_per_step(env_name, frame_skip)
    if max_pool_frames and not isinstance(frameskip, int):
        raise EnvNameError(f"max_pool_frames needs a fixed frame skip, but {env_name} skips 2 to 4 frames at random; "
                           "set frame_skip=4, or use the Deterministic-v4 or ALE/...-v5 name of the game")
    if max_pool_frames and frameskip < 2:
        raise EnvNameError(f"max_pool_frames pools the last two frames of each step, but {env_name} steps one frame "
                           "at a time; set frame_skip=4 (CleanRL's and the book's setup: --set frame_skip=4), or use "
                           "the Deterministic-v4 or ALE/...-v5 name of the game (4 frames per step)")


def check_runnable(config):
    """The config's own checks (``configs.validate``), then its env name with its preprocessing:
    whether the run can start here at all. Returns the config."""
    from dqnkit import configs

    configs.validate(config)
    check_preprocessing(config.env_name, config.max_pool_frames, config.get("frame_skip"))
    return config


def make_env(env_name, render_mode=None, obs_type="rgb", noop_max=0, max_pool_frames=False, fire_reset=False,
             frame_skip=None):
    """A gymnasium Atari env for `env_name`, with the preprocessing asked for (module docstring).

    ``obs_type="rgb"`` gives the 210x160x3 frames keras-rl's example processed;
    ``"grayscale"`` lets ALE convert to luminance itself (the same values Pillow's ``convert("L")``
    gives, a third of the bytes, and less work per step). Videos come from ``render()``, which
    is RGB either way. ``frame_skip`` replaces the name's frames per step (``None``: the name's);
    sticky actions stay what the name says."""
    check_preprocessing(env_name, max_pool_frames, frame_skip)
    rom, kwargs = resolve_env(env_name)
    kwargs["frameskip"] = frames_per_step(env_name, frame_skip)
    ale_name = next(spec.id for spec in gym.registry.values()
                    if spec.id.startswith("ALE/") and spec.id.endswith("-v5") and spec.kwargs.get("game") == rom)
    frame_skip = kwargs["frameskip"]
    if max_pool_frames:
        kwargs["frameskip"] = 1  # AtariPreprocessing does the skipping, and pools
    # ALE logs its banner ("A.L.E: Arcade Learning Environment (version ...)", "[Powered by
    # Stella]") at INFO for every env it makes; at WARNING its warnings and errors still show.
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Warning)
    env = RecordLastAction(gym.make(ale_name, render_mode=render_mode, obs_type=obs_type, **kwargs))
    if max_pool_frames or noop_max:
        height, width = env.observation_space.shape[:2]
        env = AtariPreprocessing(env, noop_max=noop_max, frame_skip=frame_skip if max_pool_frames else 1,
                                 screen_size=(width, height), terminal_on_life_loss=False,
                                 grayscale_obs=obs_type == "grayscale")
    if fire_reset and "FIRE" in env.unwrapped.get_action_meanings():
        env = FireOnLifeStart(env)
    return env


def make_config_env(config, render_mode=None):
    """The env a config trains, evaluates and tests on: grayscale frames, its preprocessing."""
    return make_env(config.env_name, render_mode=render_mode, obs_type="grayscale", noop_max=config.noop_max,
                    max_pool_frames=config.max_pool_frames, fire_reset=config.fire_reset,
                    frame_skip=config.get("frame_skip"))


def lives(env):
    """Lives left in the current game (0 in games without lives)."""
    return env.unwrapped.ale.lives()


class RecordLastAction(gym.Wrapper):
    """Remembers the last action given to the ALE env (no-ops and FIRE presses included).

    With sticky actions (``ALE/*-v5``, ``*-v0``) ALE repeats its previous action with probability
    0.25 at every frame, and ALE's saved state does not hold that previous action: an env restored
    in the middle of a game would repeat the wrong one. `restore_env_state` gives it back from here."""

    def __init__(self, env):
        super().__init__(env)
        self.last_action = 0  # ALE starts each game after NOOP

    def reset(self, **kwargs):
        self.last_action = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        self.last_action = int(action)
        return self.env.step(action)


class FireOnLifeStart(gym.Wrapper):
    """Presses FIRE after every reset and after every lost life, so the ball is always in play.

    In Breakout nothing happens until FIRE is pressed: an agent that has not learnt that yet
    wastes its exploration waiting (and a greedy one can wait until the 108,000-frame limit).
    baselines' ``FireResetEnv`` fires at reset only, and relies on ``EpisodicLifeEnv`` turning
    each life into a reset; we fire after a lost life directly, so whole games behave the same
    in training, evaluation and test. The FIRE steps are not agent steps; their rewards (none in
    the games that need FIRE) are added to the step's."""

    def __init__(self, env):
        super().__init__(env)
        self.fire_action = env.unwrapped.get_action_meanings().index("FIRE")
        self._lives = 0

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        observation, _, terminated, truncated, info = self.env.step(self.fire_action)
        if terminated or truncated:
            observation, info = self.env.reset(**kwargs)
        self._lives = lives(self.env)
        return observation, info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        now = lives(self.env)
        if now < self._lives and not (terminated or truncated):
            observation, fire_reward, terminated, truncated, info = self.env.step(self.fire_action)
            reward += fire_reward
        self._lives = now
        return observation, reward, terminated, truncated, info


def save_env_state(env):
    """The env's whole state at any step, as plain data (bytes, arrays, JSON-able values).

    ALE's emulator state with its RNG (sticky actions) and the env's numpy RNG (no-op starts, a
    random frame skip) are all the next game depends on between games. In the middle of a game
    the wrappers' own fields count too: `AtariPreprocessing`'s two max-pool frames (a step that
    ends the game early returns the max with the previous step's frame), its lives and game-over
    flags, `FireOnLifeStart`'s lives, and the last action ALE was given (`RecordLastAction`:
    sticky actions repeat it, and ALE's state does not hold it). Checkpoints written before mid-game saves existed hold
    no ``wrappers`` entry: they were taken between games, where a reset sets every field."""
    atari = env.unwrapped
    ale_state = atari.ale.cloneState(include_rng=True).serialize()
    wrappers = {}
    for wrapper in _wrappers(env):
        if isinstance(wrapper, AtariPreprocessing):
            wrappers["preprocessing"] = {"lives": int(wrapper.lives), "game_over": bool(wrapper.game_over),
                                         "obs_buffer": [frame.copy() for frame in wrapper.obs_buffer]}
        elif isinstance(wrapper, FireOnLifeStart):
            wrappers["fire_on_life_start"] = {"lives": int(wrapper._lives)}
        elif isinstance(wrapper, RecordLastAction):
            wrappers["last_action"] = wrapper.last_action
    return {"ale_state": ale_state, "np_random": atari.np_random.bit_generator.state, "wrappers": wrappers}


def restore_env_state(env, saved, seed):
    """Undo `save_env_state` on a freshly made env (which is reset once to load its ROM)."""
    env.reset(seed=seed)
    atari = env.unwrapped
    wrappers = saved.get("wrappers") or {}
    if wrappers.get("last_action"):
        # The sticky previous action lives in ALE outside its saved state: one act() sets it, and
        # restoreState below puts back everything else (screen, RAM, frame count, RNG).
        atari.ale.act(atari._action_set[wrappers["last_action"]])
    atari.ale.restoreState(ale_py.ALEState(saved["ale_state"]))
    atari.np_random.bit_generator.state = saved["np_random"]
    for wrapper in _wrappers(env):
        if isinstance(wrapper, AtariPreprocessing) and "preprocessing" in wrappers:
            state = wrappers["preprocessing"]
            wrapper.lives, wrapper.game_over = state["lives"], state["game_over"]
            for frame, kept in zip(wrapper.obs_buffer, state["obs_buffer"]):
                frame[...] = kept
        elif isinstance(wrapper, FireOnLifeStart) and "fire_on_life_start" in wrappers:
            wrapper._lives = wrappers["fire_on_life_start"]["lives"]
        elif isinstance(wrapper, RecordLastAction):
            wrapper.last_action = wrappers.get("last_action", 0)


def _wrappers(env):
    """`env` and every wrapper below it, outermost first."""
    while True:
        yield env
        if not hasattr(env, "env"):
            return
        env = env.env
