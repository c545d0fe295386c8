"""One agent step of a game, as keras-rl2's ``Agent.fit`` takes it: what both ways of playing
share (the training actor's ``Actor`` and keras-rl2's own forward/backward in ``games.Game``).

The life-loss rule: with `terminal_on_life_loss` a lost life ends the *agent's* episode (its
memory records a terminal and its window of frames starts again) while the game goes on, as
baselines' ``EpisodicLifeEnv`` does; the game's end is the env's.
"""
import math
from dataclasses import dataclass, field

from dqnkit.envs import ale


@dataclass
class GameResult:
    score: float = 0.0  # the game's real score (rewards before clipping)
    steps: int = 0  # agent steps
    losses: list = field(default_factory=list)
    mean_qs: list = field(default_factory=list)

    def tally(self, raw_reward, metrics=None, mean_q_index=None):
        """Count one agent step: its real reward and, when it trained (metrics not NaN), its loss
        and mean Q-value."""
        if metrics is not None and not math.isnan(metrics[0]):
            self.losses.append(float(metrics[0]))
            self.mean_qs.append(float(metrics[mean_q_index]))
        self.score += float(raw_reward)
        self.steps += 1


@dataclass
class Transition:
    observation: object  # processed
    raw_reward: float
    game_over: bool  # the env's game ended (terminated or truncated)
    episode_over: bool  # the agent's episode ended: the game, or a lost life with terminal_on_life_loss
    lives: int


def env_step(env, action, processor, lives_before, terminal_on_life_loss):
    """Step `env` with `action` and apply the life-loss rule (see the module docstring)."""
    raw_observation, raw_reward, terminated, truncated, _ = env.step(action)
    game_over = terminated or truncated
    lives_now = ale.lives(env)
    episode_over = game_over or (terminal_on_life_loss and lives_now < lives_before)
    return Transition(processor.process_observation(raw_observation), raw_reward, game_over, episode_over, lives_now)
