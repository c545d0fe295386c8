"""What a checkpoint holds besides the replay entries, gathered from each owner's own state
(as Dopamine's agents ``bundle_and_checkpoint`` and ``unbundle``).

`bundle` takes the agent's state (weights, optimizer), the memory sampler's, the generators', and
the actor's part (every env's ALE state and wrappers, every game in progress, the weights the next
vector step acts with: ``acting/``), and adds the run's counters and config; `unbundle` hands the
agent, the memory and the generators their state back. The replay entries are the
checkpointer's to write (``checkpoint.py``), incrementally.
"""

from dqnkit import configs
from dqnkit.acting.env_bundle import named_acting_weights
from dqnkit.agent import rngs


def bundle(agent, config, step, episode, env_parts, rng_parts=None, acting_weights=None):
    """A checkpoint's (arrays, JSON state): the agent's (weights, optimizer), the memory sampler's
    and the generators' states, the run's counters and config, and the actor's part: `env_parts`
    (``acting.env_bundle.save_envs``), `rng_parts` (the generators that drew its actions, this
    process's by default) and `acting_weights` (the weights the next vector step acts with, with
    several envs: ``acting.env_bundle`` names them)."""
    agent_arrays, _ = agent.get_state()  # its step is the run's `step`, saved below
    rng_arrays, rng_state = rng_parts or rngs.get_state()
    arrays = {**agent_arrays, **rng_arrays, **env_parts[0]}
    state = {"step": step, "episode": episode, **rng_state, "memory_rng": agent.memory.get_state()["rng"],
             "config": configs.to_dict(config), **env_parts[1]}
    arrays.update(named_acting_weights(acting_weights))
    return arrays, state


def unbundle(agent, arrays, state):
    """Give the agent, its memory's sampler and this process's generators back their part of a
    checkpoint made by `bundle` (the envs' part is the actor's: ``env_bundle.restore_envs``)."""
    agent.set_state(arrays, {"step": state["step"]})
    rngs.set_state(arrays, state)
    agent.memory.set_state({"rng": state["memory_rng"]})

