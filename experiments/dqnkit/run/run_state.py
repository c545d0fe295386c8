"""What a checkpoint holds besides the replay entries, gathered from each owner's own state.

`bundle` asks each part for its state - the agent (weights, optimizer, step), the memory's
sampler, numpy's and Python's generators, every env (ALE state with its RNG, the wrappers'
fields), every env's game in progress (the actor's) - and adds the run's counters and config;
`unbundle` hands each part its state back. The replay entries are the checkpointer's to write
(``checkpoint.py``), incrementally. With several envs a checkpoint also holds the weights the
next vector step acts with (``acting_###``: the actor's lag, see ``actor.py``).

Names: env 0's items carry plain names (``ale_state``, ``env_wrappers``, ``game_observation``,
...), exactly as in checkpoints of runs with one env; env i > 0's items carry the same names
prefixed ``env<i>_``.
"""
import copy

import numpy as np

from dqnkit import configs
from dqnkit.envs import ale
from dqnkit.agent import rngs


def _named(i):
    return (lambda name: name) if i == 0 else (lambda name: f"env{i}_{name}")


def game_key(i):
    """The state key of env i's game in progress."""
    return _named(i)("game")


def saved_games(state, num_envs):
    """Each env's game in progress in a checkpoint's JSON state (score, length, losses so far), or
    None between games: what the runner needs without the envs themselves."""
    return [state.get(game_key(i)) for i in range(num_envs)]


def save_envs(env_list, game_states=None):
    """Every env's state and game in progress as (arrays, JSON state), named as a checkpoint names
    them. `game_states[i]` is env i's game as ``Actor.get_game_state`` gives it (None between games)."""
    game_states = game_states or [None] * len(env_list)
    arrays, state = {}, {}
    for i, (env, game) in enumerate(zip(env_list, game_states)):
        name = _named(i)
        env_state = ale.save_env_state(env)
        arrays[name("ale_state")] = np.frombuffer(env_state["ale_state"], dtype=np.uint8)
        wrappers = env_state["wrappers"]
        if "preprocessing" in wrappers:  # its two max-pool frames are arrays; the rest is JSON
            for k, frame in enumerate(wrappers["preprocessing"].pop("obs_buffer")):
                arrays[name(f"env_obs_buffer_{k}")] = frame
        state[name("env_np_random")], state[name("env_wrappers")] = env_state["np_random"], wrappers
        if game is not None:
            game_arrays, state[name("game")] = game
            arrays.update({name(f"game_{key}"): value for key, value in game_arrays.items()})
    return arrays, state


def restore_envs(env_list, arrays, state, env_seeds):
    """Undo `save_envs` on fresh envs; `env_seeds[i]` is env i's seed (each env is reset once with
    it to load its ROM). Returns each env's game state (arrays, JSON) as ``Actor.set_game_state``
    takes it, None where no game was in progress."""
    games = []
    for i, (env, seed) in enumerate(zip(env_list, env_seeds)):
        name = _named(i)
        wrappers = copy.deepcopy(state.get(name("env_wrappers"), {}))
        if "preprocessing" in wrappers:
            buffer_prefix = name("env_obs_buffer_")
            wrappers["preprocessing"]["obs_buffer"] = [arrays[k] for k in sorted(arrays) if k.startswith(buffer_prefix)]
        ale.restore_env_state(env, {"ale_state": arrays[name("ale_state")].tobytes(),
                                     "np_random": state[name("env_np_random")], "wrappers": wrappers}, seed)
        game_prefix = name("game_")
        games.append(({k[len(game_prefix):]: v for k, v in arrays.items() if k.startswith(game_prefix)},
                      state[name("game")]) if name("game") in state else None)
    return games


def bundle(agent, env_list, config, step, episode, game_states=None, acting_weights=None, env_parts=None,
           rng_parts=None):
    """A checkpoint's (arrays, JSON state). `env_list` is the run's envs (or its one env) and
    `game_states` their games (see `save_envs`); an actor process gives its envs' and generators'
    states instead, as `env_parts` and `rng_parts`. `acting_weights`: the weights the next vector
    step acts with, with several envs (``actor.LaggedQValues``)."""
    if env_parts is None:
        env_list = env_list if isinstance(env_list, (list, tuple)) else [env_list]
        env_parts = save_envs(env_list, game_states)
    agent_arrays, _ = agent.get_state()  # its step is the run's `step`, saved below
    rng_arrays, rng_state = rng_parts or rngs.get_state()
    arrays = {**agent_arrays, **rng_arrays, **env_parts[0]}
    state = {"step": step, "episode": episode, **rng_state, "memory_rng": agent.memory.get_state()["rng"],
             "config": configs.to_dict(config), **env_parts[1]}
    for k, value in enumerate(acting_weights or []):
        arrays[f"acting_{k:03d}"] = value
    return arrays, state


def unbundle(agent, env_list, arrays, state, env_seeds):
    """Give each owner back its part of a checkpoint made by `bundle` (with `env_list` None, the
    envs are an actor process's: `restore_envs` runs there). Returns the envs' game states (see
    `restore_envs`; None without envs)."""
    agent.set_state(arrays, {"step": state["step"]})
    rngs.set_state(arrays, state)
    agent.memory.set_state({"rng": state["memory_rng"]})
    if env_list is None:
        return None
    env_list = env_list if isinstance(env_list, (list, tuple)) else [env_list]
    env_seeds = env_seeds if isinstance(env_seeds, (list, tuple)) else [env_seeds]
    return restore_envs(env_list, arrays, state, env_seeds)


def acting_weights(arrays):
    """The weights the next vector step acts with, if the checkpoint holds them (several envs)."""
    return [arrays[k] for k in sorted(arrays) if k.startswith("acting_")] or None
