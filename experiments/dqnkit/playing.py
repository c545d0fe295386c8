"""Playing whole games with an agent: test mode (``--mode test``), the evaluation's games, and
keras-rl2's own one-env step (``Game``) that the training actor is checked against.

``Game`` drives the agent through keras-rl2's ``forward``/``backward``, one agent step at a time;
``play_game`` plays one game with it; ``test`` plays a trained agent's games, with videos.
Training itself plays through ``actor.Actor`` (N envs, batched greedy actions).
"""
import math
import os
from dataclasses import dataclass

import numpy as np

from dqnkit import envs, video
from dqnkit.actor import GameResult
from dqnkit.agent import build_agent
from dqnkit.memory import RingMemory
from dqnkit.rngs import make_deterministic
from dqnkit.weights_io import load_weights_checked
from processors import AtariProcessor


@dataclass
class TestResult:
    scores: list
    videos: list
    weights: str

    @property
    def mean(self):
        return float(np.mean(self.scores))

    @property
    def std(self):
        return float(np.std(self.scores))

def test(config, weights_path, video_dir, episodes=None, stream=None, record_video=True):
    """Play `episodes` games with the test epsilon and the config's preprocessing; print each
    score and the mean; one mp4 per game."""
    episodes = config.test_episodes if episodes is None else int(episodes)
    make_deterministic(config.seed)
    env = envs.make_config_env(config, render_mode="rgb_array" if record_video else None)
    env.reset(seed=config.seed)
    agent = build_player(config, env.action_space.n)
    load_weights_checked(agent, weights_path, config.env_name)
    processor = AtariProcessor()
    prefix = None
    if record_video:
        prefix = _next_test_prefix(video_dir)
        # Numbered from 1 like the console's "Episode N" lines, so test-001-episode-1.mp4 is the first game.
        env = video.record_episodes(env, video_dir, prefix, first_episode=1, trigger=lambda _: True)
    scores = []
    try:
        for episode in range(episodes):
            scores.append(play_game(agent, env, processor, config.terminal_on_life_loss).score)
            video.finish_episode_video(env)
            print(f"Episode {episode + 1}: score {scores[-1]:g}", file=stream, flush=True)
    finally:
        env.close()
    result = TestResult(scores=scores, weights=weights_path,
                        videos=[os.path.join(video_dir, f"{prefix}-episode-{i}.mp4") for i in range(1, episodes + 1)] if prefix else [])
    print(f"Mean score over {episodes} episodes: {result.mean:.2f} +/- {result.std:.2f} (std)", file=stream, flush=True)
    if result.videos:
        last = f" to {os.path.basename(result.videos[-1])}" if len(result.videos) > 1 else ""
        print(f"Videos: {result.videos[0]}{last}", file=stream, flush=True)
    return result


def _next_test_prefix(video_dir):
    """test-001, test-002, ...: each test invocation gets its own video names."""
    existing = [name for name in os.listdir(video_dir) if name.startswith("test-")] if os.path.isdir(video_dir) else []
    numbers = [int(name[5:8]) for name in existing if name[5:8].isdigit()]
    return f"test-{max(numbers, default=0) + 1:03d}"


class Game:
    """One whole game, stepped the way keras-rl2's ``Agent.fit`` (``agent.training``) or
    ``Agent.test`` steps an episode, one agent step per `step` call, through the agent's own
    ``forward`` and ``backward``.

    With `terminal_on_life_loss` every lost life ends the *agent's* episode - its memory records
    a terminal and its window of frames starts again - while the game goes on."""

    def __init__(self, agent, env, processor, terminal_on_life_loss=False):
        self.agent, self.env, self.processor = agent, env, processor
        self.terminal_on_life_loss = terminal_on_life_loss
        self.result = GameResult(score=0.0, steps=0, losses=[], mean_qs=[])
        self.observation = None
        self.lives_left = 0
        self._mean_q_index = agent.metrics_names.index("mean_q") if agent.training else None

    def start(self):
        self.agent.reset_states()
        observation, _ = self.env.reset()
        self.observation = self.processor.process_observation(observation)
        self.lives_left = envs.lives(self.env)
        return self

    def step(self, step=0):
        """Play one agent step; `step` is the global step count before it (training sets
        ``agent.step`` from it). Returns True when the game is over."""
        agent = self.agent
        if agent.training:
            agent.step = step
        action = agent.forward(self.observation)
        raw_observation, raw_reward, terminated, truncated, _ = self.env.step(action)
        observation = self.processor.process_observation(raw_observation)
        game_over = terminated or truncated
        lives_now = envs.lives(self.env)
        life_lost, self.lives_left = lives_now < self.lives_left, lives_now
        episode_over = game_over or (self.terminal_on_life_loss and life_lost)
        metrics = agent.backward(self.processor.process_reward(raw_reward), terminal=episode_over)
        if agent.training and not math.isnan(metrics[0]):
            self.result.losses.append(float(metrics[0]))
            self.result.mean_qs.append(float(metrics[self._mean_q_index]))
        self.result.score += float(raw_reward)
        self.result.steps += 1
        if episode_over:
            # As in Agent.fit: one more forward/backward so the last observation enters the memory.
            if agent.training:
                agent.step = step + 1
            agent.forward(observation)
            agent.backward(0.0, terminal=False)
            if not game_over:
                agent.reset_states()
        self.observation = observation
        return game_over


def play_game(agent, env, processor, terminal_on_life_loss=False, step=0):
    """Play one whole game from ``env.reset()`` to its end (in training, from global step `step`).
    Returns its `GameResult`."""
    game = Game(agent, env, processor, terminal_on_life_loss).start()
    while not game.step(step):
        step += 1
    return game.result


def build_player(config, nb_actions):
    """An agent that only plays (test mode, evaluation): a window of recent frames, no replay."""
    window_only = RingMemory(limit=1, window_length=config.window_length)
    agent = build_agent(config, nb_actions, memory=window_only)
    agent.training = False
    return agent
