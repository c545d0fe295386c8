"""Real ALE frames and transitions for tests (Breakout, random play, fixed seed)."""
import numpy as np

from dqnkit.envs import ale


def breakout_frames(count=300, seed=0):
    env = ale.make_env("BreakoutDeterministic-v4")
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames = [obs]
    while len(frames) < count:
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(4)))
        frames.append(obs)
        if terminated or truncated:
            obs, _ = env.reset()
            frames.append(obs)
    env.close()
    return frames[:count]


def breakout_transitions(count, processor, seed=0):
    """(observation, action, reward, terminal) appends as keras-rl2's fit loop makes them,
    including the extra (terminal observation, action, 0, False) append at each episode end."""
    env = ale.make_env("BreakoutDeterministic-v4")
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    obs = processor.process_observation(obs)
    out = []
    while len(out) < count:
        action = int(rng.integers(4))
        raw, reward, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
        out.append((obs, action, processor.process_reward(reward), done))
        obs = processor.process_observation(raw)
        if done:
            out.append((obs, int(rng.integers(4)), 0.0, False))
            raw, _ = env.reset()
            obs = processor.process_observation(raw)
    env.close()
    return out[:count]
