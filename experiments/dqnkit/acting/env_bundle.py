"""The actor's part of a checkpoint under the names it has on disk: each env's state and game in
progress (``LocalActor`` saves them here; in an actor process, that process does), and with
several envs the weights the next vector step acts with (``acting_###``).

Names: env 0's items carry plain names (``ale_state``, ``env_wrappers``, ``game_observation``,
...), exactly as in checkpoints of runs with one env; env i > 0's items carry the same names
prefixed ``env<i>_``.
"""
import copy

import numpy as np

from dqnkit.envs import ale


def _named(i):
    return (lambda name: name) if i == 0 else (lambda name: f"env{i}_{name}")


def game_key(i):
    """The state key of env i's game in progress."""
    return _named(i)("game")


def saved_games(state, num_envs):
    """Each env's game in progress in a checkpoint's JSON state (score, length, losses so far), or
    None between games: what the runner needs without the envs themselves."""
    return [state.get(game_key(i)) for i in range(num_envs)]


def with_learner_tallies(state, tallies):
    """`state` (a `save_envs` JSON state made in the actor process, which does not see the train
    steps) with each game in progress given the losses and mean Q-values the learner tallied:
    `tallies[i]` is env i's (losses, mean_qs)."""
    state = dict(state)
    for i, (losses, mean_qs) in enumerate(tallies):
        key = game_key(i)
        if key in state:
            state[key] = {**state[key], "losses": list(losses), "mean_qs": list(mean_qs)}
    return state


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


def named_acting_weights(weights):
    """The weights the next vector step acts with (several envs; None: one env, none kept) as a
    checkpoint names them."""
    return {f"acting_{k:03d}": value for k, value in enumerate(weights or [])}


def acting_weights(arrays):
    """Undo `named_acting_weights` on a checkpoint's arrays; None if it holds none (one env)."""
    return [arrays[k] for k in sorted(arrays) if k.startswith("acting_")] or None
