"""Evaluations during training: games at the test epsilon on an env of their own, eval.jsonl,
and best_weights.h5.

An evaluation plays on its own env with a seed derived from the run's seed and the step, and
puts the global RNGs back afterwards: it changes nothing in training, and a resumed run repeats
an evaluation it lost exactly.
"""
import numpy as np

from dqnkit.envs import ale
from dqnkit.agent import rngs
from dqnkit.reporting import runlog
from dqnkit.acting.games import build_player, play_game
from dqnkit.run.weights_io import save_weights_atomic


def evaluation_seed(seed, step):
    """The seed of the evaluation at `step`: from the run's seed and the step, nothing else."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


def evaluate(player, env, processor, config, step, episodes):
    """Play `episodes` games at epsilon_test on `env` (seeded from the run's seed and `step`).

    The training streams are untouched: numpy's and Python's global RNGs are put back as they
    were, and the env is not the training env. Returns the record for eval.jsonl."""
    saved = rngs.get_state()
    seed = evaluation_seed(config.seed, step)
    np.random.seed(seed)
    env.reset(seed=seed)
    try:
        scores = [play_game(player, env, processor, config.terminal_on_life_loss).score for _ in range(episodes)]
    finally:
        rngs.set_state(*saved)
    return {"step": step, "mean": float(np.mean(scores)), "std": float(np.std(scores)), "min": float(np.min(scores)),
            "max": float(np.max(scores)), "episodes": episodes, "scores": scores}


class Evaluator:
    """The evaluations of one segment: a player and an env of their own (made at the first
    evaluation), eval.jsonl, best_weights.h5 whenever an evaluation beats every earlier one, and
    the count of evaluations since then (`since_best`, for `eval_patience`)."""

    def __init__(self, config, folder, nb_actions, processor):
        self.config, self.folder, self.nb_actions, self.processor = config, folder, nb_actions, processor
        self.best, self.since_best = runlog.since_best(runlog.read_log(folder.eval_log_path))
        self.log = runlog.JsonlAppender(folder.eval_log_path)
        self.player = self.env = None

    def __call__(self, agent, step):
        if self.player is None:
            self.player, self.env = build_player(self.config, self.nb_actions), ale.make_config_env(self.config)
        self.player.model.set_weights(agent.model.get_weights())
        result = evaluate(self.player, self.env, self.processor, self.config, step, self.config.eval_episodes)
        self.log.write(result)
        if self.best is None or result["mean"] > self.best["mean"]:
            self.best, self.since_best = result, 0
            save_weights_atomic(agent, self.folder.best_weights_path)
        else:
            self.since_best += 1
        return result

    @property
    def patience_spent(self):
        return runlog.patience_spent(self.config, self.since_best)

    def close(self):
        self.log.close()
        if self.env is not None:
            self.env.close()
