"""Which actor a segment plays with: in this process (``LocalActor``) or in a process of its own
(``ActorProcess``, ``actor_process=true``). Both answer the same four calls (``step``,
``prepare_checkpoint``, ``checkpoint_parts``, ``close``), so the runner never asks which one it has."""
from dqnkit.acting.actor_process import ActorProcess
from dqnkit.acting.env_bundle import acting_weights, saved_games
from dqnkit.acting.local_actor import LocalActor


def start_actor(config, agent, learner, processor, start_step, stop_step, schedule, checkpoint=None,
                video_spec=None):
    """The segment's actor, from global step `start_step` to `stop_step`. `checkpoint` is the
    (arrays, state) resumed from (None for a new run): its envs, games in progress and, with several
    envs, the weights its next vector step acts with; `schedule.checkpoint_due(before, after)` tells
    an actor process where to stop for a checkpoint; `video_spec` is (folder, prefix, first
    episode) or None."""
    windows = getattr(agent.memory, "streams", [agent.memory])
    acting = acting_weights(checkpoint[0]) if checkpoint else None
    if not config.actor_process:
        return LocalActor(config, agent, learner, windows, processor, checkpoint=checkpoint,
                          acting_weights=acting, video_spec=video_spec)
    from dqnkit.agent import rngs

    games = saved_games(checkpoint[1], config.num_envs) if checkpoint else [None] * config.num_envs
    return ActorProcess(config, agent, learner, start_step, stop_step, schedule,
                        acting or agent.model.get_weights(), checkpoint, rngs.get_state(), games, video_spec)
