"""The actor in this process: the run's envs, the video of env 0, the acting weights' lag and the
``Actor``, behind the interface the runner uses for both ways of acting (``actor_process.py`` is
the other): ``step``, ``prepare_checkpoint``, ``checkpoint_parts``, ``close``."""
from dqnkit.acting.actor import Actor
from dqnkit.acting.env_bundle import restore_envs, save_envs
from dqnkit.acting.lagged_q_values import LaggedQValues
from dqnkit.agent import rngs
from dqnkit.envs import video
from dqnkit.envs.run_envs import make_run_envs


class LocalActor:
    """Plays the run's envs here, one vector step per `step` call.

    `checkpoint` is the (arrays, state) of the checkpoint resumed from, None for a new run: it
    gives every env's state and game in progress. `acting_weights`: with several envs, the weights
    the first vector step acts with (the checkpoint's; None for a new run: the agent's).
    `video_spec` is (folder, prefix, first episode) or None."""

    def __init__(self, config, agent, learner, windows, processor, *, checkpoint=None, acting_weights=None,
                 video_spec=None):
        self.env_list, seeds = make_run_envs(config, render_first=video_spec is not None)
        self.played = list(self.env_list)
        try:
            games = restore_envs(self.env_list, *checkpoint, seeds) if checkpoint else [None] * config.num_envs
            if video_spec is not None:
                self.played[0] = video.record_episodes(self.env_list[0], *video_spec)
            self.lagged = LaggedQValues(agent, acting_weights) if config.num_envs > 1 else None
            self.actor = Actor(agent, self.played, processor, windows, learner, config.terminal_on_life_loss,
                               q_values=self.lagged, look_ahead=config.num_envs == 1)
            for i, game in enumerate(games):
                if game is not None:
                    self.actor.set_game_state(i, *game)
        except BaseException as error:
            try:
                self.close()  # the envs made so far; the runner never got this actor to close
            except Exception as close_error:  # noqa: BLE001  (the error that stopped us is the one to report)
                error.add_note(f"closing the envs afterwards also failed: {close_error!r}")
            raise

    def step(self, step):
        """One vector step from global step `step`; returns the games it ended (``FinishedGame``)."""
        return self.actor.step(step)

    def prepare_checkpoint(self, step):
        """Every step is one a checkpoint can be taken at, here."""
        return True

    def checkpoint_parts(self, step):
        """(env parts, generator parts, weights the next vector step acts with or None) now."""
        game_states = [self.actor.get_game_state(i) for i in range(self.actor.num_envs)]
        acting = self.lagged.pending_weights() if self.lagged is not None else None
        return save_envs(self.env_list, game_states), rngs.get_state(), acting

    def close(self):
        """Close every env (env 0's recorder writes the video it was recording)."""
        first_error = None
        for env in self.played:
            try:
                env.close()
            except Exception as exc:  # noqa: BLE001  (the others still close; the first error goes on)
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
