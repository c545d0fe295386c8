"""Test mode (``--mode test``, ``nb.watch``): a trained agent's games at the test epsilon,
one mp4 each, the scores and their mean. The games themselves are ``acting/games.py``'s."""
import os
from dataclasses import dataclass

import numpy as np

from dqnkit.acting.games import build_player, play_game
from dqnkit.agent.rngs import make_deterministic
from dqnkit.envs import ale, video
from dqnkit.run.weights_io import load_weights_checked
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
    env = ale.make_config_env(config, render_mode="rgb_array" if record_video else None)
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
